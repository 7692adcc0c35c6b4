package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// groupColumns are the columns scanGroup reads.
const groupColumns = `name, description, permissions, require_two_factor`

// scanGroup reads a row of groupColumns.
func scanGroup(row pgx.Row) (*gatehouse.Group, error) {
	var g gatehouse.Group
	if err := row.Scan(&g.Name, &g.Description, &g.Permissions, &g.RequireTwoFactor); err != nil {
		return nil, err
	}
	return &g, nil
}

// validateGroup checks what the schema requires of a group, so that a bad
// group is a CodeValidation error rather than an internal constraint failure.
func validateGroup(g *gatehouse.Group) error {
	if g.Name == "" {
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: "The group is not valid.",
			Fields:  map[string]string{"name": "The name is required."},
		}
	}
	return nil
}

// permissions returns the permissions of g as the schema stores them:
// never nil, since pgx sends a nil slice as NULL.
func permissions(g *gatehouse.Group) []string {
	if g.Permissions == nil {
		return []string{}
	}
	return g.Permissions
}

// Groups returns every group, sorted by name.
func (s *Store) Groups(ctx context.Context) ([]*gatehouse.Group, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+groupColumns+` FROM groups ORDER BY name`)
	if err != nil {
		return nil, s.internal("groups", err)
	}
	groups, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gatehouse.Group, error) { return scanGroup(row) })
	if err != nil {
		return nil, s.internal("groups", err)
	}
	return groups, nil
}

// Group returns the group named name, compared case-sensitively, or
// gatehouse.ErrNotFound.
func (s *Store) Group(ctx context.Context, name string) (*gatehouse.Group, error) {
	g, err := scanGroup(s.pool.QueryRow(ctx, `SELECT `+groupColumns+` FROM groups WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("group", err)
	}
	return g, nil
}

// CreateGroup stores the new group g. A group without a name is a
// CodeValidation error; one whose name is taken is CodeConflict.
func (s *Store) CreateGroup(ctx context.Context, g *gatehouse.Group) error {
	if err := validateGroup(g); err != nil {
		return err
	}
	const q = `INSERT INTO groups (` + groupColumns + `) VALUES ($1, $2, $3, $4)`
	_, err := s.pool.Exec(ctx, q, g.Name, g.Description, permissions(g), g.RequireTwoFactor)
	if isUniqueViolation(err) {
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "A group with that name already exists.", Err: err}
	}
	return s.internal("create group", err)
}

// PutGroup creates group g or replaces its description, permissions and
// second-factor requirement. Its members stay members.
func (s *Store) PutGroup(ctx context.Context, g *gatehouse.Group) error {
	if err := validateGroup(g); err != nil {
		return err
	}
	const q = `INSERT INTO groups (` + groupColumns + `) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, permissions = excluded.permissions,
			require_two_factor = excluded.require_two_factor`
	if _, err := s.pool.Exec(ctx, q, g.Name, g.Description, permissions(g), g.RequireTwoFactor); err != nil {
		return s.internal("put group", err)
	}
	return nil
}

// DeleteGroup removes the group named name, or returns gatehouse.ErrNotFound;
// the foreign key removes its memberships in the same statement.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	return s.updateOne(ctx, "delete group", `DELETE FROM groups WHERE name = $1`, name)
}

// GroupMembers returns the ids of the members of the group named name,
// sorted, or gatehouse.ErrNotFound when there is no such group. A group
// without members has nil.
func (s *Store) GroupMembers(ctx context.Context, name string) ([]string, error) {
	// One statement, so that the group and its members are read at once:
	// the group's row tells a missing group from an empty one.
	const q = `SELECT ARRAY(SELECT user_id FROM user_groups WHERE group_name = groups.name ORDER BY user_id)
		FROM groups WHERE name = $1`
	var ids []string
	err := s.pool.QueryRow(ctx, q, name).Scan(&ids)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("group members", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// groupColumns are the columns scanGroup reads.
const groupColumns = `name, description, permissions, require_two_factor`

// scanGroup reads a row of groupColumns.
func scanGroup(sc scanner) (*gatehouse.Group, error) {
	var (
		g     gatehouse.Group
		perms string
	)
	if err := sc.Scan(&g.Name, &g.Description, &perms, &g.RequireTwoFactor); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(perms), &g.Permissions); err != nil {
		return nil, fmt.Errorf("permissions of group %q: %w", g.Name, err)
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

// jsonArray returns strs as the JSON array the schema stores: "[]", not
// "null", when strs is nil.
func jsonArray(strs []string) (string, error) {
	if strs == nil {
		strs = []string{}
	}
	b, err := json.Marshal(strs)
	return string(b), err
}

// Groups returns every group, sorted by name.
func (s *Store) Groups(ctx context.Context) ([]*gatehouse.Group, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+groupColumns+` FROM groups ORDER BY name`)
	if err != nil {
		return nil, s.internal("groups", err)
	}
	defer rows.Close()
	var groups []*gatehouse.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, s.internal("groups", err)
		}
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.internal("groups", err)
	}
	return groups, nil
}

// Group returns the group named name, compared case-sensitively, or
// gatehouse.ErrNotFound.
func (s *Store) Group(ctx context.Context, name string) (*gatehouse.Group, error) {
	g, err := scanGroup(s.reader.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
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
	perms, err := jsonArray(g.Permissions)
	if err != nil {
		return s.internal("create group", err)
	}
	const q = `INSERT INTO groups (` + groupColumns + `) VALUES (?, ?, ?, ?)`
	_, err = s.writer.ExecContext(ctx, q, g.Name, g.Description, perms, g.RequireTwoFactor)
	if isUniqueViolation(err) {
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "A group with that name already exists.", Err: err}
	}
	return s.internal("create group", err)
}

// PutGroup creates group g or replaces its description and permissions. Its
// members stay members.
func (s *Store) PutGroup(ctx context.Context, g *gatehouse.Group) error {
	if err := validateGroup(g); err != nil {
		return err
	}
	perms, err := jsonArray(g.Permissions)
	if err != nil {
		return s.internal("put group", err)
	}
	// An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first,
	// and the foreign key would delete every membership of the group with it.
	const q = `INSERT INTO groups (` + groupColumns + `) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, permissions = excluded.permissions,
			require_two_factor = excluded.require_two_factor`
	if _, err := s.writer.ExecContext(ctx, q, g.Name, g.Description, perms, g.RequireTwoFactor); err != nil {
		return s.internal("put group", err)
	}
	return nil
}

// DeleteGroup removes the group named name, or returns gatehouse.ErrNotFound;
// the foreign key removes its memberships in the same statement.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	return s.updateOne(ctx, "delete group", `DELETE FROM groups WHERE name = ?`, name)
}

// GroupMembers returns the ids of the members of the group named name,
// sorted, or gatehouse.ErrNotFound when there is no such group. A group
// without members has nil.
func (s *Store) GroupMembers(ctx context.Context, name string) ([]string, error) {
	// One statement, so that the group and its members are read at once:
	// the group's row tells a missing group from an empty one.
	const q = `SELECT (SELECT json_group_array(user_id ORDER BY user_id) FROM user_groups WHERE group_name = groups.name)
		FROM groups WHERE name = ?`
	var members string
	err := s.reader.QueryRowContext(ctx, q, name).Scan(&members)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("group members", err)
	}
	if members == "[]" {
		return nil, nil
	}
	var ids []string
	if err := json.Unmarshal([]byte(members), &ids); err != nil {
		return nil, s.internal("group members", fmt.Errorf("members of group %q: %w", name, err))
	}
	return ids, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse"
)

// userColumns are the columns scanUser reads. The last one is the user's
// groups, sorted, so that one query returns a whole user.
const userColumns = `id, username, email, name, state, password_hash, security_stamp,
	email_confirmed, created_at, updated_at, last_login_at, version,
	ARRAY(SELECT group_name FROM user_groups WHERE user_id = users.id ORDER BY group_name)`

// scanUser reads a row of userColumns.
func scanUser(row pgx.Row) (*gatehouse.User, error) {
	var (
		u                gatehouse.User
		state            string
		created, updated time.Time
		lastLogin        pgtype.Timestamptz
	)
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Name, &state, &u.PasswordHash, &u.SecurityStamp,
		&u.EmailConfirmed, &created, &updated, &lastLogin, &u.Version, &u.Groups)
	if err != nil {
		return nil, err
	}
	u.State = gatehouse.UserState(state)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = created.UTC(), updated.UTC(), fromNullTime(lastLogin)
	if len(u.Groups) == 0 {
		u.Groups = nil
	}
	return &u, nil
}

// errUserConflict is the message of every username or email conflict. It
// does not say which of the two is taken; the account layer, which knows
// whether the caller may learn that, can check with UserByLogin.
const errUserConflict = "A user with that username or email already exists."

// conflict returns the CodeConflict error of a taken username or email.
func conflict(cause error) error {
	return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: errUserConflict, Err: cause}
}

// validateUser checks what the schema requires of a user, so that a bad
// user is a CodeValidation error naming the fields rather than an internal
// constraint failure.
func validateUser(u *gatehouse.User) error {
	fields := map[string]string{}
	if u.ID == "" {
		fields["id"] = "The id is required."
	}
	if u.Username == "" {
		fields["username"] = "The username is required."
	}
	if u.Email == "" {
		fields["email"] = "The email is required."
	}
	if !u.State.Valid() {
		fields["state"] = "The state must be invited, active or disabled."
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The user is not valid.", Fields: fields}
	}
	return nil
}

// userGroups returns the groups of u sorted and without duplicates, which
// would otherwise violate the primary key of user_groups. Never nil: pgx
// sends a nil slice as NULL.
func userGroups(u *gatehouse.User) []string {
	groups := slices.Clone(u.Groups)
	slices.Sort(groups)
	return append([]string{}, slices.Compact(groups)...)
}

// usersLockKey is the key of the transaction-level advisory lock that
// every write of a username or email holds ("gh-users" in ASCII). The
// unique indexes keep two users from sharing a username or an email, but
// not one user's username from equalling another's email; checking that
// and writing under one lock makes the check and the write atomic across
// every process. Users are written rarely, so one lock costs nothing.
const usersLockKey int64 = 0x67682d7573657273

// lockUsers takes usersLockKey until tx ends.
func lockUsers(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, usersLockKey)
	return err
}

// checkConflict returns a CodeConflict error when a user other than id has
// a username or an email whose key is usernameKey or emailKey. It runs
// under lockUsers, so no other writer can create the conflict between this
// check and the write.
func checkConflict(ctx context.Context, tx pgx.Tx, id, usernameKey, emailKey string) error {
	const q = `SELECT 1 FROM users
		WHERE id <> $1 AND (username_key IN ($2, $3) OR email_key IN ($2, $3))
		LIMIT 1`
	var one int
	switch err := tx.QueryRow(ctx, q, id, usernameKey, emailKey).Scan(&one); {
	case err == nil:
		return conflict(errors.New("username or email taken by another user"))
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	default:
		return err
	}
}

// lockGroups returns a CodeValidation error when a group does not exist.
// It locks the groups it finds (FOR KEY SHARE, as the foreign key would),
// so that none is deleted before tx ends: the memberships written next
// cannot fail on the foreign key.
func lockGroups(ctx context.Context, tx pgx.Tx, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT name FROM groups WHERE name = ANY($1) FOR KEY SHARE`, groups)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var unknown []string
	for _, g := range groups {
		if !slices.Contains(found, g) {
			unknown = append(unknown, fmt.Sprintf("%q", g))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	return &gatehouse.Error{
		Code:    gatehouse.CodeValidation,
		Message: "The user is not valid.",
		Fields:  map[string]string{"groups": "No such group: " + strings.Join(unknown, ", ") + "."},
	}
}

// insertGroups adds user id to groups.
func insertGroups(ctx context.Context, tx pgx.Tx, id string, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO user_groups (user_id, group_name) SELECT $1, unnest($2::text[])`, id, groups)
	return err
}

// CreateUser stores a new user with its groups, which must exist. The
// caller sets every field, including ID (see gatehouse.NewID) and the
// times. A user without ID, username or email, or with an unknown state or
// group, is a CodeValidation error; a username or email taken by another
// user, whichever column it is in, is CodeConflict.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	usernameKey, emailKey := gatehouse.FoldName(u.Username), gatehouse.FoldName(u.Email)
	groups := userGroups(u)
	version := newUserVersion()
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockUsers(ctx, tx); err != nil {
			return err
		}
		if err := checkConflict(ctx, tx, u.ID, usernameKey, emailKey); err != nil {
			return err
		}
		if err := lockGroups(ctx, tx, groups); err != nil {
			return err
		}
		const q = `INSERT INTO users (id, username, username_key, email, email_key, name, name_key,
			state, password_hash, security_stamp, email_confirmed, created_at, updated_at, last_login_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
		_, err := tx.Exec(ctx, q, u.ID, u.Username, usernameKey, u.Email, emailKey, u.Name, gatehouse.FoldName(u.Name),
			string(u.State), u.PasswordHash, u.SecurityStamp, u.EmailConfirmed,
			pgTime(u.CreatedAt), pgTime(u.UpdatedAt), nullTime(u.LastLoginAt), version)
		if isUniqueViolation(err) {
			// Only a duplicate ID can get here, the check above having
			// covered usernames and emails; keep it a conflict anyway.
			return conflict(err)
		}
		if err != nil {
			return err
		}
		return insertGroups(ctx, tx, u.ID, groups)
	})
	if err == nil {
		u.Version = version
	}
	return s.internal("create user", err)
}

// UserByID returns the user with that id, or gatehouse.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("user by id", err)
	}
	return u, nil
}

// UserByLogin returns the user whose username or email equals login under
// Unicode case folding, as strings.EqualFold has it, or gatehouse.ErrNotFound.
func (s *Store) UserByLogin(ctx context.Context, login string) (*gatehouse.User, error) {
	if login == "" {
		return nil, gatehouse.ErrNotFound
	}
	// At most one user matches: checkConflict keeps a username from equalling
	// another user's email.
	const q = `SELECT ` + userColumns + ` FROM users WHERE username_key = $1 OR email_key = $1 LIMIT 1`
	u, err := scanUser(s.pool.QueryRow(ctx, q, gatehouse.FoldName(login)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("user by login", err)
	}
	return u, nil
}

// UpdateUser replaces every field of the stored user u.ID, and its groups,
// with those of u, only if the stored version is still u.Version (a
// compare-and-swap on the row locked FOR UPDATE), and on success sets
// u.Version to the new version. A user changed or deleted since it was
// read is gatehouse.ErrConflict or gatehouse.ErrNotFound, and is left as
// it is; otherwise it fails like CreateUser.
func (s *Store) UpdateUser(ctx context.Context, u *gatehouse.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	usernameKey, emailKey := gatehouse.FoldName(u.Username), gatehouse.FoldName(u.Email)
	groups := userGroups(u)
	version := newUserVersion()
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockUsers(ctx, tx); err != nil {
			return err
		}
		// Checking existence and version first makes a missing user
		// ErrNotFound, and a stale one ErrConflict, even when its new
		// username is taken; FOR UPDATE keeps the row from being changed
		// or deleted before the update.
		var stored int64
		err := tx.QueryRow(ctx, `SELECT version FROM users WHERE id = $1 FOR UPDATE`, u.ID).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return gatehouse.ErrNotFound
		}
		if err != nil {
			return err
		}
		if stored != u.Version {
			return gatehouse.ErrConflict
		}
		if err := checkConflict(ctx, tx, u.ID, usernameKey, emailKey); err != nil {
			return err
		}
		if err := lockGroups(ctx, tx, groups); err != nil {
			return err
		}
		const q = `UPDATE users SET username = $1, username_key = $2, email = $3, email_key = $4, name = $5, name_key = $6,
			state = $7, password_hash = $8, security_stamp = $9, email_confirmed = $10,
			created_at = $11, updated_at = $12, last_login_at = $13, version = $14
			WHERE id = $15`
		_, err = tx.Exec(ctx, q, u.Username, usernameKey, u.Email, emailKey, u.Name, gatehouse.FoldName(u.Name),
			string(u.State), u.PasswordHash, u.SecurityStamp, u.EmailConfirmed,
			pgTime(u.CreatedAt), pgTime(u.UpdatedAt), nullTime(u.LastLoginAt), version,
			u.ID)
		if isUniqueViolation(err) {
			return conflict(err)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM user_groups WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
		return insertGroups(ctx, tx, u.ID, groups)
	})
	if err == nil {
		u.Version = version
	}
	return s.internal("update user", err)
}

// newUserVersion returns a new version for a write of a user: random, so
// that a user deleted and created again under the same id never takes up a
// version a stale writer still holds (a counter would start over), and
// never 0 (none read) or 1 (users created before migration 0002).
func newUserVersion() int64 {
	return 2 + rand.Int64N(math.MaxInt64-1)
}

// SetPasswordHash replaces the password hash of user id, while it is still
// old, and nothing else: not the security stamp, not the update time.
func (s *Store) SetPasswordHash(ctx context.Context, id, old, hash string) error {
	err := s.updateOne(ctx, "set password hash", `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, hash, id, old)
	if errors.Is(err, gatehouse.ErrNotFound) {
		if _, err := s.UserByID(ctx, id); err != nil {
			return err
		}
		return gatehouse.ErrConflict
	}
	return err
}

// RecordLogin sets the last login time of user id.
func (s *Store) RecordLogin(ctx context.Context, id string, at time.Time) error {
	return s.updateOne(ctx, "record login", `UPDATE users SET last_login_at = $1 WHERE id = $2`, nullTime(at), id)
}

// ListUsers returns a page of the users matching f, ordered by username
// without regard to case, and the number of users matching f in all.
func (s *Store) ListUsers(ctx context.Context, f gatehouse.UserFilter) ([]*gatehouse.User, int, error) {
	ctx, cancel := listBound(ctx) // it counts every match (see ListStatementTimeout)
	defer cancel()
	var (
		where []string
		args  []any
	)
	if f.Search != "" {
		// strpos, not LIKE: LIKE would need its wildcards escaped, while
		// the keys are folded already.
		args = append(args, gatehouse.FoldName(f.Search))
		n := len(args)
		where = append(where, fmt.Sprintf(`(strpos(username_key, $%d) > 0 OR strpos(email_key, $%[1]d) > 0 OR strpos(name_key, $%[1]d) > 0)`, n))
	}
	if f.State != "" {
		args = append(args, string(f.State))
		where = append(where, fmt.Sprintf(`state = $%d`, len(args)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	// A NULL limit is no limit.
	var limit *int64
	if f.Limit > 0 {
		l := int64(f.Limit)
		limit = &l
	}
	offset := int64(max(f.Offset, 0))

	var (
		users []*gatehouse.User
		total int
	)
	// One repeatable-read transaction, so the page and the total see the
	// same snapshot.
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users`+cond, args...).Scan(&total); err != nil {
			return err
		}
		q := fmt.Sprintf(`SELECT %s FROM users%s ORDER BY username_key, id LIMIT $%d OFFSET $%d`, userColumns, cond, len(args)+1, len(args)+2)
		rows, err := tx.Query(ctx, q, append(args, limit, offset)...)
		if err != nil {
			return err
		}
		users, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gatehouse.User, error) { return scanUser(row) })
		return err
	})
	if err != nil {
		return nil, 0, s.internal("list users", err)
	}
	return users, total, nil
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, s.internal("count users", err)
	}
	return n, nil
}

// DeleteUser removes user id; the foreign keys remove its group
// memberships in the same statement (and, as the other areas move here,
// its tokens, action tokens, second-factor settings and devices). Its
// audit events stay.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.updateOne(ctx, "delete user", `DELETE FROM users WHERE id = $1`, id)
}

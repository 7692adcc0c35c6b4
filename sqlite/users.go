package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// userColumns are the columns scanUser reads. The last one is the user's
// groups as a sorted JSON array, so that one query returns a whole user.
const userColumns = `id, username, email, name, state, password_hash, security_stamp,
	email_confirmed, created_at, updated_at, last_login_at, version,
	(SELECT json_group_array(group_name ORDER BY group_name) FROM user_groups WHERE user_id = users.id)`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanUser reads a row of userColumns.
func scanUser(sc scanner) (*gatehouse.User, error) {
	var (
		u                gatehouse.User
		state, groups    string
		created, updated int64
		lastLogin        sql.NullInt64
	)
	err := sc.Scan(&u.ID, &u.Username, &u.Email, &u.Name, &state, &u.PasswordHash, &u.SecurityStamp,
		&u.EmailConfirmed, &created, &updated, &lastLogin, &u.Version, &groups)
	if err != nil {
		return nil, err
	}
	u.State = gatehouse.UserState(state)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), fromNullMicros(lastLogin)
	if groups != "[]" {
		if err := json.Unmarshal([]byte(groups), &u.Groups); err != nil {
			return nil, fmt.Errorf("groups of user %s: %w", u.ID, err)
		}
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
// would otherwise violate the primary key of user_groups.
func userGroups(u *gatehouse.User) []string {
	groups := slices.Clone(u.Groups)
	slices.Sort(groups)
	return slices.Compact(groups)
}

// checkConflict returns a CodeConflict error when a user other than id has
// a username or an email whose key is usernameKey or emailKey. The unique
// indexes alone would allow one user's username to equal another's email.
// It runs inside the write transaction, which holds the write lock, so no
// other writer can create the conflict between this check and the write.
func checkConflict(ctx context.Context, tx *sql.Tx, id, usernameKey, emailKey string) error {
	const q = `SELECT 1 FROM users
		WHERE id <> ?1 AND (username_key IN (?2, ?3) OR email_key IN (?2, ?3))
		LIMIT 1`
	var one int
	switch err := tx.QueryRowContext(ctx, q, id, usernameKey, emailKey).Scan(&one); {
	case err == nil:
		return conflict(errors.New("username or email taken by another user"))
	case errors.Is(err, sql.ErrNoRows):
		return nil
	default:
		return err
	}
}

// checkGroups returns a CodeValidation error when a group does not exist.
// The foreign key would reject it too, but without saying which group.
func checkGroups(ctx context.Context, tx *sql.Tx, groups []string) error {
	var unknown []string
	for _, g := range groups {
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM groups WHERE name = ?`, g).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			unknown = append(unknown, fmt.Sprintf("%q", g))
		case err != nil:
			return err
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
func insertGroups(ctx context.Context, tx *sql.Tx, id string, groups []string) error {
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_groups (user_id, group_name) VALUES (?, ?)`, id, g); err != nil {
			return err
		}
	}
	return nil
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
	usernameKey, emailKey := foldKey(u.Username), foldKey(u.Email)
	groups := userGroups(u)
	version := newUserVersion()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := checkConflict(ctx, tx, u.ID, usernameKey, emailKey); err != nil {
			return err
		}
		if err := checkGroups(ctx, tx, groups); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, insertUserSQL, u.ID, u.Username, usernameKey, u.Email, emailKey, u.Name, foldKey(u.Name),
			string(u.State), u.PasswordHash, u.SecurityStamp, u.EmailConfirmed,
			micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LastLoginAt), version)
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
	u, err := scanUser(s.userByID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	const q = `SELECT ` + userColumns + ` FROM users WHERE username_key = ?1 OR email_key = ?1 LIMIT 1`
	u, err := scanUser(s.reader.QueryRowContext(ctx, q, foldKey(login)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("user by login", err)
	}
	return u, nil
}

// UpdateUser replaces every field of the stored user u.ID, and its groups,
// with those of u, only if the stored version is still u.Version (a
// compare-and-swap SQLite applies under its write lock), and on success
// sets u.Version to the new version. A user changed or deleted since it
// was read is gatehouse.ErrConflict or gatehouse.ErrNotFound, and is left
// as it is; otherwise it fails like CreateUser.
func (s *Store) UpdateUser(ctx context.Context, u *gatehouse.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	usernameKey, emailKey := foldKey(u.Username), foldKey(u.Email)
	groups := userGroups(u)
	version := newUserVersion()
	err := s.write(ctx, func(tx *sql.Tx) error {
		const q = `UPDATE users SET username = ?, username_key = ?, email = ?, email_key = ?, name = ?, name_key = ?,
			state = ?, password_hash = ?, security_stamp = ?, email_confirmed = ?,
			created_at = ?, updated_at = ?, last_login_at = ?, version = ?
			WHERE id = ? AND version = ?`
		// Checking existence and version first makes a missing user
		// ErrNotFound, and a stale one ErrConflict, even when its new
		// username is taken.
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM users WHERE id = ?`, u.ID).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
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
		if err := checkGroups(ctx, tx, groups); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, q, u.Username, usernameKey, u.Email, emailKey, u.Name, foldKey(u.Name),
			string(u.State), u.PasswordHash, u.SecurityStamp, u.EmailConfirmed,
			micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LastLoginAt), version,
			u.ID, u.Version)
		if isUniqueViolation(err) {
			return conflict(err)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return gatehouse.ErrConflict
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = ?`, u.ID); err != nil {
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
// version a stale writer still holds, and never 0 (none read) or 1 (users
// of earlier releases, migration 0012).
func newUserVersion() int64 { return newTwoFactorVersion() }

// updateOne runs an UPDATE or DELETE of one row, a user's or a group's, on
// the writer and turns "no row" into gatehouse.ErrNotFound.
func (s *Store) updateOne(ctx context.Context, op, q string, args ...any) error {
	return s.updateOneIn(ctx, s.writer, op, q, args...)
}

// updateOneIn is updateOne on db.
func (s *Store) updateOneIn(ctx context.Context, db execer, op, q string, args ...any) error {
	res, err := db.ExecContext(ctx, q, args...)
	if err != nil {
		return s.internal(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.internal(op, err)
	}
	if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// SetPasswordHash replaces the password hash of user id, while it is still
// old, and nothing else: not the security stamp, not the update time.
func (s *Store) SetPasswordHash(ctx context.Context, id, old, hash string) error {
	err := s.updateOne(ctx, "set password hash", `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`, hash, id, old)
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
	return s.updateOneIn(ctx, s.writer, "record login", recordLoginQuery, nullMicros(at), id)
}

const recordLoginQuery = `UPDATE users SET last_login_at = ? WHERE id = ?`

// ListUsers returns a page of the users matching f, ordered by username
// without regard to case, and the number of users matching f in all.
func (s *Store) ListUsers(ctx context.Context, f gatehouse.UserFilter) ([]*gatehouse.User, int, error) {
	var (
		where []string
		args  []any
	)
	if f.Search != "" {
		// instr, not LIKE: LIKE would need its wildcards escaped and folds
		// ASCII only, while the keys are folded already.
		k := foldKey(f.Search)
		where = append(where, `(instr(username_key, ?) > 0 OR instr(email_key, ?) > 0 OR instr(name_key, ?) > 0)`)
		args = append(args, k, k, k)
	}
	if f.State != "" {
		where = append(where, `state = ?`)
		args = append(args, string(f.State))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	limit, offset := page(f.Offset, f.Limit)

	// One read transaction, so the page and the total agree.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, s.internal("list users", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users`+cond, args...).Scan(&total); err != nil {
		return nil, 0, s.internal("list users", err)
	}
	q := `SELECT ` + userColumns + ` FROM users` + cond + ` ORDER BY username_key, id LIMIT ? OFFSET ?`
	rows, err := tx.QueryContext(ctx, q, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, s.internal("list users", err)
	}
	defer rows.Close()
	var users []*gatehouse.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, s.internal("list users", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.internal("list users", err)
	}
	return users, total, nil
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, s.internal("count users", err)
	}
	return n, nil
}

// DeleteUser removes user id; the foreign keys remove its API tokens,
// action tokens, second-factor settings, devices and group memberships in
// the same statement (and its sessions and pending logins too, though the
// contract does not ask it to: account ends them first). Its audit events
// stay, and so does mail queued to its address.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.updateOne(ctx, "delete user", `DELETE FROM users WHERE id = ?`, id)
}

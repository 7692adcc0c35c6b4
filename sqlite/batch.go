package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.UserBatchCreator = (*Store)(nil)

// insertUserSQL inserts one row of users; CreateUser and CreateUsers share
// its column order.
const insertUserSQL = `INSERT INTO users (id, username, username_key, email, email_key, name, name_key,
	state, password_hash, security_stamp, email_confirmed, created_at, updated_at, last_login_at, version)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// CreateUsers creates users, in order, in one write transaction, which
// makes an import of many users one commit (one fsync) per call instead of
// one per user.
//
// Each user is checked exactly as CreateUser checks it, against the users
// stored before and the users of this call created before it: a user
// without ID, username or email, or with an unknown state or group, is
// refused with CodeValidation, and a username or email equal (under case
// folding) to another user's username or email with CodeConflict. A
// refused user is not written and the others are: the result holds, for
// each user, nil or the *gatehouse.Error that refused it.
//
// When the transaction itself fails (a database error, or ctx ending), no
// user of the call is written and every result is that error.
func (s *Store) CreateUsers(ctx context.Context, users []*gatehouse.User) []error {
	errs := make([]error, len(users))
	if len(users) == 0 {
		return errs
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		b, err := prepareBatch(ctx, tx)
		if err != nil {
			return err
		}
		defer b.close()
		for i, u := range users {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := b.create(ctx, u)
			var ge *gatehouse.Error
			if err != nil && !errors.As(err, &ge) {
				return err // the transaction is in trouble, not the user
			}
			errs[i] = err
		}
		return nil
	})
	if err != nil {
		err = s.internal("create users", err)
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// userBatch is the state of one CreateUsers transaction: its prepared
// statements, and the groups known to exist, which cannot change while the
// transaction holds the write lock.
type userBatch struct {
	conflict, group, ins, mem *sql.Stmt
	groups                    map[string]bool
}

func prepareBatch(ctx context.Context, tx *sql.Tx) (*userBatch, error) {
	b := &userBatch{groups: map[string]bool{}}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = tx.PrepareContext(ctx, q)
		return st
	}
	// The same query as checkConflict.
	b.conflict = prep(`SELECT 1 FROM users
		WHERE id <> ?1 AND (username_key IN (?2, ?3) OR email_key IN (?2, ?3))
		LIMIT 1`)
	b.group = prep(`SELECT 1 FROM groups WHERE name = ?`)
	b.ins = prep(insertUserSQL)
	b.mem = prep(`INSERT INTO user_groups (user_id, group_name) VALUES (?, ?)`)
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *userBatch) close() {
	for _, st := range []*sql.Stmt{b.conflict, b.group, b.ins, b.mem} {
		if st != nil {
			st.Close()
		}
	}
}

// create checks and inserts one user. A *gatehouse.Error refuses the user
// and leaves nothing of it written; any other error is the transaction's.
func (b *userBatch) create(ctx context.Context, u *gatehouse.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	usernameKey, emailKey := foldKey(u.Username), foldKey(u.Email)
	groups := userGroups(u)

	var one int
	switch err := b.conflict.QueryRowContext(ctx, u.ID, usernameKey, emailKey).Scan(&one); {
	case err == nil:
		return conflict(errors.New("username or email taken by another user"))
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	var unknown []string
	for _, g := range groups {
		known, seen := b.groups[g]
		if !seen {
			switch err := b.group.QueryRowContext(ctx, g).Scan(&one); {
			case err == nil:
				known = true
			case errors.Is(err, sql.ErrNoRows):
			default:
				return err
			}
			b.groups[g] = known
		}
		if !known {
			unknown = append(unknown, fmt.Sprintf("%q", g))
		}
	}
	if len(unknown) > 0 {
		// The message of checkGroups.
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: "The user is not valid.",
			Fields:  map[string]string{"groups": "No such group: " + strings.Join(unknown, ", ") + "."},
		}
	}

	// Everything that could refuse the user was checked above. Of the
	// inserts, only the user's own can still fail for the user's sake (a
	// duplicate id), and SQLite backs out a statement that violates a
	// constraint by itself, so a refused user leaves nothing behind. Any
	// other failure is the database's, and rolls the whole transaction
	// back.
	version := newUserVersion()
	_, err := b.ins.ExecContext(ctx, u.ID, u.Username, usernameKey, u.Email, emailKey, u.Name, foldKey(u.Name),
		string(u.State), u.PasswordHash, u.SecurityStamp, u.EmailConfirmed,
		micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LastLoginAt), version)
	if isUniqueViolation(err) {
		// Only a duplicate id can get here; a conflict, as in CreateUser.
		return conflict(err)
	}
	if err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := b.mem.ExecContext(ctx, u.ID, g); err != nil {
			return fmt.Errorf("add user to group: %w", err)
		}
	}
	u.Version = version
	return nil
}

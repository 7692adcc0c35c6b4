package postgres

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// userMissing reports whether err is a violated FOREIGN KEY constraint: in
// this package's tables, a record written for a user that does not exist.
func userMissing(err error) bool { return sqlState(err) == "23503" }

// checkText returns a CodeValidation error with message, naming the fields
// (field name to value) that a text column cannot hold: invalid UTF-8, or
// a NUL byte, which PostgreSQL refuses in any text. Such values come from
// outside (a mail server's reply, a browser's User-Agent); refusing them
// here says which field is wrong, where the INSERT would fail as an
// internal error.
func checkText(message string, fields map[string]string) error {
	bad := map[string]string{}
	for name, v := range fields {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			bad[name] = "The value must be UTF-8 text without NUL characters."
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: message, Fields: bad}
}

// insertForUser runs the INSERT q of a record that belongs to user userID
// by a foreign key, a record of kind what ("device", "pending login"). A
// user that does not exist, or was deleted a moment ago, is
// gatehouse.ErrNotFound; a taken id or token hash is CodeConflict with
// conflictMsg.
func (s *Store) insertForUser(ctx context.Context, what, userID, conflictMsg, q string, args ...any) error {
	_, err := s.pool.Exec(ctx, q, args...)
	switch {
	case err == nil:
		return nil
	case userMissing(err):
		return fmt.Errorf("postgres: create %s: user %s: %w (%w)", what, userID, gatehouse.ErrNotFound, err)
	case isUniqueViolation(err):
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: conflictMsg, Err: err}
	}
	return s.internal("create "+what, err)
}

// rowsChanged runs the UPDATE or DELETE q of operation op and returns how
// many rows it changed.
func (s *Store) rowsChanged(ctx context.Context, op, q string, args ...any) (int, error) {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, s.internal(op, err)
	}
	return int(tag.RowsAffected()), nil
}

// Package mail renders and delivers gatehouse's mail: invitations, password
// reset links, two-factor codes and security notices.
//
// Mail is never sent from a request. [Outbox.Enqueue] renders a message and
// stores it in the outbox (a [gatehouse.OutboxStore]); [Outbox.Run] sends
// what is due through a [Sender] and retries with backoff, so an outage of
// the mail server or a restart of gatehouse loses nothing. Two senders exist:
// [SMTP], which talks to a mail server, and [LogSender], which only logs and
// is meant for development.
//
// Messages hold one-time links and codes. Nothing in this package logs a
// subject, a body or a link, except LogSender, whose whole point is to show
// the operator the link on a development machine.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Sender delivers one message. Send either hands the message over to the
// mail system and returns nil, or returns an error; [IsPermanent] tells
// whether trying again could ever succeed.
type Sender interface {
	Send(ctx context.Context, m *gatehouse.Mail) error
}

// sendError is an error of a delivery attempt, with the step that failed and
// whether trying again could help.
type sendError struct {
	op        string
	err       error
	permanent bool
}

func (e *sendError) Error() string { return "mail: " + e.op + ": " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// IsPermanent reports whether err, from a [Sender], means that the message can
// never be delivered as it is, so that sending it again is pointless: a 5xx
// reply of the mail server to the recipient or to the message itself (an
// unknown mailbox, a message refused as spam), or a message that is not
// valid (a malformed address, a line break in a header).
//
// Everything else is temporary: network errors, timeouts, 4xx replies, and
// also 5xx replies to the greeting, EHLO, AUTH or MAIL FROM, because those
// point at the configuration or the server, not at the message, and the
// queued mail should go out once the operator fixes them.
func IsPermanent(err error) bool {
	var se *sendError
	return errors.As(err, &se) && se.permanent
}

// errInvalid returns the permanent error of a message that is not valid.
func errInvalid(format string, args ...any) error {
	return &sendError{op: "invalid message", err: fmt.Errorf(format, args...), permanent: true}
}

// hasLineBreak reports whether s holds a character that would end a header
// line (or a command line of the SMTP dialogue), which is how header
// injection works.
func hasLineBreak(s string) bool {
	return strings.ContainsAny(s, "\r\n\x00")
}

// parseAddress parses a single RFC 5322 address, such as
// "alice@example.com" or "Alice <alice@example.com>", and refuses line
// breaks, so that the result is safe in a header and an SMTP command.
func parseAddress(s string) (*mail.Address, error) {
	if hasLineBreak(s) {
		return nil, fmt.Errorf("address %q contains a line break", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an address: %s", s, strings.TrimPrefix(err.Error(), "mail: "))
	}
	if hasLineBreak(a.Name) || hasLineBreak(a.Address) {
		return nil, fmt.Errorf("address %q contains a line break", s)
	}
	return a, nil
}

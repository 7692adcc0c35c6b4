// Package sms delivers gatehouse's text messages: for now, two-factor
// sign-in codes.
//
// Two senders exist: [Webhook], which posts each message to an SMS gateway
// over HTTPS (Twilio's Messages API, or a JSON webhook of your own), and
// [LogSender], which only logs and is meant for development. They are the
// "webhook" and "log" values of the sms.driver configuration key.
//
// Messages hold one-time codes, and phone numbers are personal data.
// Nothing in this package logs a message body, and errors and logs show
// phone numbers only through [Mask], which hides all but the last three
// digits; the exception is LogSender, whose whole point is to show the
// operator the code on a development machine.
package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// KindTwoFactorCode is the [Message.Kind] of a message carrying a one-time
// sign-in code.
const KindTwoFactorCode = "two_factor_code"

// MaxBodyLength is the longest [Message.Body], in characters (Unicode code
// points), that a sender accepts. It is Twilio's limit: the gateway splits
// a long text into up to ten segments, which the phone joins again.
const MaxBodyLength = 1600

// Message is one text message.
type Message struct {
	// To is the recipient's phone number in E.164 format, such as
	// "+4915112345678"; see [NormalizePhone].
	To string
	// Body is the text. It holds the one-time code, so it is never logged
	// (except by [LogSender]).
	Body string
	// Kind says what the message is for, such as [KindTwoFactorCode]. It
	// appears in logs and, with the JSON webhook, in the request.
	Kind string
}

// Sender delivers one text message. Send either hands the message over to
// the SMS gateway and returns nil, or returns an error; [IsPermanent] tells
// whether trying again could ever succeed, and [RetryAfter] whether the
// gateway asked to wait before trying again.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// sendError is an error of a delivery attempt, with the step that failed and
// whether trying again could help. Its text never holds the message body or
// a phone number in full.
type sendError struct {
	op        string
	err       error
	permanent bool
	// retryAfter is the wait the gateway asked for with Retry-After, when
	// hasRetryAfter.
	retryAfter    time.Duration
	hasRetryAfter bool
}

func (e *sendError) Error() string { return "sms: " + e.op + ": " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// IsPermanent reports whether err, from a [Sender], means that the message
// can never be delivered as it is, so that sending it again is pointless:
//
//   - a message that is not valid: a recipient that is not an E.164 number
//     (or holds a line break), an empty body, or a body longer than
//     [MaxBodyLength];
//   - a 4xx answer of the gateway other than 408 and 429, such as 400 (the
//     gateway refuses the number or the message) or 404;
//   - 401 and 403 too: the credentials or the URL are wrong, which the
//     operator has to fix in the configuration, and a sign-in code has long
//     expired by then, so retrying this message would only queue up stale
//     codes;
//   - a redirect (3xx), which is never followed: sms.webhook.url must be the
//     final address.
//
// Everything else is temporary: 5xx answers, 408 and 429 (see [RetryAfter]),
// network errors and timeouts. A nil err, or one that did not come from
// this package, is not permanent.
func IsPermanent(err error) bool {
	var se *sendError
	return errors.As(err, &se) && se.permanent
}

// RetryAfter returns how long the gateway asked to wait before trying again,
// from the Retry-After header of its answer (in seconds or as an HTTP date;
// a date in the past is zero), and whether it asked at all. Gateways send it
// mostly with 429 and 503. The value is the gateway's: a caller should bound
// it by its own limits.
func RetryAfter(err error) (time.Duration, bool) {
	var se *sendError
	if errors.As(err, &se) && se.hasRetryAfter {
		return se.retryAfter, true
	}
	return 0, false
}

// errInvalid returns the permanent error of a message that is not valid.
func errInvalid(format string, args ...any) error {
	return &sendError{op: "invalid message", err: fmt.Errorf(format, args...), permanent: true}
}

// checkMessage returns the permanent error of m if it cannot be sent: a
// recipient that is not an E.164 number, or a body that is empty, too long
// or not UTF-8. The error shows the number only masked.
func checkMessage(m Message) error {
	if strings.ContainsAny(m.To, "\r\n\x00") {
		return errInvalid("the recipient contains a line break")
	}
	if !ValidPhone(m.To) {
		return errInvalid("the recipient %s is not a phone number in E.164 format (+ and 8 to 15 digits, such as +442079460958)", Mask(m.To))
	}
	if m.Body == "" {
		return errInvalid("the body is empty")
	}
	if !utf8.ValidString(m.Body) {
		return errInvalid("the body is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(m.Body); n > MaxBodyLength {
		return errInvalid("the body has %d characters, more than the %d an SMS gateway takes", n, MaxBodyLength)
	}
	return nil
}

package sms

import (
	"context"
	"log/slog"
)

// LogSender is a [Sender] FOR DEVELOPMENT ONLY (the "log" SMS driver): it
// sends nothing and logs each message instead, including its body.
//
// The body holds the message's one-time sign-in code, which is the point:
// on a development machine the operator copies the code from the log. In
// production this would put working two-factor codes in the logs, where
// anyone who can read them could pass the second factor of any account
// whose password they know; configure the "webhook" driver there.
//
// The phone number is logged masked (see [Mask]). Send refuses the messages
// a [Webhook] refuses, with the same errors, so that a development setup
// finds them too.
type LogSender struct {
	// Log receives one Info record per message; nil means slog.Default().
	Log *slog.Logger
}

var _ Sender = LogSender{}

// Send logs m, with its masked recipient, its kind and its body, and
// returns nil, or the permanent error of a message that is not valid.
func (s LogSender) Send(ctx context.Context, m Message) error {
	if err := checkMessage(m); err != nil {
		return err
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "sms not sent: the log driver is for development",
		"to", Mask(m.To), "kind", m.Kind, "body", m.Body)
	return nil
}

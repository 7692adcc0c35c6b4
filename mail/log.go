package mail

import (
	"context"
	"log/slog"

	"github.com/gatehouse/gatehouse"
)

// LogSender is a [Sender] FOR DEVELOPMENT ONLY (the "log" mail driver): it
// sends nothing and logs each message instead, including its text body.
//
// The text body holds the message's one-time link or code, which is the
// point: on a development machine the operator copies the link from the log.
// In production this would put working password reset links in the logs,
// where anyone who can read them could take over accounts; configure the
// "smtp" driver there.
type LogSender struct {
	// Log receives one Info record per message; nil means slog.Default().
	Log *slog.Logger
}

var _ Sender = LogSender{}

// Send logs m, with its recipient, subject, kind and text body, and
// returns nil.
func (s LogSender) Send(ctx context.Context, m *gatehouse.Mail) error {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "mail not sent: the log driver is for development",
		"to", m.To, "subject", m.Subject, "kind", m.Kind, "text", m.Text)
	return nil
}

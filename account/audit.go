package account

import (
	"context"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Actor is who performs an operation, and from where. A nil User is an
// anonymous client, or the command line when it changes anything (the
// command line may do anything).
type Actor struct {
	User   *gatehouse.User
	Client Client
	// Scope is what the credential that authenticated the request may do
	// when that is less than everything User holds: an API token's own
	// permissions. Every decision made for the actor (what it may grant,
	// which accounts it may act on) uses Scope, cut down to what User
	// still holds. Nil means all of User's permissions (a session, Basic
	// authentication); an empty, non-nil Scope means none.
	Scope []string
}

// record appends an audit event, filling in the time, id and the actor.
// A failure to write is logged, not returned: the operation it describes
// has already happened and must not be reported as failed.
func (s *Service) record(ctx context.Context, a Actor, kind gatehouse.AuditKind, target string, detail map[string]string) {
	s.appendEvent(ctx, s.newEvent(a, kind, target, detail))
}

// newEvent returns the audit event of kind about target, by actor a.
func (s *Service) newEvent(a Actor, kind gatehouse.AuditKind, target string, detail map[string]string) *gatehouse.AuditEvent {
	e := &gatehouse.AuditEvent{
		ID:         gatehouse.NewID(),
		Time:       s.now().UTC(),
		Kind:       kind,
		TargetID:   target,
		ClientAddr: a.Client.Addr,
		UserAgent:  truncate(storableText(a.Client.UserAgent), 256),
		Detail:     detail,
	}
	// Details quote what a client sent (a path, a name): every store must
	// be able to keep them, PostgreSQL's text included.
	for k, v := range detail {
		detail[k] = storableText(v)
	}
	if a.User != nil {
		e.ActorID, e.ActorName = a.User.ID, a.User.Username
	}
	return e
}

// appendEvent stores e; a failure is logged, not returned: the action it
// records has happened.
func (s *Service) appendEvent(ctx context.Context, e *gatehouse.AuditEvent) {
	if err := s.stores.Audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "writing the audit log", "kind", e.Kind, "err", err)
		return
	}
	s.audited(e.Kind)
}

// audited tells Config.OnAudit of an event stored.
func (s *Service) audited(kind gatehouse.AuditKind) {
	if s.cfg.OnAudit != nil {
		s.cfg.OnAudit(kind)
	}
}

// AuditFilter re-exports the store's filter for callers of ListAudit.
type AuditFilter = gatehouse.AuditFilter

// ListAudit returns audit events, newest first, and how many match.
func (s *Service) ListAudit(ctx context.Context, f AuditFilter) ([]*gatehouse.AuditEvent, int, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return s.stores.Audit.Audit(ctx, f)
}

// RecordDenial audits a request the permission check refused.
func (s *Service) RecordDenial(ctx context.Context, a Actor, method, path string) {
	s.record(ctx, a, gatehouse.AuditPermissionDenied, "", map[string]string{"method": method, "path": truncate(path, 512)})
}

// storableText is s as every store can keep it: valid UTF-8 (a client's
// header may hold any byte above 0x7F), without NUL, which PostgreSQL's
// text refuses.
func storableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

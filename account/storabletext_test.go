package account

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// A client's header or path may hold bytes that are not UTF-8, and NUL:
// the audit event keeps text every store can hold (PostgreSQL's text
// refuses both), showing where the bad bytes were.
func TestAuditEventTextIsStorable(t *testing.T) {
	s := &Service{now: func() time.Time { return time.Unix(0, 0) }}
	a := Actor{Client: Client{UserAgent: "agent\xff/1.0\x00"}}
	e := s.newEvent(a, gatehouse.AuditPermissionDenied, "", map[string]string{"path": "/a\xfe\x00b"})
	if e.UserAgent != "agent\uFFFD/1.0" {
		t.Errorf("UserAgent = %q", e.UserAgent)
	}
	if got := e.Detail["path"]; got != "/a\uFFFDb" || !utf8.ValidString(got) {
		t.Errorf("Detail[path] = %q", got)
	}
}

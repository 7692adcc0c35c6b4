package gatehouse_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestInvalidationText(t *testing.T) {
	good := []struct {
		inv  gatehouse.Invalidation
		text string
	}{
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: "S1"}, "session:S1"},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateUserSessions, ID: "U1"}, "user-sessions:U1"},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateUser, ID: "U1"}, "user:U1"},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateGroups}, "groups"},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateToken, ID: "T:1"}, "token:T:1"},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateUserTokens, ID: "zoë"}, "user-tokens:zoë"},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}, "all"},
	}
	for _, c := range good {
		b, err := c.inv.MarshalText()
		if err != nil || string(b) != c.text {
			t.Errorf("MarshalText(%+v) = %q, %v; want %q", c.inv, b, err, c.text)
		}
		var back gatehouse.Invalidation
		if err := back.UnmarshalText([]byte(c.text)); err != nil || back != c.inv {
			t.Errorf("UnmarshalText(%q) = %+v, %v; want %+v", c.text, back, err, c.inv)
		}
	}
	bad := []gatehouse.Invalidation{
		{},
		{Kind: gatehouse.SubscriptionLost},
		{Kind: gatehouse.SubscriptionReady},
		{Kind: 200, ID: "x"},
		{Kind: gatehouse.InvalidateSession},
		{Kind: gatehouse.InvalidateGroups, ID: "x"},
		{Kind: gatehouse.InvalidateAll, ID: "x"},
		{Kind: gatehouse.InvalidateUser, ID: "a\nb"},
		{Kind: gatehouse.InvalidateUser, ID: "\xff"},
		{Kind: gatehouse.InvalidateUser, ID: strings.Repeat("x", 257)},
	}
	for _, inv := range bad {
		if b, err := inv.MarshalText(); err == nil {
			t.Errorf("MarshalText(%+v) = %q, want an error", inv, b)
		}
	}
	for _, text := range []string{"", "session", "session:", "groups:", "groups:x", "all:", "nope:x", "subscription-lost", "user:a\x00b", "SESSION:x"} {
		var inv gatehouse.Invalidation
		if err := inv.UnmarshalText([]byte(text)); err == nil {
			t.Errorf("UnmarshalText(%q) = %+v, want an error", text, inv)
		}
	}
}

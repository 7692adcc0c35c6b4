package httpapi_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/account"
)

// The route list (policy explain) tells the truth about the pages: the
// account page and its forms need a session, and creating a token or
// linking a login a recent authentication, as their JSON twins do.
func TestPageRoutesListWhatTheyRequire(t *testing.T) {
	e := newEnv(t)
	seen := 0
	for _, r := range e.api.BuiltinRoutes() {
		if !strings.Contains(r.Path, "/ui/account") {
			continue
		}
		seen++
		if r.Requirement.Access == account.NeedPublic {
			t.Errorf("%s %s listed as public", r.Method, r.Path)
		}
		recent := r.Method == "POST" && (strings.HasSuffix(r.Path, "/account/tokens") || strings.HasSuffix(r.Path, "/logins/link") || strings.Contains(r.Path, "/2fa/totp"))
		if r.Requirement.RecentAuth != recent {
			t.Errorf("%s %s: RecentAuth %v, want %v", r.Method, r.Path, r.Requirement.RecentAuth, recent)
		}
	}
	if seen < 10 {
		t.Fatalf("only %d account page routes listed", seen)
	}
}

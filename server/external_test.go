package server_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testop"
	"github.com/gatehouse/gatehouse/server"
)

// TestExternalLoginWired runs gatehouse on loopback with a provider at a
// real OpenID provider (testop) and a browser-like client: the login
// button's path goes to the provider and back, the account is created in
// its groups, the session works, and logout names the provider's sign-out
// URL, whose post-logout redirect is the login page.
func TestExternalLoginWired(t *testing.T) {
	op := testop.Start(t)
	op.EndSessionEndpoint(true)
	op.NextUser(testop.User{Subject: "ada-1", Email: "ada@example.org", EmailVerified: true, PreferredUsername: "ada", Groups: []string{"staff"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + ln.Addr().String()
	gh := open(t, server.Config{
		DataDir: filepath.Join(t.TempDir(), "data"), PublicURL: public,
		Groups: map[string][]string{"editors": {"app:write"}, "viewers": {"app:read"}},
		ExternalProviders: []server.ExternalProvider{{
			ID: "corp", Name: "Corp SSO", Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(),
			GroupsClaim: "groups", GroupMap: map[string][]string{"staff": {"editors"}},
			AutoCreate: true, AutoCreateGroups: []string{"viewers"},
		}},
	})
	srv := &http.Server{Handler: gh}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	jar, _ := cookiejar.New(nil)
	var visited []string
	client := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		visited = append(visited, r.URL.String())
		return nil
	}}
	resp, err := client.Get(public + "/auth/external/corp/login?rd=/auth/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(visited) != 3 || !strings.HasPrefix(visited[0], op.Issuer()) ||
		visited[1] != public+"/auth/external/corp/callback?"+mustURL(t, visited[1]).RawQuery || visited[2] != public+"/auth/healthz" {
		t.Fatalf("%d after %v", resp.StatusCode, visited)
	}

	var cur struct {
		User struct {
			Username    string
			Permissions []string
		}
		CSRFToken string
	}
	getJSON(t, client, public+"/auth/session", &cur)
	if cur.User.Username != "ada" || !slices.Contains(cur.User.Permissions, "app:write") || !slices.Contains(cur.User.Permissions, "app:read") {
		t.Fatalf("session %+v", cur)
	}

	req, _ := http.NewRequest("DELETE", public+"/auth/session", nil)
	req.Header.Set("X-CSRF-Token", cur.CSRFToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ SignOutRedirectURL string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("logout: %d %v", resp.StatusCode, err)
	}
	q := mustURL(t, out.SignOutRedirectURL).Query()
	if q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != public+"/auth/ui/login" {
		t.Errorf("sign-out URL %s", out.SignOutRedirectURL)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestExternalProvidersChecked: what Open refuses in ExternalProviders.
func TestExternalProvidersChecked(t *testing.T) {
	ok := server.ExternalProvider{ID: "corp", Issuer: "https://sso.example.com", ClientID: "gh"}
	for _, tt := range []struct {
		name      string
		publicURL string
		ps        []server.ExternalProvider
		want      string
	}{
		{"no public URL", "", []server.ExternalProvider{ok}, "ExternalProviders need PublicURL"},
		{"bad id", "https://a.example.com", []server.ExternalProvider{{ID: "Corp", Issuer: ok.Issuer, ClientID: "gh"}}, `ID "Corp" must be`},
		{"id twice", "https://a.example.com", []server.ExternalProvider{ok, ok}, `ID "corp" is used twice`},
		{"no issuer", "https://a.example.com", []server.ExternalProvider{{ID: "corp", ClientID: "gh"}}, "Issuer is required"},
		{"no client id", "https://a.example.com", []server.ExternalProvider{{ID: "corp", Issuer: ok.Issuer}}, "ClientID is required"},
		{"bad group", "https://a.example.com", []server.ExternalProvider{{ID: "corp", Issuer: ok.Issuer, ClientID: "gh", GroupMap: map[string][]string{"x": {"Bad Group"}}}}, `group name "Bad Group"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := server.Open(t.Context(), server.Config{DataDir: t.TempDir(), PublicURL: tt.publicURL, ExternalProviders: tt.ps})
			var ce *server.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a ConfigError with %q", err, tt.want)
			}
		})
	}
}

package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreRaw ignores the fields of a parsed cookie that only echo its text.
var ignoreRaw = cmpopts.IgnoreFields(http.Cookie{}, "Raw", "RawExpires", "Unparsed")

// oneCookie returns the single cookie a response sets, with its raw header.
func oneCookie(t *testing.T, rec *httptest.ResponseRecorder) (*http.Cookie, string) {
	t.Helper()
	raw := rec.Result().Header.Values("Set-Cookie")
	cookies := rec.Result().Cookies()
	if len(raw) != 1 || len(cookies) != 1 {
		t.Fatalf("Set-Cookie headers %q, want exactly one valid cookie", raw)
	}
	return cookies[0], raw[0]
}

func TestSetCookie(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		remember bool
		secure   bool
		elapsed  time.Duration // between Create and SetCookie
		want     http.Cookie
	}{
		{
			name: "HTTP",
			want: http.Cookie{Name: "gh_session", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode},
		},
		{
			name: "HTTPS", secure: true,
			want: http.Cookie{Name: "__Host-gh_session", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode},
		},
		{
			name: "strict", cfg: Config{SameSite: http.SameSiteStrictMode},
			want: http.Cookie{Name: "gh_session", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode},
		},
		{
			name: "strict HTTPS", cfg: Config{SameSite: http.SameSiteStrictMode}, secure: true,
			want: http.Cookie{Name: "__Host-gh_session", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode},
		},
		{
			name: "custom name", cfg: Config{CookieName: "sid"}, secure: true,
			want: http.Cookie{Name: "__Host-sid", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode},
		},
		{
			name: "remember HTTP", remember: true,
			want: http.Cookie{
				Name: "gh_session", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
				Expires: epoch.Add(720 * time.Hour), MaxAge: int((720 * time.Hour).Seconds()),
			},
		},
		{
			name: "remember HTTPS", remember: true, secure: true,
			want: http.Cookie{
				Name: "__Host-gh_session", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
				Expires: epoch.Add(720 * time.Hour), MaxAge: int((720 * time.Hour).Seconds()),
			},
		},
		{
			name: "remember, set again a day later", remember: true, elapsed: 24 * time.Hour,
			want: http.Cookie{
				Name: "gh_session", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
				Expires: epoch.Add(720 * time.Hour), MaxAge: int((696 * time.Hour).Seconds()),
			},
		},
		{
			name: "remember, custom lifetime", cfg: Config{RememberTimeout: 48 * time.Hour}, remember: true,
			want: http.Cookie{
				Name: "gh_session", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
				Expires: epoch.Add(48 * time.Hour), MaxAge: int((48 * time.Hour).Seconds()),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t, tt.cfg)
			tok, s := e.create(t, "u", CreateOptions{Remember: tt.remember})
			e.clock.Advance(tt.elapsed)
			rec := httptest.NewRecorder()
			e.m.SetCookie(rec, tok, s, tt.secure)
			got, raw := oneCookie(t, rec)
			want := tt.want
			want.Value = tok
			if diff := cmp.Diff(&want, got, ignoreRaw); diff != "" {
				t.Errorf("cookie mismatch (-want +got):\n%s\nraw: %s", diff, raw)
			}
			if !tt.remember && (strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires")) {
				t.Errorf("a session that is not remembered got a persistent cookie: %s", raw)
			}
			if !tt.secure && strings.Contains(raw, "Secure") {
				t.Errorf("cookie over HTTP is Secure: %s", raw)
			}
			if strings.Contains(raw, "Domain") {
				t.Errorf("cookie has a Domain: %s", raw)
			}
		})
	}
}

func TestClearCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		name := map[bool]string{false: "HTTP", true: "HTTPS"}[secure]
		t.Run(name, func(t *testing.T) {
			e := newFakeEnv(t, Config{})
			rec := httptest.NewRecorder()
			e.m.ClearCookie(rec, secure)
			got, raw := oneCookie(t, rec)
			if got.Name != e.m.CookieName(secure) || got.Value != "" || got.Path != "/" || got.Secure != secure || !got.HttpOnly {
				t.Errorf("ClearCookie set %s", raw)
			}
			if got.MaxAge >= 0 {
				t.Errorf("ClearCookie MaxAge = %d (%s), want < 0 (Max-Age=0)", got.MaxAge, raw)
			}
			if !got.Expires.Before(epoch) {
				t.Errorf("ClearCookie Expires = %v, want in the past", got.Expires)
			}
		})
	}
}

func TestReadToken(t *testing.T) {
	tok, tok2 := NewToken(), NewToken()
	nonCanonical := strings.Repeat("A", 42) + "B"
	tests := []struct {
		name   string
		secure bool
		cookie string
		want   string
	}{
		{"HTTP plain name", false, "gh_session=" + tok, tok},
		{"HTTPS host name", true, "__Host-gh_session=" + tok, tok},
		{"HTTPS ignores plain name", true, "gh_session=" + tok, ""},
		{"HTTP ignores host name", false, "__Host-gh_session=" + tok, ""},
		{"HTTPS takes host name among both", true, "gh_session=" + tok2 + "; __Host-gh_session=" + tok, tok},
		{"HTTP takes plain name among both", false, "__Host-gh_session=" + tok2 + "; gh_session=" + tok, tok},
		{"no cookie", false, "", ""},
		{"other cookies only", false, "a=b; XSRF-TOKEN=" + tok, ""},
		{"name prefix", false, "gh_session_x=" + tok, ""},
		{"name case", false, "GH_SESSION=" + tok, ""},
		{"__Secure- prefix", true, "__Secure-gh_session=" + tok, ""},
		{"garbage then good", false, "gh_session=garbage; gh_session=" + tok, tok},
		{"empty then good", false, "gh_session=; gh_session=" + tok, tok},
		{"good then garbage", true, "__Host-gh_session=" + tok + "; __Host-gh_session=x", tok},
		{"two good: first", false, "gh_session=" + tok + "; gh_session=" + tok2, tok},
		{"non-canonical then good", false, "gh_session=" + nonCanonical + "; gh_session=" + tok, tok},
		{"garbage", false, "gh_session=garbage", ""},
		{"empty value", false, "gh_session=", ""},
		{"43 equals", false, "gh_session=" + strings.Repeat("=", 43), ""},
		{"non-canonical", false, "gh_session=" + nonCanonical, ""},
		{"too long", false, "gh_session=" + tok + "A", ""},
		{"too short", false, "gh_session=" + tok[:42], ""},
		{"padded", false, "gh_session=" + tok + "=", ""},
		{"standard base64", false, "gh_session=" + strings.Repeat("+", 42) + "A", ""},
		{"huge", false, "gh_session=" + strings.Repeat("A", 1<<16), ""},
	}
	e := newFakeEnv(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			got, ok := e.m.ReadToken(r, tt.secure)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("ReadToken(%q, secure %v) = %q, %v; want %q", tt.cookie, tt.secure, got, ok, tt.want)
			}
		})
	}
	if f := e.store.(*fakeStore); f.counts() != (counts{}) {
		t.Errorf("ReadToken used the store: %+v", f.counts())
	}
}

// TestCookieRoundTrip checks that what SetCookie writes, ReadToken reads
// back and Load accepts.
func TestCookieRoundTrip(t *testing.T) {
	for _, secure := range []bool{false, true} {
		for _, remember := range []bool{false, true} {
			name := map[bool]string{false: "HTTP", true: "HTTPS"}[secure] + map[bool]string{false: "", true: " remember"}[remember]
			t.Run(name, func(t *testing.T) {
				e := newFakeEnv(t, Config{})
				tok, s := e.create(t, "u", CreateOptions{Remember: remember})
				rec := httptest.NewRecorder()
				e.m.SetCookie(rec, tok, s, secure)
				c, _ := oneCookie(t, rec)
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				got, ok := e.m.ReadToken(r, secure)
				if !ok || got != tok {
					t.Fatalf("ReadToken = %q, %v; want the token", got, ok)
				}
				loaded, err := e.m.Load(t.Context(), got)
				wantLive(t, "Load", loaded, err)
				if _, ok := e.m.ReadToken(r, !secure); ok {
					t.Errorf("the cookie set with secure=%v was read with secure=%v", secure, !secure)
				}
			})
		}
	}
}

// FuzzReadToken reads the session token from arbitrary Cookie headers.
func FuzzReadToken(f *testing.F) {
	tok := NewToken()
	f.Add("gh_session=" + tok)
	f.Add("__Host-gh_session=" + tok)
	f.Add("")
	f.Add("gh_session=; gh_session=" + tok)
	f.Add(`gh_session="` + tok + `"`)
	f.Add("gh_session=" + strings.Repeat("=", 43))
	f.Add("a=b;;; =c; gh_session=\x00\xff; __Host-gh_session=é")
	m := NewManager(newFakeStore(), Config{}, newFakeClock().Now, nil)
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		for _, secure := range []bool{false, true} {
			got, ok := m.ReadToken(r, secure)
			if !ok {
				if got != "" {
					t.Fatalf("ReadToken(%q) = %q, false", header, got)
				}
				continue
			}
			if p, pok := ParseToken(got); !pok || p != got {
				t.Fatalf("ReadToken(%q, %v) = %q, which ParseToken refuses", header, secure, got)
			}
		}
	})
}

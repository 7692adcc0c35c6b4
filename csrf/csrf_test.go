package csrf

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Two session secrets.
const (
	secretA = "kP3l9r0n0Yb6h0Zk1u5m8Q2sW4xV7cE9gJ1aR3tY6iA"
	secretB = "Zx8c7V6b5N4m3L2k1J0hG9f8D7s6A5p4O3i2U1y0T3E"
)

func TestToken(t *testing.T) {
	a, b := Token(secretA), Token(secretB)
	if a != Token(secretA) {
		t.Errorf("Token is not deterministic: %q then %q", a, Token(secretA))
	}
	if a == b {
		t.Errorf("two secrets share the token %q", a)
	}
	for _, tok := range []string{a, b, Token("x")} {
		if len(tok) != 43 {
			t.Errorf("len(%q) = %d, want 43", tok, len(tok))
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(tok); err != nil {
			t.Errorf("%q is not unpadded base64url: %v", tok, err)
		}
	}
	if a == secretA || strings.Contains(a, secretA) || strings.Contains(secretA, a) {
		t.Errorf("the token reveals the secret")
	}
	// The documented derivation: HMAC-SHA256 of the label, keyed with the
	// session secret.
	mac := hmac.New(sha256.New, []byte(secretA))
	mac.Write([]byte("gatehouse csrf token v1"))
	if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); a != want {
		t.Errorf("Token = %q, want HMAC-SHA256 %q", a, want)
	}
}

func TestValid(t *testing.T) {
	good := Token(secretA)
	tests := []struct {
		name      string
		secret    string
		presented string
		want      bool
	}{
		{"right token", secretA, good, true},
		{"other session's right token", secretB, Token(secretB), true},
		{"empty", secretA, "", false},
		{"empty secret", "", good, false},
		{"empty secret, token of empty", "", Token(""), false},
		{"both empty", "", "", false},
		{"wrong", secretA, "not-the-token", false},
		{"token of another session", secretA, Token(secretB), false},
		{"prefix", secretA, good[:42], false},
		{"first char", secretA, good[:1], false},
		{"extended", secretA, good + "A", false},
		{"padded", secretA, good + "=", false},
		{"one char changed", secretA, flip(good, 10), false},
		{"last char changed", secretA, flip(good, 42), false},
		{"case changed", secretA, strings.ToUpper(good), false},
		{"session secret itself", secretA, secretA, false},
		{"surrounding space", secretA, " " + good + " ", false},
		{"padded standard base64 of the same bytes", secretA, base64.StdEncoding.EncodeToString(mustDecode(t, good)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid(tt.secret, tt.presented); got != tt.want {
				t.Errorf("Valid(%q, %q) = %v, want %v", tt.secret, tt.presented, got, tt.want)
			}
		})
	}
}

func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const formType = "application/x-www-form-urlencoded"

// multipartBody returns a multipart form with a csrf_token field.
func multipartBody(t *testing.T) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField(FormField, "from-multipart"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

func TestFromRequest(t *testing.T) {
	mpBody, mpType := multipartBody(t)
	// A form just at the limit, with the token at its end.
	atLimit := "pad=" + strings.Repeat("a", maxFormBytes-len("pad=&csrf_token=tok")) + "&csrf_token=tok"
	if len(atLimit) != maxFormBytes {
		t.Fatalf("len(atLimit) = %d", len(atLimit))
	}
	tests := []struct {
		name        string
		method      string
		target      string
		headers     map[string]string
		contentType string
		body        string
		want        string
	}{
		{"X-CSRF-Token", "POST", "/", map[string]string{"X-CSRF-Token": "h1"}, "", "", "h1"},
		{"X-CSRF", "POST", "/", map[string]string{"X-CSRF": "h2"}, "", "", "h2"},
		{"X-XSRF-TOKEN", "POST", "/", map[string]string{"X-XSRF-TOKEN": "h3"}, "", "", "h3"},
		{"header names are case-insensitive", "POST", "/", map[string]string{"x-xsrf-token": "h3"}, "", "", "h3"},
		{"all three: X-CSRF-Token first", "POST", "/", map[string]string{"X-CSRF-Token": "h1", "X-CSRF": "h2", "X-XSRF-TOKEN": "h3"}, "", "", "h1"},
		{"X-CSRF before X-XSRF-TOKEN", "POST", "/", map[string]string{"X-CSRF": "h2", "X-XSRF-TOKEN": "h3"}, "", "", "h2"},
		{"empty header skipped", "POST", "/", map[string]string{"X-CSRF-Token": "", "X-XSRF-TOKEN": "h3"}, "", "", "h3"},
		{"header before form", "POST", "/", map[string]string{"X-CSRF": "h2"}, formType, "csrf_token=f", "h2"},
		{"form field", "POST", "/", nil, formType, "a=1&csrf_token=f&b=2", "f"},
		{"form field escaped", "POST", "/", nil, formType, "csrf_token=a%2Bb%3D", "a+b="},
		{"form field with charset", "PUT", "/", nil, formType + "; charset=utf-8", "csrf_token=f", "f"},
		{"form type in capitals", "POST", "/", nil, "Application/X-WWW-Form-URLEncoded", "csrf_token=f", "f"},
		{"form field first of two", "POST", "/", nil, formType, "csrf_token=f1&csrf_token=f2", "f1"},
		{"form at the size limit", "POST", "/", nil, formType, atLimit, "tok"},
		{"empty header falls back to form", "POST", "/", map[string]string{"X-CSRF-Token": ""}, formType, "csrf_token=f", "f"},
		{"no token", "POST", "/", nil, formType, "a=1", ""},
		{"no body", "POST", "/", nil, formType, "", ""},
		{"form without content type", "POST", "/", nil, "", "csrf_token=f", ""},
		{"text/plain", "POST", "/", nil, "text/plain", "csrf_token=f", ""},
		{"bad content type", "POST", "/", nil, "application/x-www-form-urlencoded; ;=", "csrf_token=f", ""},
		{"JSON not parsed", "POST", "/", nil, "application/json", `{"csrf_token":"f"}`, ""},
		{"JSON with form-like body not parsed", "POST", "/", nil, "application/json", "csrf_token=f", ""},
		{"multipart not parsed", "POST", "/", nil, mpType, mpBody, ""},
		{"oversized form", "POST", "/", nil, formType, "csrf_token=f&pad=" + strings.Repeat("a", maxFormBytes), ""},
		{"one byte over", "POST", "/", nil, formType, atLimit + "x", ""},
		{"malformed form", "POST", "/", nil, formType, "csrf_token=f&%zz", ""},
		{"query string is not the form", "POST", "/?csrf_token=fromquery", nil, formType, "a=1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			if got := FromRequest(r); got != tt.want {
				t.Errorf("FromRequest = %q, want %q", got, tt.want)
			}
			// The handler still gets the whole body.
			rest, err := io.ReadAll(r.Body)
			if err != nil {
				t.Fatalf("reading the body after FromRequest: %v", err)
			}
			if diff := cmp.Diff(tt.body, string(rest)); diff != "" {
				t.Errorf("body after FromRequest (-want +got):\n%.2000s", diff)
			}
			if err := r.Body.Close(); err != nil {
				t.Errorf("closing the body: %v", err)
			}
			// And a form handler can still parse it.
			if tt.contentType == formType && len(tt.body) <= maxFormBytes && tt.want != "" && !strings.Contains(tt.body, "%zz") {
				r2 := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
				r2.Header.Set("Content-Type", formType)
				FromRequest(r2)
				if err := r2.ParseForm(); err != nil {
					t.Fatalf("ParseForm after FromRequest: %v", err)
				}
				wantForm, _ := url.ParseQuery(tt.body)
				if diff := cmp.Diff(wantForm, r2.PostForm, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("PostForm after FromRequest (-want +got):\n%.2000s", diff)
				}
			}
		})
	}
}

func TestFromRequestNoBody(t *testing.T) {
	for _, body := range []io.ReadCloser{nil, http.NoBody} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Body = body
		r.Header.Set("Content-Type", formType)
		if got := FromRequest(r); got != "" {
			t.Errorf("FromRequest with body %v = %q, want \"\"", body, got)
		}
	}
}

// errReader returns its data, then fails.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFromRequestBodyError(t *testing.T) {
	boom := errors.New("connection reset")
	r := httptest.NewRequest("POST", "/", nil)
	r.Body = io.NopCloser(&errReader{data: []byte("csrf_token=f"), err: boom})
	r.Header.Set("Content-Type", formType)
	if got := FromRequest(r); got != "" {
		t.Errorf("FromRequest of a failing body = %q, want \"\"", got)
	}
	rest, err := io.ReadAll(r.Body)
	if string(rest) != "csrf_token=f" || !errors.Is(err, boom) {
		t.Errorf("body after FromRequest = %q, %v; want what was read, then the error", rest, err)
	}
}

func TestUnsafe(t *testing.T) {
	tests := []struct {
		method string
		want   bool
	}{
		{http.MethodGet, false},
		{http.MethodHead, false},
		{http.MethodOptions, false},
		{http.MethodTrace, false},
		{http.MethodPost, true},
		{http.MethodPut, true},
		{http.MethodPatch, true},
		{http.MethodDelete, true},
		{http.MethodConnect, true},
		{"PROPFIND", true},
		{"get", true}, // methods are case-sensitive: unknown means unsafe
		{"post", true},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			if got := Unsafe(tt.method); got != tt.want {
				t.Errorf("Unsafe(%q) = %v, want %v", tt.method, got, tt.want)
			}
		})
	}
}

func TestSetCookie(t *testing.T) {
	tok := Token(secretA)
	for _, tt := range []struct {
		secure bool
		domain string
	}{{false, ""}, {true, ""}, {false, "example.com"}, {true, "example.com"}} {
		secure, domain := tt.secure, tt.domain
		name := map[bool]string{false: "HTTP", true: "HTTPS"}[secure] + " domain=" + domain
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			SetCookie(rec, tok, secure, domain)
			cookies := rec.Result().Cookies()
			raw := rec.Result().Header.Values("Set-Cookie")
			if len(cookies) != 1 {
				t.Fatalf("Set-Cookie %q, want one cookie", raw)
			}
			want := &http.Cookie{Name: "XSRF-TOKEN", Value: tok, Path: "/", Domain: domain, Secure: secure, SameSite: http.SameSiteStrictMode}
			if diff := cmp.Diff(want, cookies[0], cmpopts.IgnoreFields(http.Cookie{}, "Raw")); diff != "" {
				t.Errorf("cookie (-want +got):\n%s", diff)
			}
			if strings.Contains(raw[0], "HttpOnly") {
				t.Errorf("XSRF-TOKEN is HttpOnly, scripts cannot read it: %s", raw[0])
			}
			if strings.Contains(raw[0], "Max-Age") || strings.Contains(raw[0], "Expires") {
				t.Errorf("XSRF-TOKEN is persistent: %s", raw[0])
			}

			rec = httptest.NewRecorder()
			ClearCookie(rec, secure, domain)
			cookies = rec.Result().Cookies()
			if len(cookies) != 1 || cookies[0].Name != CookieName || cookies[0].MaxAge >= 0 || cookies[0].Secure != secure || cookies[0].Domain != domain {
				t.Errorf("ClearCookie set %q", rec.Result().Header.Values("Set-Cookie"))
			}
		})
	}
}

func TestNewCrossOriginProtection(t *testing.T) {
	trusted := []string{"https://app.example.com", "http://localhost:3000"}
	tests := []struct {
		name    string
		method  string
		host    string
		headers map[string]string
		allowed bool
	}{
		{"POST cross-site", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"POST same-site (sibling subdomain)", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"POST same-origin", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"POST user-initiated (none)", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"POST no browser headers", "POST", "app.example", nil, true},
		{"POST old browser, foreign Origin", "POST", "app.example", map[string]string{"Origin": "https://evil.example"}, false},
		{"POST old browser, Origin null", "POST", "app.example", map[string]string{"Origin": "null"}, false},
		{"POST old browser, Origin matches Host", "POST", "app.example", map[string]string{"Origin": "https://app.example"}, true},
		{"POST old browser, Origin with the host as a prefix", "POST", "app.example", map[string]string{"Origin": "https://app.example.evil.example"}, false},
		{"POST cross-site from a trusted origin", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}, true},
		{"POST old browser from a trusted origin", "POST", "auth.example.com", map[string]string{"Origin": "https://app.example.com"}, true},
		{"POST trusted origin with port", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost:3000"}, true},
		// gorilla/csrf CVE-2025-47909: origins must be compared whole.
		{"POST http version of a trusted https origin", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://app.example.com"}, false},
		{"POST http version of a trusted https origin, old browser", "POST", "auth.example.com", map[string]string{"Origin": "http://app.example.com"}, false},
		{"POST trusted host, other port", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com:8443"}, false},
		{"POST trusted origin with a trailing slash", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com/"}, false},
		{"POST subdomain of a trusted origin", "POST", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.app.example.com"}, false},
		{"PUT cross-site", "PUT", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"PATCH cross-site", "PATCH", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"DELETE cross-site", "DELETE", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"GET cross-site", "GET", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, true},
		{"HEAD cross-site", "HEAD", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"OPTIONS cross-site", "OPTIONS", "auth.example.com", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var denied, served int
			deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				denied++
				w.WriteHeader(http.StatusForbidden)
			})
			p, err := NewCrossOriginProtection(trusted, deny)
			if err != nil {
				t.Fatalf("NewCrossOriginProtection: %v", err)
			}
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served++
			}))
			r := httptest.NewRequest(tt.method, "http://"+tt.host+"/auth/session", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if tt.allowed && (served != 1 || denied != 0) {
				t.Errorf("served %d, denied %d; want the request allowed", served, denied)
			}
			if !tt.allowed && (served != 0 || denied != 1 || rec.Code != http.StatusForbidden) {
				t.Errorf("served %d, denied %d, status %d; want the deny handler called", served, denied, rec.Code)
			}
			if err := p.Check(r); (err == nil) != tt.allowed {
				t.Errorf("Check = %v, want allowed %v", err, tt.allowed)
			}
		})
	}
}

func TestNewCrossOriginProtectionDefaultDeny(t *testing.T) {
	p, err := NewCrossOriginProtection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := false
	h := p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
	r := httptest.NewRequest("POST", "http://app.example/", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if served || rec.Code != http.StatusForbidden {
		t.Errorf("served %v, status %d; want 403 without a deny handler", served, rec.Code)
	}
}

func TestNewCrossOriginProtectionInvalidOrigin(t *testing.T) {
	tests := []struct {
		name    string
		origins []string
		wantErr bool
	}{
		{"none", nil, false},
		{"valid", []string{"https://app.example.com", "http://localhost:8080"}, false},
		{"no scheme", []string{"app.example.com"}, true},
		{"no host", []string{"https://"}, true},
		{"path", []string{"https://app.example.com/app"}, true},
		{"trailing slash", []string{"https://app.example.com/"}, true},
		{"query", []string{"https://app.example.com?x=1"}, true},
		{"fragment", []string{"https://app.example.com#x"}, true},
		{"unparsable", []string{"https://app example.com:port"}, true},
		{"control character", []string{"https://app.example.com\n"}, true},
		{"one bad among good", []string{"https://app.example.com", "not an origin"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewCrossOriginProtection(tt.origins, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewCrossOriginProtection(%q) error = %v, want error %v", tt.origins, err, tt.wantErr)
			}
			if tt.wantErr && p != nil {
				t.Errorf("returned a protection along with the error")
			}
		})
	}
}

// FuzzValid checks Valid against Token on arbitrary input.
func FuzzValid(f *testing.F) {
	f.Add(secretA, Token(secretA))
	f.Add(secretA, Token(secretB))
	f.Add("", "")
	f.Add("", Token(""))
	f.Add(secretA, secretA)
	f.Add("é\x00", Token("é\x00")[:10])
	f.Fuzz(func(t *testing.T, secret, presented string) {
		got := Valid(secret, presented)
		if secret != "" && !Valid(secret, Token(secret)) {
			t.Fatalf("Valid(%q, Token(%q)) = false", secret, secret)
		}
		if got && presented != Token(secret) {
			t.Fatalf("Valid(%q, %q) = true, but Token is %q", secret, presented, Token(secret))
		}
		if got && secret == "" {
			t.Fatalf("Valid accepted %q for an empty session", presented)
		}
	})
}

// FuzzFromRequest checks that FromRequest never panics and never loses the
// body, whatever the header and form.
func FuzzFromRequest(f *testing.F) {
	f.Add("", "csrf_token=abc", formType)
	f.Add("hdr", "csrf_token=abc", formType)
	f.Add("", "csrf_token=%zz;&&==", formType+"; charset=utf-8")
	f.Add("", `{"csrf_token":"x"}`, "application/json")
	f.Add("", "--b\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b")
	f.Add("é\x00", "\xff\xfe", ";;")
	f.Fuzz(func(t *testing.T, header, body, contentType string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header["X-Csrf-Token"] = []string{header}
		r.Header["Content-Type"] = []string{contentType}
		got := FromRequest(r)
		if header != "" && got != header {
			t.Fatalf("FromRequest = %q, want the header %q", got, header)
		}
		rest, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("reading the body: %v", err)
		}
		if string(rest) != body {
			t.Fatalf("body after FromRequest = %q, want %q", rest, body)
		}
		if header == "" && got != "" {
			mt, _, err := mime.ParseMediaType(contentType)
			if err != nil || mt != formType || len(body) > maxFormBytes {
				t.Fatalf("FromRequest = %q from a body of type %q and %d bytes, want only URL-encoded forms up to %d bytes",
					got, contentType, len(body), maxFormBytes)
			}
		}
	})
}

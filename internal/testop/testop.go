// Package testop runs a real OpenID provider inside tests, on loopback:
// github.com/oauth2-proxy/mockoidc (authorization code flow, PKCE
// validated, nonce echoed, client authenticated, RS256 ID tokens, userinfo,
// JWKS), with a thin layer in front of it for what tests of a relying
// party need and mockoidc lacks: users with any claims, key rotation,
// tampered or foreign-signed ID tokens (an attacker in the middle), the
// provider going down and coming back on the same address, an
// end_session_endpoint, the RFC 9207 iss parameter, refusals at the
// authorization endpoint, server errors, and request counts.
//
// There is no login form: the authorization endpoint answers at once
// with a redirect to the client's callback carrying a code, for the user
// set with NextUser. Authorize follows an authorization URL like a
// browser would, for tests without one.
//
// The OP requires PKCE with S256 (an authorization request without it is
// refused with invalid_request), accepts client_secret_basic and
// client_secret_post, and issues one-shot codes.
package testop

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// Endpoint paths of the OP (relative to its address), for FailNext and
// Requests.
const (
	DiscoveryPath     = mockoidc.DiscoveryEndpoint
	AuthorizationPath = mockoidc.AuthorizationEndpoint
	TokenPath         = mockoidc.TokenEndpoint
	UserinfoPath      = mockoidc.UserinfoEndpoint
	JWKSPath          = mockoidc.JWKSEndpoint
	EndSessionPath    = mockoidc.IssuerBase + "/end_session"
)

// DefaultUser is who authorization requests log in as until NextUser is
// called.
var DefaultUser = User{
	Subject:           "testop-subject-1",
	Email:             "ada@example.org",
	EmailVerified:     true,
	Name:              "Ada Lovelace",
	PreferredUsername: "ada",
}

// OP is a running OpenID provider. Its methods are safe for concurrent
// use; each request to the OP is served alone (mockoidc's state is not
// synchronised), which is no limit for tests.
type OP struct {
	t    testing.TB
	mock *mockoidc.MockOIDC
	addr string // host:port, kept across Down and Up

	// mu serialises requests and guards everything below.
	mu           sync.Mutex
	srv          *http.Server
	user         User
	tamper       []func(claims map[string]any)
	foreignNext  bool
	endSession   bool
	issParam     bool
	denyNext     string
	loginPage    bool
	failNext     map[string]int
	redirectNext map[string]redirect
	// blackHole, when not nil, holds every request unanswered until it
	// is closed (by Up).
	blackHole         chan struct{}
	requests          map[string]int
	lastEndSessionURL string
}

// Start runs an OP on 127.0.0.1 with a random port until t's cleanup.
func Start(t testing.TB) *OP {
	t.Helper()
	mock, err := mockoidc.NewServer(nil) // mockoidc's built-in key; RotateKey makes fresh ones
	if err != nil {
		t.Fatalf("testop: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testop: listen: %v", err)
	}
	op := &OP{
		t:            t,
		mock:         mock,
		addr:         ln.Addr().String(),
		user:         DefaultUser,
		endSession:   true,
		failNext:     map[string]int{},
		redirectNext: map[string]redirect{},
		requests:     map[string]int{},
	}
	// mockoidc derives its issuer and endpoints from Server.Addr; the
	// server that actually serves is op.srv (so that Down and Up work).
	mock.Server = &http.Server{Addr: op.addr}
	op.serve(ln)
	t.Cleanup(op.Down)
	return op
}

func (op *OP) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc(DiscoveryPath, op.discovery)
	mux.HandleFunc(AuthorizationPath, op.authorize)
	mux.HandleFunc(TokenPath, op.token)
	mux.HandleFunc(UserinfoPath, op.mock.Userinfo)
	mux.HandleFunc(JWKSPath, op.mock.JWKS)
	mux.HandleFunc(EndSessionPath, op.endSessionHandler)
	srv := &http.Server{Handler: op.count(mux), ReadHeaderTimeout: 5 * time.Second}
	op.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// count serialises requests, counts them by path, holds them while the
// OP is a black hole, and answers the ones FailNext asked to fail or
// RedirectNext to redirect.
func (op *OP) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		hole := op.blackHole
		op.mu.Unlock()
		if hole != nil {
			select {
			case <-hole:
			case <-r.Context().Done():
				return
			}
		}
		op.mu.Lock()
		defer op.mu.Unlock()
		op.requests[r.URL.Path]++
		if rd, ok := op.redirectNext[r.URL.Path]; ok {
			delete(op.redirectNext, r.URL.Path)
			http.Redirect(w, r, rd.to, rd.status)
			return
		}
		if status, ok := op.failNext[r.URL.Path]; ok {
			delete(op.failNext, r.URL.Path)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"server_error","error_description":"testop: failed on purpose"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Issuer is the OP's issuer URL (http://127.0.0.1:port/oidc).
func (op *OP) Issuer() string { return op.mock.Issuer() }

// ClientID is the client registered at the OP.
func (op *OP) ClientID() string { return op.mock.ClientID }

// ClientSecret is the registered client's secret.
func (op *OP) ClientSecret() string { return op.mock.ClientSecret }

// User is an account at the OP.
type User struct {
	Subject, Email    string
	EmailVerified     bool
	Name              string
	PreferredUsername string
	// Groups is the "groups" claim (in the ID token whatever the scopes,
	// as many providers do).
	Groups []string
	// AMR and ACR are the "amr" and "acr" claims ("" and nil leave them out).
	AMR []string
	ACR string
	// EmailOnlyInUserinfo leaves email and email_verified out of the ID
	// token; the userinfo endpoint has them.
	EmailOnlyInUserinfo bool
	// GroupsOnlyInUserinfo leaves groups out of the ID token; the userinfo
	// endpoint has them.
	GroupsOnlyInUserinfo bool
}

// NextUser sets the account the next authorization request logs in as,
// and the ones after it until NextUser is called again.
func (op *OP) NextUser(u User) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.user = u
}

// RotateKey makes a new signing key (a new kid): tokens are signed with
// it from now on and the JWKS serves it alone.
func (op *OP) RotateKey() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		op.t.Fatalf("testop: key: %v", err)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	op.mock.Keypair = &mockoidc.Keypair{PrivateKey: key, PublicKey: &key.PublicKey}
}

// TamperIDToken changes the ID token of the next token response: f gets
// its claims, changes them in place, and the token is signed again with
// the OP's key (so only the claims are wrong, not the signature).
// Several calls apply in order to the same next response.
func (op *OP) TamperIDToken(f func(claims map[string]any)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.tamper = append(op.tamper, f)
}

// SignNextWithForeignKey signs the ID token of the next token response
// with a key that is not the OP's, under the kid of the OP's key (so the
// relying party finds a key by kid and must reject the signature).
func (op *OP) SignNextWithForeignKey() {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.foreignNext = true
}

// EndSessionEndpoint sets whether discovery advertises an
// end_session_endpoint (on by default). The endpoint redirects to
// post_logout_redirect_uri when given, else says "signed out".
func (op *OP) EndSessionEndpoint(on bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.endSession = on
}

// LastEndSessionURL is the last request URL the end_session_endpoint got
// ("" if none), to check id_token_hint and client_id.
func (op *OP) LastEndSessionURL() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.lastEndSessionURL
}

// IssParameter sets whether the OP sends the RFC 9207 iss parameter in
// authorization responses and advertises so in discovery
// (authorization_response_iss_parameter_supported); off by default.
func (op *OP) IssParameter(on bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.issParam = on
}

// DenyNext makes the next authorization request redirect back with
// error=code (e.g. "access_denied") and the state, as a provider does
// when the user declines.
func (op *OP) DenyNext(code string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.denyNext = code
}

// FailNext answers the next request to path (TokenPath, DiscoveryPath…)
// with status and an OAuth error body, e.g. 503.
func (op *OP) FailNext(path string, status int) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.failNext[path] = status
}

type redirect struct {
	to     string
	status int
}

// RedirectNext answers the next request to path with a redirect (status
// 302, 307, 308…) to the URL to.
func (op *OP) RedirectNext(path, to string, status int) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.redirectNext[path] = redirect{to, status}
}

// BlackHole makes the OP accept connections and requests and answer none
// (a provider behind a black-holing network) until Up; requests held
// then are answered. Requests are counted when answered.
func (op *OP) BlackHole() {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.blackHole == nil {
		op.blackHole = make(chan struct{})
	}
}

// Requests is how many requests path (DiscoveryPath, JWKSPath…) got.
func (op *OP) Requests(path string) int {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.requests[path]
}

// Down stops the OP: connections to its address are refused (open ones
// are closed) until Up.
func (op *OP) Down() {
	op.mu.Lock()
	srv := op.srv
	op.srv = nil
	op.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up serves again on the same address after Down, and answers again
// after BlackHole.
func (op *OP) Up() {
	op.t.Helper()
	op.mu.Lock()
	up := op.srv != nil
	if op.blackHole != nil {
		close(op.blackHole)
		op.blackHole = nil
	}
	op.mu.Unlock()
	if up {
		return
	}
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after Close
		if ln, err = net.Listen("tcp", op.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		op.t.Fatalf("testop: listen again on %s: %v", op.addr, err)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	op.serve(ln)
}

// LoginPage makes the authorization endpoint answer, as a real provider
// does, with a page of its own (200, HTML) instead of redirecting at
// once: a link with id "continue" leads to the client's callback. A
// browser that follows it comes back from the provider's page, a
// cross-site navigation, so only the client's SameSite=Lax (and None)
// cookies come along. Authorize follows the link too.
func (op *OP) LoginPage(on bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.loginPage = on
}

// Authorize follows authURL like a browser (with client, nil for a plain
// one; its cookies are kept) and returns the URL the OP redirects to: the
// client's callback with code and state, or error and state.
func (op *OP) Authorize(t testing.TB, client *http.Client, authURL string) (callbackURL string) {
	t.Helper()
	c := http.Client{}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("testop: authorize: %v", err)
	}
	defer resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Testop-Continue") != "" {
		loc = resp.Header.Get("X-Testop-Continue") // the login page's link
	}
	if loc == "" || resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusOK {
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		t.Fatalf("testop: authorize: %s %s", resp.Status, body.String())
	}
	return loc
}

// authorize serves the authorization endpoint: mockoidc for the user set,
// PKCE S256 required, and the iss parameter or a refusal added.
func (op *OP) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(r.Form.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		http.Error(w, "testop: redirect_uri must be an absolute URL", http.StatusBadRequest)
		return
	}
	refuse := func(code string) {
		q := redirect.Query()
		q.Set("error", code)
		q.Set("error_description", "testop refused the request")
		q.Set("state", r.Form.Get("state"))
		if op.issParam {
			q.Set("iss", op.Issuer())
		}
		redirect.RawQuery = q.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	if code := op.denyNext; code != "" {
		op.denyNext = ""
		refuse(code)
		return
	}
	if r.Form.Get("code_challenge_method") != "S256" || r.Form.Get("code_challenge") == "" {
		refuse("invalid_request")
		return
	}
	// Exactly one user queued: a request mockoidc refuses pops none.
	op.mock.UserQueue.Queue = []mockoidc.User{mockUser(op.user)}
	rec := httptest.NewRecorder()
	op.mock.Authorize(rec, r)
	if loc := rec.Header().Get("Location"); op.issParam && loc != "" {
		if u, err := url.Parse(loc); err == nil {
			q := u.Query()
			q.Set("iss", op.Issuer())
			u.RawQuery = q.Encode()
			rec.Header().Set("Location", u.String())
		}
	}
	if loc := rec.Header().Get("Location"); op.loginPage && loc != "" && rec.Code == http.StatusFound {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Testop-Continue", loc)
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "<!doctype html><title>Test OP</title><h1>Test OP</h1><p><a id=\"continue\" href=\"%s\">Continue</a></p>", html.EscapeString(loc))
		return
	}
	copyResponse(w, rec)
}

// token serves the token endpoint: mockoidc, with client_secret_basic
// accepted, expires_in in seconds, and the next ID token tampered with
// or signed with a foreign key when asked.
func (op *OP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if id, secret, ok := r.BasicAuth(); ok { // mockoidc reads only client_secret_post
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			http.Error(w, "bad basic auth", http.StatusBadRequest)
			return
		}
		r.Form.Set("client_id", id)
		r.Form.Set("client_secret", secret)
	}
	rec := httptest.NewRecorder()
	op.mock.Token(rec, r)
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	var resp map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		op.t.Errorf("testop: token response: %v", err)
		http.Error(w, "testop: bad token response", http.StatusInternalServerError)
		return
	}
	resp["expires_in"] = int(op.mock.AccessTTL.Seconds()) // mockoidc sends nanoseconds
	if idToken, ok := resp["id_token"].(string); ok && (len(op.tamper) > 0 || op.foreignNext) {
		signed, err := op.resign(idToken)
		if err != nil {
			op.t.Errorf("testop: re-sign ID token: %v", err)
			http.Error(w, "testop: re-sign failed", http.StatusInternalServerError)
			return
		}
		resp["id_token"] = signed
	}
	body, _ := json.Marshal(resp)
	rec.Body = bytes.NewBuffer(body)
	rec.Header().Del("Content-Length")
	copyResponse(w, rec)
}

// resign applies the pending tampering to idToken's claims and signs it
// again, with the OP's key or a foreign one.
func (op *OP) resign(idToken string) (string, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	claims := jwt.MapClaims{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	for _, f := range op.tamper {
		f(claims)
	}
	op.tamper = nil
	kp := op.mock.Keypair
	if op.foreignNext {
		op.foreignNext = false
		kid, err := kp.KeyID()
		if err != nil {
			return "", err
		}
		foreign, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return "", err
		}
		kp = &mockoidc.Keypair{PrivateKey: foreign, PublicKey: &foreign.PublicKey, Kid: kid}
	}
	return kp.SignJWT(claims)
}

// discovery serves mockoidc's discovery document with the
// end_session_endpoint and the iss parameter support added when on.
func (op *OP) discovery(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	op.mock.Discovery(rec, r)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		op.t.Errorf("testop: discovery: %v", err)
		http.Error(w, "testop: bad discovery", http.StatusInternalServerError)
		return
	}
	if op.endSession {
		doc["end_session_endpoint"] = op.mock.Addr() + EndSessionPath
	}
	if op.issParam {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	doc["code_challenge_methods_supported"] = []string{"S256"}
	body, _ := json.Marshal(doc)
	rec.Body = bytes.NewBuffer(body)
	copyResponse(w, rec)
}

// endSessionHandler is RP-Initiated Logout, as much as tests need: it
// records the request and sends the browser on.
func (op *OP) endSessionHandler(w http.ResponseWriter, r *http.Request) {
	op.lastEndSessionURL = op.mock.Addr() + r.URL.RequestURI()
	if next := r.URL.Query().Get("post_logout_redirect_uri"); next != "" {
		u, err := url.Parse(next)
		if err != nil || !u.IsAbs() {
			http.Error(w, "testop: bad post_logout_redirect_uri", http.StatusBadRequest)
			return
		}
		if state := r.URL.Query().Get("state"); state != "" {
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
		}
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	fmt.Fprintln(w, "signed out")
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// mockUser adapts a User to mockoidc's user interface.
func mockUser(u User) mockoidc.User { return &opUser{u} }

type opUser struct{ u User }

func (o *opUser) ID() string { return o.u.Subject }

// profile is the claims of the user the scopes grant; inToken says
// whether it is for the ID token (or for userinfo).
func (o *opUser) profile(scopes []string, inToken bool) map[string]any {
	c := map[string]any{"sub": o.u.Subject}
	for _, s := range scopes {
		switch s {
		case "email":
			if inToken && o.u.EmailOnlyInUserinfo {
				continue
			}
			if o.u.Email != "" {
				c["email"] = o.u.Email
				c["email_verified"] = o.u.EmailVerified
			}
		case "profile":
			if o.u.Name != "" {
				c["name"] = o.u.Name
			}
			if o.u.PreferredUsername != "" {
				c["preferred_username"] = o.u.PreferredUsername
			}
		}
	}
	if o.u.Groups != nil && !(inToken && o.u.GroupsOnlyInUserinfo) {
		c["groups"] = o.u.Groups
	}
	return c
}

func (o *opUser) Userinfo(scopes []string) ([]byte, error) {
	return json.Marshal(o.profile(scopes, false))
}

func (o *opUser) Claims(scopes []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := jwt.MapClaims(o.profile(scopes, true))
	// The registered claims and the nonce, as mockoidc made them.
	raw, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if len(o.u.AMR) > 0 {
		c["amr"] = o.u.AMR
	}
	if o.u.ACR != "" {
		c["acr"] = o.u.ACR
	}
	return c, nil
}

package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/oidclogin"
)

// External logins (OpenID Connect): the browser starts at
// BASE/external/{provider}/login, which keeps the flow (state, nonce, PKCE
// verifier, where to go afterwards) sealed in the flow cookie and sends the
// browser to the provider; the provider sends it back to
// BASE/external/{provider}/callback, which checks the flow against the
// cookie (package oidclogin) and lets the account service decide who that
// is and finish the login like any other. The same flow, started by POST
// BASE/external/{provider}/link for a logged-in user, links the account at
// the provider to that user instead.

// flowCookie carries the sealed oidclogin.FlowState from the start of an
// external login to its callback. SameSite=Lax, not Strict: the provider
// sends the browser back with a top-level cross-site redirect, on which a
// Strict cookie is not sent.
var flowCookie = hostCookie{"gh_oidc", http.SameSiteLaxMode}

// externalPendingCookie is pendingCookie (the same cookie) as the callback
// of an external login sets it: Lax, because the callback's 303 to the
// login page continues the provider's cross-site redirect, and browsers
// that judge a redirect chain by its initiator would not send a Strict
// cookie there. Lax sends it to no cross-site POST, and the second step is
// a POST.
var externalPendingCookie = hostCookie{pendingCookie.name, http.SameSiteLaxMode}

// flowTTL is how long an external login may take at the provider.
const flowTTL = 10 * time.Minute

// maxFlowRD is the longest rd the flow cookie keeps: browsers drop
// cookies over 4 KB, and a dropped flow cookie fails the login.
const maxFlowRD = 2000

// maxFlowCookie is the longest sealed flow the flow cookie carries, well
// under the 4096 bytes browsers keep of a cookie with its attributes.
const maxFlowCookie = 3800

var (
	errNoProvider = gatehouse.Errorf(gatehouse.CodeNotFound, "No such identity provider.")
	// errFlowLost is a callback without its flow: no flow cookie, one this
	// server did not seal or that expired, or one for another provider.
	errFlowLost = gatehouse.Errorf(gatehouse.CodeExternalLoginFailed, "This sign-in expired or was started elsewhere; start again.")
	// errLinkOtherUser is a link callback in a browser whose session is
	// not (or no longer) the user who started the link.
	errLinkOtherUser = gatehouse.Errorf(gatehouse.CodePermissionDenied, "The link was started by another login; log in as that user and start again.")
)

// useExternal checks the providers against the account service's (the
// same ids, each once) and keeps them.
func (s *Server) useExternal(ps []*oidclogin.Provider, sealer *oidclogin.Sealer) error {
	seen := map[string]bool{}
	for _, p := range ps {
		if p == nil {
			return errors.New("httpapi: Deps.External has a nil provider")
		}
		id := p.Config().ID
		if seen[id] {
			return fmt.Errorf("httpapi: Deps.External has provider %q twice", id)
		}
		seen[id] = true
		if _, ok := s.accounts.ExternalProvider(id); !ok {
			return fmt.Errorf("httpapi: Deps.External has provider %q, which the account service does not know", id)
		}
	}
	for _, ep := range s.accounts.ExternalProviders() {
		if !seen[ep.ID] {
			return fmt.Errorf("httpapi: the account service's provider %q is missing from Deps.External", ep.ID)
		}
	}
	if len(ps) > 0 && sealer == nil {
		return errors.New("httpapi: Deps.FlowSealer is required with Deps.External")
	}
	s.external, s.flows = ps, sealer
	return nil
}

// externalProvider returns the provider with id, nil when none.
func (s *Server) externalProvider(id string) *oidclogin.Provider {
	for _, p := range s.external {
		if p.Config().ID == id {
			return p
		}
	}
	return nil
}

// externalLoginURL is the path that starts a login with provider id,
// going to rd afterwards ("" for the default).
func (s *Server) externalLoginURL(id, rd string) string {
	u := s.base + "/external/" + url.PathEscape(id) + "/login"
	if rd != "" {
		u += "?" + url.Values{"rd": {rd}}.Encode()
	}
	return u
}

type externalView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Icon     string `json:"icon,omitempty"`
	LoginURL string `json:"loginUrl"`
}

// handleExternalList is GET BASE/external: the providers, for a login
// page's buttons.
func (s *Server) handleExternalList(w http.ResponseWriter, r *http.Request) error {
	list := make([]externalView, 0, len(s.external))
	for _, p := range s.external {
		c := p.Config()
		list = append(list, externalView{ID: c.ID, Name: c.Name, Icon: c.Icon, LoginURL: s.externalLoginURL(c.ID, "")})
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// handleExternalLogin is GET BASE/external/{provider}/login?rd=&remember=:
// the flow cookie and a 302 to the provider.
func (s *Server) handleExternalLogin(w http.ResponseWriter, r *http.Request) error {
	p := s.externalProvider(r.PathValue("provider"))
	if p == nil {
		return s.externalError(w, r, nil, errNoProvider)
	}
	q := r.URL.Query()
	authURL, err := s.startFlow(w, r, p, oidclogin.FlowState{RD: q.Get("rd"), Remember: checked(q.Get("remember"))})
	if err != nil {
		return s.externalError(w, r, p, err)
	}
	w.Header().Set("Location", authURL)
	w.WriteHeader(http.StatusFound)
	return nil
}

// startFlow begins an authorization at p for fs (its RD, Remember and
// LinkUser; the RD only when allowed), sets the flow cookie, and returns
// the provider's authorization URL. A provider that cannot be reached is
// 503 provider_unavailable.
func (s *Server) startFlow(w http.ResponseWriter, r *http.Request, p *oidclogin.Provider, fs oidclogin.FlowState) (string, error) {
	authURL, flow, err := p.Start(r.Context())
	if err != nil {
		s.log.WarnContext(r.Context(), "identity provider unavailable", "provider", p.Config().ID, "err", err)
		return "", providerUnavailable(p)
	}
	fs.Flow, fs.Provider = flow, p.Config().ID
	fs.RD = s.gw.allowedRedirect(fs.RD)
	if len(fs.RD) > maxFlowRD {
		fs.RD = "" // the cookie would outgrow what browsers keep
	}
	fs.ExpiresAt = s.now().Add(flowTTL)
	sealed, err := s.flows.Seal(fs)
	if err == nil && len(sealed) > maxFlowCookie && fs.RD != "" {
		// An rd that escapes long (JSON writes "&" as six bytes) would
		// make a cookie browsers drop: the login then goes to the
		// default place rather than failing.
		fs.RD = ""
		sealed, err = s.flows.Seal(fs)
	}
	if err != nil {
		return "", fmt.Errorf("seal the external login flow: %w", err)
	}
	s.setCookie(w, flowCookie, sealed, fs.ExpiresAt, s.in(r).secure)
	return authURL, nil
}

// checked reports whether a query flag (remember=on) is set.
func checked(v string) bool { return v == "on" || v == "true" || v == "1" }

func providerUnavailable(p *oidclogin.Provider) error {
	return gatehouse.Errorf(gatehouse.CodeProviderUnavailable, "%s cannot be reached right now; try again in a minute.", p.Config().Name)
}

// handleExternalCallback is GET BASE/external/{provider}/callback: the
// provider's answer, checked against the flow cookie (which it always
// clears, so a flow is finished once), then a login or a link. Its
// answers are for a browser: a redirect, or an error page (problem+json
// for a client that prefers JSON).
func (s *Server) handleExternalCallback(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("provider")
	secure := s.in(r).secure
	sealed := s.cookieValue(r, flowCookie)
	s.clearCookie(w, flowCookie, secure)
	p := s.externalProvider(id)
	if p == nil {
		return s.externalError(w, r, nil, errNoProvider)
	}
	ctx := r.Context()
	fs, reason := oidclogin.FlowState{}, "no flow cookie"
	if sealed != "" {
		var err error
		fs, err = s.flows.Open(sealed, s.now())
		switch {
		case err != nil:
			reason = "flow cookie refused"
		case fs.Provider != id:
			reason = "flow cookie of another provider"
		default:
			reason = ""
		}
	}
	if reason != "" {
		if fs.Provider != "" {
			// An authentic flow of this server, at the wrong callback.
			s.accounts.ExternalLoginFailed(ctx, account.Actor{Client: s.client(r)}, id, reason)
		} else {
			// No flow this server started: anyone can send this, as
			// often as they like, so it fills no audit log.
			s.log.InfoContext(r.Context(), "external login callback without a flow", "provider", id, "reason", reason, "client", s.client(r).Addr)
		}
		return s.externalError(w, r, p, errFlowLost)
	}
	claims, err := p.Finish(ctx, r.URL.Query(), fs.Flow)
	if err != nil {
		var refused *oidclogin.RefusedError
		if errors.As(err, &refused) {
			reason, err = refused.Reason, gatehouse.Errorf(gatehouse.CodeExternalLoginFailed, "Signing in with %s did not succeed (%s); start again.", p.Config().Name, refused.Reason)
		} else {
			s.log.WarnContext(r.Context(), "identity provider unavailable", "provider", id, "err", err)
			reason, err = "provider unavailable", providerUnavailable(p)
		}
		s.accounts.ExternalLoginFailed(ctx, account.Actor{Client: s.client(r)}, id, reason)
		return s.externalError(w, r, p, err)
	}
	ext := account.ExternalAssertion{
		Provider: id, Subject: claims.Subject, Email: claims.Email, EmailVerified: claims.EmailVerified,
		Name: claims.Name, Username: claims.PreferredUsername, Groups: claims.Groups,
		AMR: claims.AMR, ACR: claims.ACR, IDToken: claims.IDToken,
	}
	if fs.LinkUser != "" {
		return s.finishExternalLink(w, r, p, fs, ext)
	}
	prev, _ := s.sessions.ReadToken(r, secure)
	res, err := s.accounts.ExternalLogin(ctx, ext, account.LoginRequest{
		Remember: fs.Remember, Client: s.client(r), PreviousToken: prev, DeviceToken: s.cookieToken(r, deviceCookie),
	})
	if err != nil {
		return s.externalError(w, r, p, err)
	}
	rd := s.gw.allowedRedirect(fs.RD)
	s.setLoginCookies(w, r, res, externalPendingCookie)
	if res.PendingToken != "" {
		// The login page shows the second step to a browser with a live
		// pending login.
		q := url.Values{}
		if rd != "" {
			q.Set("rd", rd)
		}
		if fs.Remember {
			q.Set("remember", "on")
		}
		return seeOther(w, s.base+"/ui/login", q)
	}
	if s.pages != nil {
		return s.pages.LoginEnded(w, r, res, rd, fs.Remember)
	}
	if rd == "" {
		rd = "/"
	}
	return seeOther(w, rd, nil)
}

// finishExternalLink ends a link flow: the browser's session must still be
// the user who started it.
func (s *Server) finishExternalLink(w http.ResponseWriter, r *http.Request, p *oidclogin.Provider, fs oidclogin.FlowState, ext account.ExternalAssertion) error {
	c, err := s.cookieSession(r, false)
	if err != nil {
		return s.externalError(w, r, p, err)
	}
	if c == nil || c.user.ID != fs.LinkUser {
		s.accounts.ExternalLoginFailed(r.Context(), account.Actor{Client: s.client(r)}, p.Config().ID, "link finished by another session")
		return s.externalError(w, r, p, errLinkOtherUser)
	}
	if _, err := s.accounts.LinkIdentity(r.Context(), s.actor(r, c), ext); err != nil {
		return s.externalError(w, r, p, err)
	}
	loc := s.gw.allowedRedirect(fs.RD)
	if loc == "" {
		loc = "/"
	}
	return seeOther(w, loc, nil)
}

// seeOther answers 303 to loc with the query q (nil for none).
func seeOther(w http.ResponseWriter, loc string, q url.Values) error {
	if len(q) > 0 {
		loc += "?" + q.Encode()
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

type linkBody struct {
	RD string `json:"rd"`
}

// handleExternalLink is POST BASE/external/{provider}/link {"rd"?}: starts
// linking the caller's account at the provider (after a recent
// authentication; see the route). The answer names the authorization URL
// the page then sends the browser to.
func (s *Server) handleExternalLink(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body linkBody
	if !emptyBody(r) {
		if err := decodeJSON(w, r, &body); err != nil {
			return err
		}
	}
	id := r.PathValue("provider")
	p := s.externalProvider(id)
	if p == nil {
		return errNoProvider
	}
	if err := s.accounts.CanLink(r.Context(), s.actor(r, c), id); err != nil {
		return err
	}
	authURL, err := s.startFlow(w, r, p, oidclogin.FlowState{RD: body.RD, LinkUser: c.user.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirectUrl": authURL})
	return nil
}

type identityView struct {
	Provider      string    `json:"provider"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"emailVerified"`
	LinkedAt      time.Time `json:"linkedAt"`
	LastUsedAt    time.Time `json:"lastUsedAt"`
}

// writeIdentities answers the user's linked identities.
func (s *Server) writeIdentities(w http.ResponseWriter, r *http.Request, c *credentials, userID string) error {
	list, err := s.accounts.Identities(r.Context(), s.actor(r, c), userID)
	if err != nil {
		return err
	}
	out := make([]identityView, 0, len(list))
	for _, id := range list {
		name := id.Provider
		if p, ok := s.accounts.ExternalProvider(id.Provider); ok {
			name = p.Name
		}
		out = append(out, identityView{
			Provider: id.Provider, Name: name, Email: id.Email, EmailVerified: id.EmailVerified,
			LinkedAt: id.LinkedAt.UTC().Truncate(time.Second), LastUsedAt: id.LastUsedAt.UTC().Truncate(time.Second),
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleMyLogins is GET BASE/logins: the caller's linked external logins.
func (s *Server) handleMyLogins(w http.ResponseWriter, r *http.Request, c *credentials) error {
	return s.writeIdentities(w, r, c, c.user.ID)
}

// handleUnlinkMyLogin is DELETE BASE/logins/{provider}.
func (s *Server) handleUnlinkMyLogin(w http.ResponseWriter, r *http.Request, c *credentials) error {
	return s.unlink(w, r, c, c.user.ID)
}

// handleUserLogins is GET …/users/{id}/logins (management API).
func (s *Server) handleUserLogins(w http.ResponseWriter, r *http.Request, c *credentials) error {
	return s.writeIdentities(w, r, c, r.PathValue("id"))
}

// handleUnlinkUserLogin is DELETE …/users/{id}/logins/{provider}
// (management API).
func (s *Server) handleUnlinkUserLogin(w http.ResponseWriter, r *http.Request, c *credentials) error {
	return s.unlink(w, r, c, r.PathValue("id"))
}

func (s *Server) unlink(w http.ResponseWriter, r *http.Request, c *credentials, userID string) error {
	if err := s.accounts.UnlinkIdentity(r.Context(), s.actor(r, c), userID, r.PathValue("provider")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// signOutURL is where the browser goes to end its login at the provider
// whose login started sess too: ok is false for a session no provider
// started, or a provider without an end_session_endpoint.
func (s *Server) signOutURL(r *http.Request, sess *gatehouse.Session) (string, bool) {
	if sess == nil || sess.Provider == "" {
		return "", false
	}
	p := s.externalProvider(sess.Provider)
	if p == nil {
		return "", false
	}
	return p.SignOutURL(r.Context(), sess.IDToken)
}

// externalError answers err of an external-login endpoint a browser
// navigated to: the pages' error page (Pages.ExternalLoginFailed) with the
// status and what to do, or problem+json for a client that prefers JSON
// (or a server without pages). p is the provider, nil when unknown.
func (s *Server) externalError(w http.ResponseWriter, r *http.Request, p *oidclogin.Provider, err error) error {
	if prefersJSON(r) || s.pages == nil {
		return err
	}
	if storeFailure(err) {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		err = storeUnavailable(err)
	}
	code := gatehouse.ErrorCode(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	name := "The identity provider"
	if p != nil {
		name = p.Config().Name
	}
	msg := gatehouse.ErrorMessage(err)
	switch code {
	case gatehouse.CodeNotLinked:
		msg = "Your " + name + " account is not linked to a user here. Log in another way and link it from your account, or ask an administrator."
	case gatehouse.CodeProviderUnavailable:
		msg = name + " cannot be reached right now; try again in a minute."
	case gatehouse.CodeInvalidCredentials:
		// A disabled user: refused like a wrong password, without saying so.
		msg = "This account cannot log in here."
	}
	var ge *gatehouse.Error
	switch {
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case status == http.StatusTooManyRequests && errors.As(err, &ge):
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
	case status == http.StatusServiceUnavailable && code == gatehouse.CodeProviderUnavailable:
		w.Header().Set("Retry-After", "60")
	case status == http.StatusServiceUnavailable && errors.As(err, &ge):
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
	}
	return s.pages.ExternalLoginFailed(w, r, status, msg)
}

// retryAfter is d in whole seconds for a Retry-After header, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// prefersJSON reports whether r's Accept header puts JSON before HTML (a
// script calling an endpoint meant for browsers).
func prefersJSON(r *http.Request) bool {
	best, bestQ := "", -1.0
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if qs, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(qs, 64); err != nil {
					continue
				}
			}
			json := mt == "application/json" || mt == "application/problem+json"
			if (json || mt == "text/html") && q > bestQ {
				best, bestQ = mt, q
			}
		}
	}
	return best != "" && best != "text/html" && bestQ > 0
}

package httpapi

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// The login page of gateway mode (GET and POST BASE/ui/login): where forward
// auth and the reverse proxy send a browser that is not logged in. It works
// without JavaScript; the form posts to itself (a cross-origin post is
// refused like any other), and a login needs no CSRF token since there is
// no session yet. After the password, a user with a second factor gets a
// second form on the same page, tied to the pending-login cookie.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
label{display:block;margin-top:1rem;font-weight:600}input,select{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
label.check{font-weight:400}label.check input{width:auto;margin-right:.5rem}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit}.err{color:#b00020}.ok{color:#006b2e}
a.ext{display:block;margin-top:1rem;padding:.6rem 1.2rem;border:1px solid #767676;border-radius:4px;text-align:center;color:inherit;text-decoration:none}
</style></head><body>
<h1>Log in</h1>
{{range .Errors}}<p class="err">{{.}}</p>{{end}}
{{if .Notice}}<p class="ok">{{.Notice}}</p>{{end}}
{{if .Step2}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="step" value="2">
{{if .RD}}<input type="hidden" name="rd" value="{{.RD}}">{{end}}
{{if .Remember}}<input type="hidden" name="remember" value="on">{{end}}
<label for="provider">Verify with</label>
<select id="provider" name="provider">{{range .Providers}}<option value="{{.Value}}"{{if .Selected}} selected{{end}}>{{.Label}}</option>{{end}}</select>
<label for="code">Code</label>
<input id="code" name="code" required autocomplete="one-time-code" autofocus>
<label class="check"><input type="checkbox" name="remember_device" value="on">Do not ask again on this device</label>
<button type="submit">Verify</button>
</form>
{{range .Senders}}
<form method="post" action="{{$.Action}}">
<input type="hidden" name="step" value="send">
<input type="hidden" name="provider" value="{{.Value}}">
{{if $.RD}}<input type="hidden" name="rd" value="{{$.RD}}">{{end}}
{{if $.Remember}}<input type="hidden" name="remember" value="on">{{end}}
<button type="submit">{{.Label}}</button>
</form>
{{end}}
{{else}}
{{if not .LocalLoginDisabled}}
<form method="post" action="{{.Action}}">
{{if .RD}}<input type="hidden" name="rd" value="{{.RD}}">{{end}}
<label for="username">Username or email</label>
<input id="username" name="username" required autocomplete="username" value="{{.Username}}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" required autocomplete="current-password">
<label class="check"><input type="checkbox" name="remember" value="on"{{if .Remember}} checked{{end}}>Keep me logged in</label>
<button type="submit">Log in</button>
</form>
{{end}}
{{range .External}}<a class="ext" href="{{.URL}}">Log in with {{.Name}}</a>
{{end}}
{{end}}
</body></html>`))

type loginPageData struct {
	Action   string
	RD       string // where to go after the login; "" means /
	Username string
	Remember bool
	Step2    bool
	// Providers are the second factors the code may be of; Senders those
	// that can be sent (email, SMS), each with its button label.
	Providers []loginOption
	Senders   []loginOption
	Errors    []string
	Notice    string
	// External are the buttons of the external identity providers;
	// LocalLoginDisabled hides the password form (a provider's
	// deny_local_login).
	External           []externalButton
	LocalLoginDisabled bool
}

// externalButton starts a login with an identity provider.
type externalButton struct {
	Name, URL string
}

type loginOption struct {
	Value, Label string
	Selected     bool
}

var providerLabels = map[string]string{
	gatehouse.ProviderTOTP:         "Authenticator app",
	gatehouse.ProviderEmail:        "Code sent by email",
	gatehouse.ProviderSMS:          "Code sent by SMS",
	gatehouse.ProviderRecoveryCode: "Recovery code",
}

var sendLabels = map[string]string{
	gatehouse.ProviderEmail: "Send me a code by email",
	gatehouse.ProviderSMS:   "Send me a code by SMS",
}

func (s *Server) loginData(rd string) loginPageData {
	d := loginPageData{Action: s.base + "/ui/login", RD: s.gw.allowedRedirect(rd), LocalLoginDisabled: s.accounts.LocalLoginDisabled()}
	for _, p := range s.external {
		c := p.Config()
		d.External = append(d.External, externalButton{Name: c.Name, URL: s.externalLoginURL(c.ID, d.RD)})
	}
	return d
}

// secondStep turns d into the second-factor form for providers.
func (d *loginPageData) secondStep(providers []string, selected string) {
	d.Step2, d.Providers, d.Senders = true, nil, nil
	for _, p := range providers {
		if l, ok := providerLabels[p]; ok {
			d.Providers = append(d.Providers, loginOption{Value: p, Label: l, Selected: p == selected})
		}
		if l, ok := sendLabels[p]; ok {
			d.Senders = append(d.Senders, loginOption{Value: p, Label: l})
		}
	}
}

func checked(v string) bool { return v == "on" || v == "true" || v == "1" }

// handleLoginPage is GET BASE/ui/login?rd=…&remember=…: the login form
// (with a button per identity provider), or, for a browser with a live
// pending login (an external login owes its second factor here), the
// second-step form. An rd that may not be redirected to is dropped.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := s.loginData(q.Get("rd"))
	d.Remember = checked(q.Get("remember"))
	if token := s.cookieToken(r, pendingCookie); token != "" {
		providers, err := s.accounts.PendingProviders(r.Context(), token)
		switch {
		case err == nil:
			d.secondStep(providers, "")
		case gatehouse.ErrorCode(err) == gatehouse.CodeNoPendingLogin:
			s.clearCookie(w, pendingCookie, s.in(r).secure)
		default:
			return err
		}
	}
	return s.renderPage(w, http.StatusOK, loginPage, d)
}

// handleLoginForm is POST BASE/ui/login: step 1 (username and password),
// step=2 (the second factor's code) or step=send (send a code by email or
// SMS). A login ends with 303 to rd (or /).
func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := s.loginData(f.Get("rd"))
	d.Remember = checked(f.Get("remember"))
	switch f.Get("step") {
	case "", "1":
		d.Username = f.Get("username")
		secure := s.in(r).secure
		prev, _ := s.sessions.ReadToken(r, secure)
		res, err := s.accounts.Login(r.Context(), account.LoginRequest{
			Username: d.Username, Password: f.Get("password"), Remember: d.Remember,
			Client: s.client(r), PreviousToken: prev, DeviceToken: s.cookieToken(r, deviceCookie),
			KnownDevice: s.cookieValue(r, knownCookie),
		})
		if err != nil {
			return s.loginError(w, err, d)
		}
		return s.finishPageLogin(w, r, res, d)
	case "2":
		token, provider := s.cookieToken(r, pendingCookie), f.Get("provider")
		res, err := s.accounts.VerifyCode(r.Context(), account.VerifyRequest{
			Token: token, Provider: provider, Code: f.Get("code"), Remember: d.Remember,
			RememberDevice: checked(f.Get("remember_device")), Client: s.client(r),
			KnownDevice: s.cookieValue(r, knownCookie),
		})
		if err != nil {
			return s.secondStepError(w, r, err, d, token, provider)
		}
		s.clearCookie(w, pendingCookie, s.in(r).secure)
		return s.finishPageLogin(w, r, res, d)
	case "send":
		token, provider := s.cookieToken(r, pendingCookie), f.Get("provider")
		if err := s.accounts.SendCode(r.Context(), token, provider, s.client(r)); err != nil {
			return s.secondStepError(w, r, err, d, token, provider)
		}
		providers, err := s.accounts.PendingProviders(r.Context(), token)
		if err != nil {
			return s.secondStepError(w, r, err, d, token, provider)
		}
		d.secondStep(providers, provider)
		d.Notice = "A code was sent. It is valid for a few minutes."
		return s.renderPage(w, http.StatusOK, loginPage, d)
	default:
		return badRequest("The login step is not one of 1, 2 or send.")
	}
}

// finishPageLogin answers a right password or code: the second-factor form,
// or the session cookie and 303 to rd.
func (s *Server) finishPageLogin(w http.ResponseWriter, r *http.Request, res *account.LoginResult, d loginPageData) error {
	secure := s.in(r).secure
	if res.PendingToken != "" {
		s.setCookie(w, pendingCookie, res.PendingToken, res.PendingExpiresAt, secure)
		d.secondStep(res.Providers, "")
		return s.renderPage(w, http.StatusOK, loginPage, d)
	}
	s.setLoginCookies(w, r, res)
	if res.EnrolmentRequired {
		// A partial session, good only for enrolling a second factor
		// (POST BASE/2fa/totp) and logout, as POST BASE/session gives.
		d.Errors = []string{"Your account must set up two-factor authentication (an authenticator app) before it can be used here. Set it up in the application, or ask an administrator."}
		return s.renderPage(w, http.StatusForbidden, loginPage, d)
	}
	loc := d.RD
	if loc == "" {
		loc = "/"
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// loginError shows a refused password step on the form. Every refusal that
// involves the name reads the same, whether the user exists or not.
func (s *Server) loginError(w http.ResponseWriter, err error, d loginPageData) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	status := http.StatusOK
	switch ge.Code {
	case gatehouse.CodeValidation:
		status, d.Errors = http.StatusUnprocessableEntity, messages(ge)
	case gatehouse.CodeInvalidCredentials:
		status, d.Errors = http.StatusUnauthorized, []string{"Invalid username or password."}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case gatehouse.CodeTooManyAttempts:
		status, d.Errors = http.StatusTooManyRequests, []string{tooManyText(ge.RetryAfter)}
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
	case gatehouse.CodeLocalLoginDisabled:
		status, d.Errors = http.StatusForbidden, []string{ge.Message}
	default:
		return err
	}
	return s.renderPage(w, status, loginPage, d)
}

// secondStepError shows a refused code (or code sending) on the
// second-factor form; when the pending login is gone, the password form.
func (s *Server) secondStepError(w http.ResponseWriter, r *http.Request, err error, d loginPageData, token, provider string) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	status := http.StatusOK
	switch ge.Code {
	case gatehouse.CodeNoPendingLogin:
		return s.loginExpired(w, r, d, nil)
	case gatehouse.CodeInvalidCode:
		status, d.Errors = http.StatusUnauthorized, []string{"The code is not right."}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case gatehouse.CodeTooManyAttempts:
		status, d.Errors = http.StatusTooManyRequests, []string{tooManyText(ge.RetryAfter)}
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
	case gatehouse.CodeValidation:
		status, d.Errors = http.StatusUnprocessableEntity, messages(ge)
	default:
		return err
	}
	providers, perr := s.accounts.PendingProviders(r.Context(), token)
	if gatehouse.ErrorCode(perr) == gatehouse.CodeNoPendingLogin {
		// Too many wrong codes end the pending login.
		w.Header().Del("WWW-Authenticate")
		w.Header().Del("Retry-After")
		return s.loginExpired(w, r, d, d.Errors)
	}
	if perr != nil {
		return perr
	}
	d.secondStep(providers, provider)
	return s.renderPage(w, status, loginPage, d)
}

// loginExpired shows the password form again: the pending login is over.
func (s *Server) loginExpired(w http.ResponseWriter, r *http.Request, d loginPageData, errs []string) error {
	s.clearCookie(w, pendingCookie, s.in(r).secure)
	d.Step2, d.Errors = false, errs
	d.Notice = ""
	d.Errors = append(d.Errors, "Your login has expired or was ended. Please log in again.")
	return s.renderPage(w, http.StatusOK, loginPage, d)
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// tooManyText says how long a throttled login must wait.
func tooManyText(d time.Duration) string {
	switch {
	case d <= 0:
		return "Too many failed attempts. Please try again later."
	case d < time.Minute:
		return "Too many failed attempts. Try again in " + retryAfter(d) + " seconds."
	default:
		m := int((d + time.Minute - 1) / time.Minute)
		if m == 1 {
			return "Too many failed attempts. Try again in about a minute."
		}
		return "Too many failed attempts. Try again in about " + strconv.Itoa(m) + " minutes."
	}
}

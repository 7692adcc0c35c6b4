package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The login page (GET and POST BASE/ui/login): where forward auth and the
// reverse proxy send a browser that is not logged in. It works without
// JavaScript; the form posts to itself (a cross-origin post is refused
// like any other), and a login needs no CSRF token since there is no
// session yet. After the password, a user with a second factor gets a
// second form on the same page, tied to the pending-login cookie.

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
	External           []httpapi.ExternalButton
	LocalLoginDisabled bool
	// ForgotURL is the forgot-password page, "" when reset is off.
	ForgotURL string
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

// loginData is the login page going to rd afterwards (dropped when it may
// not be redirected to).
func (p *Pages) loginData(rd string) loginPageData {
	d := loginPageData{
		Action: p.base + "/ui/login", RD: p.browser.AllowedRedirect(rd),
		LocalLoginDisabled: p.accounts.LocalLoginDisabled(), External: p.browser.ExternalButtons(rd),
	}
	if p.forgotOffered() {
		d.ForgotURL = p.base + "/ui/forgot"
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
func (p *Pages) handleLoginPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := p.loginData(q.Get("rd"))
	d.Remember = checked(q.Get("remember"))
	if token := p.browser.PendingToken(r); token != "" {
		providers, err := p.accounts.PendingProviders(r.Context(), token)
		switch {
		case err == nil:
			d.secondStep(providers, "")
		case gatehouse.ErrorCode(err) == gatehouse.CodeNoPendingLogin:
			p.browser.ClearPending(w, r)
		default:
			return err
		}
	}
	return render(w, http.StatusOK, p.views.login, d)
}

// handleLoginForm is POST BASE/ui/login: step 1 (username and password),
// step=2 (the second factor's code) or step=send (send a code by email or
// SMS). A login ends with 303 to rd (or /).
func (p *Pages) handleLoginForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := p.loginData(f.Get("rd"))
	d.Remember = checked(f.Get("remember"))
	switch f.Get("step") {
	case "", "1":
		d.Username = f.Get("username")
		req := p.browser.LoginRequest(r)
		req.Username, req.Password, req.Remember = d.Username, f.Get("password"), d.Remember
		res, err := p.accounts.Login(r.Context(), req)
		if err != nil {
			return p.loginError(w, err, d)
		}
		return p.finishLogin(w, r, res, d)
	case "2":
		token, provider := p.browser.PendingToken(r), f.Get("provider")
		res, err := p.accounts.VerifyCode(r.Context(), account.VerifyRequest{
			Token: token, Provider: provider, Code: f.Get("code"), Remember: d.Remember,
			RememberDevice: checked(f.Get("remember_device")), Client: p.browser.Client(r),
			KnownDevice: p.browser.KnownDevice(r),
		})
		if err != nil {
			return p.secondStepError(w, r, err, d, token, provider)
		}
		p.browser.ClearPending(w, r)
		return p.finishLogin(w, r, res, d)
	case "send":
		token, provider := p.browser.PendingToken(r), f.Get("provider")
		if err := p.accounts.SendCode(r.Context(), token, provider, p.browser.Client(r)); err != nil {
			return p.secondStepError(w, r, err, d, token, provider)
		}
		providers, err := p.accounts.PendingProviders(r.Context(), token)
		if err != nil {
			return p.secondStepError(w, r, err, d, token, provider)
		}
		d.secondStep(providers, provider)
		d.Notice = "A code was sent. It is valid for a few minutes."
		return render(w, http.StatusOK, p.views.login, d)
	default:
		return gatehouse.Errorf(gatehouse.CodeBadRequest, "The login step is not one of 1, 2 or send.")
	}
}

// finishLogin answers a right password or code: its cookies, then the
// second-factor form, or 303 to rd.
func (p *Pages) finishLogin(w http.ResponseWriter, r *http.Request, res *account.LoginResult, d loginPageData) error {
	p.browser.EndLogin(w, r, res)
	if res.PendingToken != "" {
		d.secondStep(res.Providers, "")
		return render(w, http.StatusOK, p.views.login, d)
	}
	return p.loginEnded(w, res, d)
}

// loginEnded answers a login that started a session (its cookies set):
// 303 to rd, else to the account page — which, for the partial session
// of a user who must set up two-factor first, is the enrolment.
func (p *Pages) loginEnded(w http.ResponseWriter, res *account.LoginResult, d loginPageData) error {
	loc := d.RD
	if loc == "" || res.EnrolmentRequired {
		loc = p.base + "/ui/account"
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// LoginEnded answers the external-login callback's login that started a
// session (see httpapi.Pages).
func (p *Pages) LoginEnded(w http.ResponseWriter, r *http.Request, res *account.LoginResult, rd string, remember bool) error {
	d := p.loginData(rd)
	d.Remember = remember
	return p.loginEnded(w, res, d)
}

// loginError shows a refused password step on the form. Every refusal that
// involves the name reads the same, whether the user exists or not.
func (p *Pages) loginError(w http.ResponseWriter, err error, d loginPageData) error {
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
	return render(w, status, p.views.login, d)
}

// secondStepError shows a refused code (or code sending) on the
// second-factor form; when the pending login is gone, the password form.
func (p *Pages) secondStepError(w http.ResponseWriter, r *http.Request, err error, d loginPageData, token, provider string) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	status := http.StatusOK
	switch ge.Code {
	case gatehouse.CodeNoPendingLogin:
		return p.loginExpired(w, r, d, nil)
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
	providers, perr := p.accounts.PendingProviders(r.Context(), token)
	if gatehouse.ErrorCode(perr) == gatehouse.CodeNoPendingLogin {
		// Too many wrong codes end the pending login.
		w.Header().Del("WWW-Authenticate")
		w.Header().Del("Retry-After")
		return p.loginExpired(w, r, d, d.Errors)
	}
	if perr != nil {
		return perr
	}
	d.secondStep(providers, provider)
	return render(w, status, p.views.login, d)
}

// loginExpired shows the password form again: the pending login is over.
func (p *Pages) loginExpired(w http.ResponseWriter, r *http.Request, d loginPageData, errs []string) error {
	p.browser.ClearPending(w, r)
	d.Step2, d.Errors = false, errs
	d.Notice = ""
	d.Errors = append(d.Errors, "Your login has expired or was ended. Please log in again.")
	return render(w, http.StatusOK, p.views.login, d)
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

package httpapi

import (
	"errors"
	"html/template"
	"net/http"
	"sort"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/csrf"
)

// The pages behind mailed links: they work without JavaScript, and opening
// one (as a mail scanner does) never uses its token; only the form post
// does.
var linkPages = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
label{display:block;margin-top:1rem;font-weight:600}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit}.err{color:#b00020}.ok{color:#006b2e}
</style></head><body>
<h1>{{.Title}}</h1>
{{if .Done}}<p class="ok">{{.Done}}</p>
{{else if .Invalid}}<p class="err">This link is not valid: it was used already, has expired, or a newer one was sent.</p>
{{else}}
{{range .Errors}}<p class="err">{{.}}</p>{{end}}
{{if .Intro}}<p>{{.Intro}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="userId" value="{{.UserID}}">
<input type="hidden" name="token" value="{{.Token}}">
<label for="password">New password (at least {{.MinLength}} characters)</label>
<input id="password" name="password" type="password" required autocomplete="new-password">
<button type="submit">{{.Button}}</button>
</form>{{end}}
</body></html>`))

type linkPageData struct {
	Title, Intro, Action, Button string
	UserID, Token                string
	MinLength                    int
	Errors                       []string
	Done                         string
	Invalid                      bool
}

func (s *Server) renderLinkPage(w http.ResponseWriter, status int, d linkPageData) error {
	return s.renderPage(w, status, linkPages, d)
}

func (s *Server) resetPageData(r *http.Request) linkPageData {
	q := r.URL.Query()
	return linkPageData{
		Title: "Choose a new password", Action: s.base + "/ui/reset", Button: "Set password",
		UserID: q.Get("userId"), Token: q.Get("token"), MinLength: s.accounts.Policy().MinLength,
	}
}

// handleResetPage is GET BASE/ui/reset: the form behind a reset link.
func (s *Server) handleResetPage(w http.ResponseWriter, r *http.Request) error {
	d := s.resetPageData(r)
	d.Invalid = d.UserID == "" || d.Token == ""
	return s.renderLinkPage(w, http.StatusOK, d)
}

// handleResetForm is POST BASE/ui/reset.
func (s *Server) handleResetForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := linkPageData{Title: "Choose a new password", Action: s.base + "/ui/reset", Button: "Set password",
		UserID: f.Get("userId"), Token: f.Get("token"), MinLength: s.accounts.Policy().MinLength}
	if s.accounts.LocalLoginDisabled() {
		// An operator's recovery link: it logs the user in, through the
		// login page's second step when one is owed.
		res, err := s.recoverAccess(r, d.UserID, d.Token, f.Get("password"))
		if err != nil {
			return s.linkPageError(w, err, d)
		}
		return s.finishPageLogin(w, r, res, s.loginData(""))
	}
	err = s.accounts.ResetPassword(r.Context(), d.UserID, d.Token, f.Get("password"), s.client(r))
	if err == nil {
		d.Done = "Your password was changed. You can log in with it now."
		return s.renderLinkPage(w, http.StatusOK, d)
	}
	return s.linkPageError(w, err, d)
}

// handleInvitePage is GET BASE/ui/invite: the form behind an invitation.
func (s *Server) handleInvitePage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := linkPageData{Title: "Accept your invitation", Intro: "Choose a password to activate your account.",
		Action: s.base + "/ui/invite", Button: "Activate account",
		UserID: q.Get("userId"), Token: q.Get("token"), MinLength: s.accounts.Policy().MinLength}
	d.Invalid = d.UserID == "" || d.Token == ""
	return s.renderLinkPage(w, http.StatusOK, d)
}

// handleInviteForm is POST BASE/ui/invite: verifies the invitation and sets
// the password in one step, then logs the new user in.
func (s *Server) handleInviteForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := linkPageData{Title: "Accept your invitation", Intro: "Choose a password to activate your account.",
		Action: s.base + "/ui/invite", Button: "Activate account",
		UserID: f.Get("userId"), Token: f.Get("token"), MinLength: s.accounts.Policy().MinLength}
	// One step: the link is checked first (so only a link holder learns
	// what the password rules say about the user), then the password, and
	// the link is used up only once the password is hashed, so a refused
	// password or a busy server leaves it valid.
	secure := s.in(r).secure
	sm := s.sessions
	prev, _ := sm.ReadToken(r, secure)
	res, err := s.accounts.AcceptInviteLink(r.Context(), d.UserID, d.Token, f.Get("password"), s.client(r), prev)
	if err != nil {
		return s.linkPageError(w, err, d)
	}
	sm.SetCookie(w, res.Token, res.Session, secure)
	csrf.SetCookie(w, csrf.Token(res.Token), secure, s.cookieDomain)
	d.Done = "Welcome, " + res.User.Username + ": your account is active and you are logged in."
	return s.renderLinkPage(w, http.StatusOK, d)
}

// linkPageError shows a use-case error on a link page: the form again with
// what is wrong, or the invalid-link notice.
func (s *Server) linkPageError(w http.ResponseWriter, err error, d linkPageData) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	switch ge.Code {
	case gatehouse.CodeInvalidToken, gatehouse.CodeNotInvited, gatehouse.CodeUnauthenticated:
		d.Invalid = true
		return s.renderLinkPage(w, http.StatusBadRequest, d)
	case gatehouse.CodeValidation, gatehouse.CodePasswordPolicy:
		d.Errors = messages(ge)
		return s.renderLinkPage(w, http.StatusUnprocessableEntity, d)
	default:
		return err
	}
}

// messages lists what a validation or policy error says, for a page.
func messages(ge *gatehouse.Error) []string {
	keys := make([]string, 0, len(ge.Fields))
	for k := range ge.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, ge.Fields[k])
	}
	for _, v := range ge.Rules {
		out = append(out, v.Message)
	}
	if len(out) == 0 {
		out = []string{ge.Message}
	}
	return out
}

func readForm(w http.ResponseWriter, r *http.Request) (formValues, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("The form could not be read.")
	}
	return formValues(r.PostForm), nil
}

type formValues map[string][]string

func (f formValues) Get(k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

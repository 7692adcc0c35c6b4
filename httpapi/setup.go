package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

type setupBody struct {
	Token    string `json:"token"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// handleSetup is POST BASE/setup: the one-time creation of the first
// administrator with the token printed at first start.
func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) error {
	var body setupBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	u, err := s.accounts.CompleteSetup(r.Context(), body.Token, account.NewUser{
		Username: body.Username, Email: body.Email, Name: body.Name, Password: body.Password,
	})
	if err != nil {
		return err
	}
	uv, err := s.userView(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": uv})
	return nil
}

// pageCSP lets the server-rendered pages use their inline style and post
// forms to themselves, and nothing else.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var setupPage = template.Must(template.New("setup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse · first administrator</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
label{display:block;margin-top:1rem;font-weight:600}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit}.err{color:#b00020}.ok{color:#006b2e}
</style></head><body>
<h1>Create the first administrator</h1>
{{if .Done}}<p class="ok">The administrator <strong>{{.Username}}</strong> was created. You can now log in.</p>
{{else if .NoToken}}<p class="err">This setup link is not valid: it was used already, or the server was restarted (a restart prints a new link while no user exists).</p>
{{else}}
{{range .Errors}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<label for="username">Username</label><input id="username" name="username" required autocomplete="username" value="{{.Username}}">
<label for="email">Email</label><input id="email" name="email" type="email" required autocomplete="email" value="{{.Email}}">
<label for="name">Name</label><input id="name" name="name" autocomplete="name" value="{{.Name}}">
<label for="password">Password (at least {{.MinLength}} characters)</label><input id="password" name="password" type="password" required autocomplete="new-password">
<button type="submit">Create administrator</button>
</form>{{end}}
</body></html>`))

type setupPageData struct {
	Action, Token, Username, Email, Name string
	MinLength                            int
	Errors                               []string
	Done, NoToken                        bool
}

// handleSetupPage is GET BASE/ui/setup?token=…: the form behind the setup
// link. Opening it does not use the token up; only the form post does.
func (s *Server) handleSetupPage(w http.ResponseWriter, r *http.Request) error {
	d := setupPageData{Action: s.base + "/ui/setup", Token: r.URL.Query().Get("token"), MinLength: s.accounts.Policy().MinLength}
	d.NoToken = d.Token == "" || !s.accounts.SetupPending()
	return s.renderSetup(w, http.StatusOK, d)
}

// handleSetupForm is POST BASE/ui/setup: the form version of POST BASE/setup,
// so the first administrator can be created without a script.
func (s *Server) handleSetupForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := setupPageData{
		Action: s.base + "/ui/setup", Token: f.Get("token"),
		Username: f.Get("username"), Email: f.Get("email"), Name: f.Get("name"),
		MinLength: s.accounts.Policy().MinLength,
	}
	u, err := s.accounts.CompleteSetup(r.Context(), d.Token, account.NewUser{
		Username: d.Username, Email: d.Email, Name: d.Name, Password: f.Get("password"),
	})
	var ge *gatehouse.Error
	switch {
	case err == nil:
		d.Done, d.Username = true, u.Username
		return s.renderSetup(w, http.StatusCreated, d)
	case gatehouse.ErrorCode(err) == gatehouse.CodeInvalidToken:
		d.NoToken = true
		return s.renderSetup(w, http.StatusBadRequest, d)
	case errors.As(err, &ge) && (ge.Code == gatehouse.CodeValidation || ge.Code == gatehouse.CodePasswordPolicy || ge.Code == gatehouse.CodeConflict):
		d.Errors = messages(ge)
		return s.renderSetup(w, http.StatusUnprocessableEntity, d)
	default:
		return err
	}
}

func (s *Server) renderSetup(w http.ResponseWriter, status int, d setupPageData) error {
	return s.renderPage(w, status, setupPage, d)
}

// renderPage renders a server-side page, whole or not at all.
func (s *Server) renderPage(w http.ResponseWriter, status int, t *template.Template, d any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"sync"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pageCSP lets a page load the stylesheet and post its forms to itself,
// and nothing else: no inline style or script, no frames.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// scriptPageCSP is pageCSP for a page with a script file (it defines the
// template "script"): scripts from this origin, and requests back to it
// (the timeout warning's, the password policy's). Other pages keep
// pageCSP, with no script at all.
const scriptPageCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// views are the parsed pages, each the layout with its page file.
type views struct {
	login, setup, link, externalError    *template.Template
	account, reauth, tokenCreated, enrol *template.Template
	recoveryCodes, forgot                *template.Template

	// The admin console's pages (admin*.go).
	adminHome, adminForbidden            *template.Template
	adminUsers, adminUser, adminSessions *template.Template
	adminGroups, adminGroup              *template.Template
	adminAudit, adminRoutes              *template.Template
}

// parseViews parses the embedded templates for the base path base (the
// asset links carry it). A template that does not parse is a build
// mistake, caught by every test: it panics.
func parseViews(base string) views {
	funcs := template.FuncMap{"asset": func(name string) (string, error) { return assetURL(base, name) }, "proofOf": proofOf}
	parse := func(page string) *template.Template {
		return template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/new_password.html", "templates/"+page))
	}
	// A console page is the layout, the console's navigation and the page,
	// with the parts it shares with other pages (more).
	admin := func(page string, more ...string) *template.Template {
		files := []string{"templates/layout.html", "templates/admin_nav.html", "templates/" + page}
		for _, m := range more {
			files = append(files, "templates/"+m)
		}
		return template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, files...))
	}
	return views{
		adminHome:      admin("admin_home.html"),
		adminForbidden: admin("admin_forbidden.html"),
		adminUsers:     admin("admin_users.html"),
		adminUser:      admin("admin_user.html"),
		adminSessions:  admin("admin_sessions.html"),
		adminGroups:    admin("admin_groups.html", "admin_group_form.html"),
		adminGroup:     admin("admin_group.html", "admin_group_form.html"),
		adminAudit:     admin("admin_audit.html"),
		adminRoutes:    admin("admin_routes.html"),
		login:          parse("login.html"),
		setup:          parse("setup.html"),
		link:           parse("link.html"),
		externalError:  parse("external_error.html"),
		account:        parse("account.html"),
		reauth:         parse("reauth.html"),
		tokenCreated:   parse("token_created.html"),
		enrol:          parse("enrol.html"),
		recoveryCodes:  parse("recovery_codes.html"),
		forgot:         parse("forgot.html"),
	}
}

// pageBuffers are the buffers render executes pages into, reused: a page
// listing 100 sessions is some 60 KB, grown anew for every request
// otherwise, which the garbage collector then makes every request pay for
// (BENCHMARKS.md, "Pages").
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer bounds the buffers kept for reuse, so that one huge page
// does not stay in memory.
const maxPooledBuffer = 1 << 20

// render writes a page with status, whole or not at all.
func render(w http.ResponseWriter, status int, t *template.Template, d any) error {
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			pageBuffers.Put(buf)
		}
	}()
	if err := t.Execute(buf, d); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	csp := pageCSP
	if t.Lookup("script") != nil {
		csp = scriptPageCSP
	}
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

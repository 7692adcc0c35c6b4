package mail

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
)

// The kinds of mail gatehouse sends, each with its own templates, and the
// fields of [Data] each uses besides Product, PublicURL, Username and Name.
const (
	// KindInvite invites a new user to choose a password: Link, ExpiresIn.
	KindInvite = "invite"
	// KindReset carries a password reset link: Link, ExpiresIn, and
	// optionally ClientAddr.
	KindReset = "reset"
	// KindPasswordChanged tells a user their password changed: Time,
	// ClientAddr, and optionally Link to the forgotten-password page.
	KindPasswordChanged = "password_changed"
	// KindEmailChanged tells a user, at the old address, that their email
	// address changed: Email (the new address), Time, ClientAddr.
	KindEmailChanged = "email_changed"
	// KindAccountLocked tells a user that failed logins locked their
	// account: Until, ClientAddr, and optionally Link to the
	// forgotten-password page.
	KindAccountLocked = "account_locked"
	// KindTwoFactorCode carries a one-time sign-in code: Code, ExpiresIn.
	KindTwoFactorCode = "two_factor_code"
	// KindTwoFactorAdded tells a user a second factor was added: Time,
	// ClientAddr.
	KindTwoFactorAdded = "two_factor_added"
	// KindTwoFactorRemoved tells a user a second factor was removed: Time,
	// ClientAddr.
	KindTwoFactorRemoved = "two_factor_removed"
)

// kinds lists every kind of mail, in a stable order.
var kinds = []string{
	KindInvite, KindReset, KindPasswordChanged, KindEmailChanged,
	KindAccountLocked, KindTwoFactorCode, KindTwoFactorAdded, KindTwoFactorRemoved,
}

// Data is what a template can use. Which fields a kind uses is listed with
// the Kind constants; templates leave out what is zero.
type Data struct {
	// Product names the product: "gatehouse" or the configured name.
	Product string
	// PublicURL is the configured public URL; links are built from it,
	// never from a request's Host header.
	PublicURL string
	// Username, Name and Email describe the user the message is about.
	Username, Name, Email string
	// Link is the one-time link of an invitation or a password reset.
	Link string
	// Code is a one-time code, such as a two-factor code.
	Code string
	// ExpiresIn is how long Link or Code stays valid.
	ExpiresIn time.Duration
	// Time is when the event the message reports happened.
	Time time.Time
	// ClientAddr is the address of the client that caused the event.
	ClientAddr string
	// Until is when a locked account unlocks.
	Until time.Time
}

// sampleData is used to try every template when it is loaded, so that a
// template naming a field that does not exist fails at start, not when the
// first message of its kind is sent.
var sampleData = Data{
	Product: "gatehouse", PublicURL: "https://auth.example.com",
	Username: "alice", Name: "Alice", Email: "alice@example.com",
	Link: "https://auth.example.com/auth/reset?token=sample", Code: "123456",
	ExpiresIn: time.Hour, Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	ClientAddr: "192.0.2.1", Until: time.Date(2025, 1, 2, 3, 19, 5, 0, time.UTC),
}

//go:embed templates
var builtin embed.FS

// Templates renders the subject, text body and HTML body of each kind of
// mail. It is safe for concurrent use.
//
// Subjects and text bodies are text/template templates, HTML bodies
// html/template ones, which escape the data they insert. Besides the
// standard functions, templates can use:
//
//	duration  a time.Duration in words: "1 hour", "3 days", "1 hour 30 minutes"
//	datetime  a time.Time in UTC: "2 January 2025, 15:04 UTC"
//
// Both return "" for a zero value, so {{with duration .ExpiresIn}} works.
type Templates struct {
	kinds map[string]*kindTemplates
}

// kindTemplates are the templates of one kind.
type kindTemplates struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

// funcs are the functions templates can use besides the standard ones.
var funcs = map[string]any{
	"duration": formatDuration,
	"datetime": formatTime,
}

// LoadTemplates returns the built-in templates overridden by those in dir.
// An empty dir means the built-in templates only.
//
// In dir, the files <kind>.subject.txt, <kind>.txt and <kind>.html each
// replace one built-in template, so an operator overrides exactly what they
// want; the others stay built in. An HTML override that renders to nothing
// but white space sends the kind as plain text only. A .txt or .html file
// that is not one of these is an error (it is probably a misspelt name), as
// is a template that fails to parse or to render with sample data; the error
// names the file and the line.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{kinds: make(map[string]*kindTemplates, len(kinds))}
	builtinFS, err := fs.Sub(builtin, "templates")
	if err != nil {
		return nil, fmt.Errorf("mail: built-in templates: %w", err)
	}
	for _, kind := range kinds {
		k := &kindTemplates{}
		if k.subject, err = parseText(builtinFS, "built-in", kind+".subject.txt"); err != nil {
			return nil, err
		}
		if k.text, err = parseText(builtinFS, "built-in", kind+".txt"); err != nil {
			return nil, err
		}
		if k.html, err = parseHTML(builtinFS, "built-in", kind+".html"); err != nil {
			return nil, err
		}
		t.kinds[kind] = k
	}
	if dir == "" {
		return t, nil
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	fsys := os.DirFS(dir)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".html")) {
			continue
		}
		kind, part, _ := strings.Cut(name, ".")
		k := t.kinds[kind]
		if k == nil || !slices.Contains([]string{"subject.txt", "txt", "html"}, part) {
			return nil, fmt.Errorf("mail: template %s: not a template name: expected <kind>.subject.txt, <kind>.txt or <kind>.html with kind one of %s",
				filepath.Join(dir, name), strings.Join(kinds, ", "))
		}
		var err error
		switch part {
		case "subject.txt":
			k.subject, err = parseText(fsys, dir, name)
		case "txt":
			k.text, err = parseText(fsys, dir, name)
		case "html":
			k.html, err = parseHTML(fsys, dir, name)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, kind := range kinds {
		if _, _, _, err := t.kinds[kind].render(sampleData); err != nil {
			return nil, fmt.Errorf("mail: templates in %s fail with sample data: %w", dir, err)
		}
	}
	return t, nil
}

// parseText parses the text template name of fsys. The template is named
// after the file, so that parse and execution errors name file and line.
func parseText(fsys fs.FS, dir, name string) (*texttemplate.Template, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("mail: template %s: %w", filepath.Join(dir, name), err)
	}
	t, err := texttemplate.New(name).Funcs(funcs).Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("mail: template %s: %w", filepath.Join(dir, name), err)
	}
	return t, nil
}

// parseHTML is parseText for an html/template template.
func parseHTML(fsys fs.FS, dir, name string) (*htmltemplate.Template, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("mail: template %s: %w", filepath.Join(dir, name), err)
	}
	t, err := htmltemplate.New(name).Funcs(funcs).Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("mail: template %s: %w", filepath.Join(dir, name), err)
	}
	return t, nil
}

// ErrUnknownKind is returned by [Templates.Render] for a kind it has no
// templates for.
var ErrUnknownKind = errors.New("mail: unknown kind of mail")

// Render returns the subject, text body and HTML body of a message of kind
// for d; an empty d.Product means "gatehouse". The subject is one line,
// trimmed; html is "" when the kind's HTML template renders to nothing but
// white space. A kind without templates (not one of the Kind constants) is
// ErrUnknownKind.
func (t *Templates) Render(kind string, d Data) (subject, text, html string, err error) {
	k := t.kinds[kind]
	if k == nil {
		return "", "", "", fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	if d.Product == "" {
		d.Product = "gatehouse"
	}
	subject, text, html, err = k.render(d)
	if err != nil {
		return "", "", "", fmt.Errorf("mail: render %s mail: %w", kind, err)
	}
	return subject, text, html, nil
}

// render executes the templates of k. Execution errors name the template's
// file and line.
func (k *kindTemplates) render(d Data) (subject, text, html string, err error) {
	var b strings.Builder
	if err := k.subject.Execute(&b, d); err != nil {
		return "", "", "", err
	}
	subject = strings.TrimSpace(b.String())
	if hasLineBreak(subject) {
		// A line break would end the Subject header: refuse rather than
		// let data write headers of its own.
		return "", "", "", fmt.Errorf("the subject (%s) contains a line break", k.subject.Name())
	}
	b.Reset()
	if err := k.text.Execute(&b, d); err != nil {
		return "", "", "", err
	}
	text = b.String()
	b.Reset()
	if err := k.html.Execute(&b, d); err != nil {
		return "", "", "", err
	}
	html = b.String()
	if strings.TrimSpace(html) == "" {
		html = ""
	}
	return subject, text, html, nil
}

// formatDuration writes d in words, to the minute (to the second below one
// minute), with at most its two largest units: "3 days", "1 hour 30 minutes".
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d < time.Minute {
		return plural(int((d+time.Second-1)/time.Second), "second")
	}
	d = (d + 30*time.Second).Truncate(time.Minute)
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}}
	var parts []string
	for _, u := range units {
		if n := int(d / u.size); n > 0 {
			parts = append(parts, plural(n, u.name))
			d -= time.Duration(n) * u.size
		} else if len(parts) > 0 {
			break // a zero middle unit ends it: "1 day", not "1 day 5 minutes"
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

// plural returns "1 hour" or "n hours".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// formatTime writes t in UTC, to the minute.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 January 2006, 15:04 UTC")
}

package mail

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testData is sample data with a link and a code that must show up.
func testData() Data {
	return Data{
		Product:    "Acme Login",
		PublicURL:  "https://auth.example.com",
		Username:   "alice",
		Name:       "Alice Liddell",
		Email:      "alice.new@example.com",
		Link:       "https://auth.example.com/auth/reset?userId=u1&token=S3cr3tT0k3n",
		Code:       "918273",
		ExpiresIn:  90 * time.Minute,
		Time:       time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC),
		ClientAddr: "198.51.100.7",
		Until:      time.Date(2025, 6, 7, 8, 24, 10, 0, time.UTC),
	}
}

func mustLoad(t testing.TB, dir string) *Templates {
	t.Helper()
	tpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestRenderEveryKind(t *testing.T) {
	tpl := mustLoad(t, "")
	d := testData()
	// What each kind must show, in the text and (escaped) in the HTML.
	want := map[string][]string{
		KindInvite:           {"S3cr3tT0k3n", "1 hour 30 minutes", "alice"},
		KindReset:            {"S3cr3tT0k3n", "1 hour 30 minutes", "198.51.100.7"},
		KindPasswordChanged:  {"7 June 2025, 08:09 UTC", "198.51.100.7", "S3cr3tT0k3n"},
		KindEmailChanged:     {"alice.new@example.com", "7 June 2025, 08:09 UTC"},
		KindAccountLocked:    {"7 June 2025, 08:24 UTC", "198.51.100.7"},
		KindTwoFactorCode:    {"918273", "1 hour 30 minutes"},
		KindTwoFactorAdded:   {"7 June 2025, 08:09 UTC"},
		KindTwoFactorRemoved: {"7 June 2025, 08:09 UTC"},
	}
	if len(want) != len(kinds) {
		t.Fatalf("test covers %d kinds, package has %d", len(want), len(kinds))
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			subject, text, html, err := tpl.Render(kind, d)
			if err != nil {
				t.Fatal(err)
			}
			if subject == "" || strings.ContainsAny(subject, "\r\n") || subject != strings.TrimSpace(subject) {
				t.Errorf("subject %q: want one trimmed line", subject)
			}
			if !strings.Contains(subject, "Acme Login") {
				t.Errorf("subject %q lacks the product", subject)
			}
			if strings.Contains(subject, d.Code) || strings.Contains(subject, "S3cr3tT0k3n") {
				t.Errorf("subject %q holds a secret", subject)
			}
			for _, s := range append(want[kind], "Alice Liddell", "Acme Login") {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
				if !strings.Contains(html, s) {
					t.Errorf("html lacks %q:\n%s", s, html)
				}
			}
			if !strings.Contains(text, "wasn't you") && !strings.Contains(text, "weren't yours") && !strings.Contains(text, "not expecting") && !strings.Contains(text, "didn't just") {
				t.Errorf("text does not say what to do if this wasn't the user:\n%s", text)
			}
			if strings.Contains(want[kind][0], "S3cr3tT0k3n") {
				// The link, whole, in the text; escaped in the HTML.
				if !strings.Contains(text, d.Link) {
					t.Errorf("text lacks the link %q", d.Link)
				}
				if !strings.Contains(html, `href="https://auth.example.com/auth/reset?userId=u1&amp;token=S3cr3tT0k3n"`) {
					t.Errorf("html lacks the link:\n%s", html)
				}
			}
			if !strings.HasPrefix(html, "<!DOCTYPE html>") {
				t.Errorf("html does not start with a doctype:\n%s", html)
			}
		})
	}
}

func TestRenderOptionalFields(t *testing.T) {
	// Only what a kind needs: no name, no client address, no link.
	tpl := mustLoad(t, "")
	for _, kind := range kinds {
		subject, text, _, err := tpl.Render(kind, Data{Username: "bob", Link: "https://x.example/l", Code: "1"})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !strings.Contains(subject, "gatehouse") {
			t.Errorf("%s: subject %q: an empty Product should mean gatehouse", kind, subject)
		}
		for _, bad := range []string{"<no value>", "{", " from .", "(from )", " on .", " until .", " at ,", " ,", " ."} {
			if strings.Contains(text, bad) {
				t.Errorf("%s: text contains %q:\n%s", kind, bad, text)
			}
		}
		if !strings.Contains(text, "Hello bob,") {
			t.Errorf("%s: text does not greet the username without a name:\n%s", kind, text)
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	tpl := mustLoad(t, "")
	d := testData()
	d.Name = `<script>alert("x")</script>`
	d.Username = `<b>bob</b>`
	for _, kind := range kinds {
		_, text, html, err := tpl.Render(kind, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, "<script>") || strings.Contains(html, "<b>bob") {
			t.Errorf("%s: html does not escape user data:\n%s", kind, html)
		}
		if !strings.Contains(html, "&lt;script&gt;") {
			t.Errorf("%s: html lacks the escaped name:\n%s", kind, html)
		}
		if !strings.Contains(text, d.Name) {
			t.Errorf("%s: text should show the name as it is:\n%s", kind, text)
		}
	}
	d = testData()
	d.Link = "javascript:alert(1)"
	_, _, html, err := tpl.Render(KindReset, d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, `href="javascript:`) {
		t.Errorf("html links a javascript: URL:\n%s", html)
	}
}

func TestRenderRefusesLineBreakInSubject(t *testing.T) {
	d := testData()
	d.Product = "Acme\r\nBcc: victim@example.net"
	if _, _, _, err := mustLoad(t, "").Render(KindReset, d); err == nil {
		t.Error("Render accepted a subject with a line break")
	}
}

func TestRenderUnknownKind(t *testing.T) {
	_, _, _, err := mustLoad(t, "").Render("welcome", testData())
	if !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), "welcome") {
		t.Errorf("Render(welcome) = %v, want ErrUnknownKind naming the kind", err)
	}
}

func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadTemplatesOverrides(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"reset.subject.txt":           "Password help for {{.Username}}\n",
		"invite.html":                 "<p>Welcome {{.Name}}: <a href=\"{{.Link}}\">join</a></p>\n",
		"two_factor_code.txt":         "Code: {{.Code}} ({{duration .ExpiresIn}})\n",
		"password_changed.html":       " \n", // no HTML part for this kind
		"README.md":                   "not a template: ignored",
		"account_locked.subject.txt~": "an editor's backup: ignored",
	})
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o700); err != nil {
		t.Fatal(err)
	}
	custom := mustLoad(t, dir)
	builtin := mustLoad(t, "")
	d := testData()
	d.Name = "<Alice>"

	render := func(tpl *Templates, kind string) [3]string {
		t.Helper()
		s, x, h, err := tpl.Render(kind, d)
		if err != nil {
			t.Fatal(err)
		}
		return [3]string{s, x, h}
	}
	for _, kind := range kinds {
		got, base := render(custom, kind), render(builtin, kind)
		want := base
		switch kind {
		case KindReset:
			want[0] = "Password help for alice"
		case KindInvite:
			want[2] = "<p>Welcome &lt;Alice&gt;: <a href=\"https://auth.example.com/auth/reset?userId=u1&amp;token=S3cr3tT0k3n\">join</a></p>\n"
		case KindTwoFactorCode:
			want[1] = "Code: 918273 (1 hour 30 minutes)\n"
		case KindPasswordChanged:
			want[2] = ""
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", kind, diff)
		}
	}
}

func TestLoadTemplatesErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"text parse error", map[string]string{"reset.txt": "Hello,\n\nOpen {{.Link}}.{{end}}\n"},
			[]string{"reset.txt", "reset.txt:3", "unexpected {{end}}"}},
		{"html parse error", map[string]string{"invite.html": "<p>\n<p>{{.Link</p>\n"},
			[]string{"invite.html", "invite.html:2"}},
		{"subject parse error", map[string]string{"reset.subject.txt": "{{end}}"},
			[]string{"reset.subject.txt:1"}},
		{"unknown function", map[string]string{"reset.txt": "a\n{{shout .Link}}\n"},
			[]string{"reset.txt:2", "shout"}},
		{"unknown field", map[string]string{"email_changed.txt": "a\nb\n{{.NewEmail}}\n"},
			[]string{"email_changed.txt:3", "NewEmail"}},
		{"misspelt kind", map[string]string{"pasword_changed.txt": "x"},
			[]string{"pasword_changed.txt", "password_changed"}},
		{"misspelt part", map[string]string{"reset.subj.txt": "x"},
			[]string{"reset.subj.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := LoadTemplates(dir)
			if err == nil {
				t.Fatal("LoadTemplates succeeded")
			}
			for _, w := range append(tt.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadTemplates(missing dir) succeeded")
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Second, ""},
		{time.Second, "1 second"},
		{1500 * time.Millisecond, "2 seconds"},
		{time.Minute, "1 minute"},
		{10 * time.Minute, "10 minutes"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{24 * time.Hour, "1 day"},
		{72 * time.Hour, "3 days"},
		{25 * time.Hour, "1 day 1 hour"},
		{24*time.Hour + 5*time.Minute, "1 day"},
		{59*time.Minute + 50*time.Second, "1 hour"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := formatTime(time.Date(2025, 1, 2, 15, 4, 0, 0, time.FixedZone("X", 3600))); got != "2 January 2025, 14:04 UTC" {
		t.Errorf("formatTime = %q", got)
	}
}

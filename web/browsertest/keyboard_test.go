package browsertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestKeyboardLoginInChromium logs in with the keyboard alone: from the
// top of the login page, Tab reaches the username, typing fills it, Tab
// the password, and Enter submits, landing on the account page. The
// focus order runs username, password, "keep me logged in", the submit
// button, and every focused control shows the stylesheet's focus
// outline (:focus-visible), in light and dark mode.
func TestKeyboardLoginInChromium(t *testing.T) {
	t.Parallel()
	s := startGatehouse(t)
	createFirstAdmin(t, s)
	b := newTab(t)

	for _, dark := range []bool{false, true} {
		b.darkMode(dark)
		b.open(s.base+"/ui/login", "#username")
		fromTop(b)
		want := []string{"username", "password", "remember", "submit"}
		for i, name := range want {
			b.run("press Tab", chromedp.KeyEvent(kb.Tab))
			f := focused(b)
			if f.Name != name {
				t.Fatalf("Tab %d (dark %v) focuses %+v, want %s; the order should be %v", i+1, dark, f, name, want)
			}
			if !f.FocusVisible || f.OutlineStyle != "solid" || f.OutlineWidth < 2 {
				t.Errorf("the focused %s (dark %v) shows no clear focus outline: %+v", name, dark, f)
			}
		}
	}
	b.darkMode(false)

	b.open(s.base+"/ui/login", "#username")
	fromTop(b)
	b.run("log in by keyboard",
		chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(adminName),
		chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(adminPassword),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#profile")))
	b.wantURLPrefix("after the keyboard login", s.base+"/ui/account")
}

// fromTop moves the sequential focus starting point to the top of the
// page (as a page freshly loaded without autofocus has it): the field the
// page focuses is blurred and the top-left corner clicked.
func fromTop(b *tab) {
	b.t.Helper()
	b.run("start from the top of the page",
		chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
		chromedp.MouseClickXY(1, 1))
	if f := focused(b); f.Tag != "BODY" {
		b.t.Fatalf("after clicking the page's corner, %+v has the focus", f)
	}
}

// focus is what the test knows of the focused element.
type focus struct {
	Tag          string  `json:"tag"`
	Name         string  `json:"name"` // its name attribute, or its type for a button
	FocusVisible bool    `json:"focusVisible"`
	OutlineStyle string  `json:"outlineStyle"`
	OutlineWidth float64 `json:"outlineWidth"`
}

// focused describes the element that has the focus.
func focused(b *tab) focus {
	b.t.Helper()
	return eval[focus](b, "read the focused element", `(() => {
  const e = document.activeElement, st = getComputedStyle(e);
  return {tag: e.tagName, name: e.tagName === "BUTTON" ? e.type : (e.name || ""),
    focusVisible: e.matches(":focus-visible"), outlineStyle: st.outlineStyle, outlineWidth: parseFloat(st.outlineWidth) || 0};
})()`)
}

// createFirstAdmin creates the administrator through the JSON API's
// setup with the server's setup token.
func createFirstAdmin(t *testing.T, s *gatehouseServer) {
	t.Helper()
	u, err := url.Parse(s.gh.SetupURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{
		"token": u.Query().Get("token"), "username": adminName, "email": adminName + "@example.com", "password": adminPassword,
	})
	resp, err := http.Post(s.base+"/setup", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("setup: %d", resp.StatusCode)
	}
}

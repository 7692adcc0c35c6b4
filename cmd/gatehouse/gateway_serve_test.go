package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestServeGateway runs `gatehouse serve` in proxy mode from a
// configuration file: the login page, then the upstream behind the route
// table with gatehouse's identity headers and without its cookie.
func TestServeGateway(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"path": r.URL.Path, "user": r.Header.Get("Remote-User"), "cookie": r.Header.Get("Cookie"),
		})
	}))
	defer up.Close()

	dir := t.TempDir()
	dataDir := dir + "/data"
	createUser(t, dataDir, "ada", adminPassword)
	cfg := writeFile(t, dir, "gatehouse.yaml", "upstream: "+up.URL+"\n"+
		"redirect_domains: [example.com]\n"+
		"routes:\n  - path: /public/**\n    access: public\n  - path: /**\n    access: authenticated\n")
	srv := startServe(t, nil, "--config", cfg, "--addr", "127.0.0.1:0", "--data", dataDir)
	c := newClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	front := "http://" + srv.addr

	get := func(path string, h map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", front+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, body := get("/public/x", nil); res.StatusCode != 200 || !strings.Contains(body, `"path":"/public/x"`) {
		t.Fatalf("public: %d %s", res.StatusCode, body)
	}
	if res, _ := get("/app", map[string]string{"Accept": "text/html"}); res.StatusCode != 302 || res.Header.Get("Location") != "/auth/ui/login?rd=%2Fapp" {
		t.Fatalf("browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := get("/app", nil); res.StatusCode != 401 {
		t.Fatalf("api: %d", res.StatusCode)
	}

	res, err := c.PostForm(srv.base+"/ui/login", url.Values{"username": {"ada"}, "password": {adminPassword}, "rd": {"/app"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 303 || res.Header.Get("Location") != "/app" {
		t.Fatalf("login page: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := get("/app", map[string]string{"Cookie": "pref=1"})
	var seen map[string]string
	json.Unmarshal([]byte(body), &seen)
	if res.StatusCode != 200 || seen["user"] != "ada" || !strings.HasPrefix(seen["cookie"], "pref=1") || strings.Contains(seen["cookie"], "gh_session") {
		t.Fatalf("after login: %d %s", res.StatusCode, body)
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server"
)

// TestEmbed walks the example as its doc comment tells a user to: log in,
// call the protected handler, post with and without the CSRF token.
func TestEmbed(t *testing.T) {
	ctx := context.Background()
	gh, err := server.Open(ctx, server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	if err := ensureDemoUser(ctx, gh, ""); err == nil {
		t.Fatal("demo user created without a password")
	}
	if err := ensureDemoUser(ctx, gh, "an example pass phrase"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(gh))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	get := func(path string) (int, string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path, body, csrf string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if code, _ := get("/api/health"); code != 200 {
		t.Errorf("health: %d", code)
	}
	if code, _ := get("/api/hello"); code != 401 {
		t.Errorf("hello without session: %d", code)
	}
	resp, err := c.Post(srv.URL+"/auth/session", "application/json", strings.NewReader(`{"username":"demo","password":"an example pass phrase"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ CSRFToken string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || login.CSRFToken == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if code, body := get("/api/hello"); code != 200 || body != "hello, demo\n" {
		t.Errorf("hello: %d %q", code, body)
	}
	if code := post("/api/notes", `{"text":"hi"}`, ""); code != 403 {
		t.Errorf("post without CSRF token: %d", code)
	}
	if code := post("/api/notes", `{"text":"hi"}`, login.CSRFToken); code != 201 {
		t.Errorf("post with CSRF token: %d", code)
	}
}

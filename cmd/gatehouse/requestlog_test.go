package main

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestServeRequestLog: serve with log.format json writes one parsed line
// per request answered, with its route, status, duration, request id (the
// answer's X-Request-Id) and user id; and no line of a login, an API token
// made and used, and a refused request holds a secret: no password,
// cookie, CSRF token, API token or query string.
func TestServeRequestLog(t *testing.T) {
	dir := t.TempDir()
	const password = "a long and secret passphrase"
	createUser(t, dir, "alice", password)
	cfg := writeFile(t, dir, "gatehouse.yaml", "log:\n  format: json\n  level: info\n")
	s := startServeLog(t, regexp.MustCompile(`"msg":"gatehouse listening","addr":"([^"]+)"`), nil,
		"--config", cfg, "--data", dir, "--addr", "127.0.0.1:0")
	c := newClient(t)

	in := login(t, c, s.base, "alice", password)
	if in.status != 200 {
		t.Fatalf("login: %d %s", in.status, in.raw)
	}
	userID, csrf := field(in.body, "user", "id"), field(in.body, "csrfToken")
	made := doJSON(t, c, "POST", s.base+"/tokens", map[string]any{"name": "ci"}, map[string]string{"X-CSRF-Token": csrf})
	if made.status != 201 {
		t.Fatalf("create token: %d %s", made.status, made.raw)
	}
	secret := field(made.body, "secret")
	bearer := newClient(t)
	listed := doJSON(t, bearer, "GET", s.base+"/tokens?password="+url.QueryEscape(password)+"&q=query-secret", nil, map[string]string{"Authorization": "Bearer " + secret})
	if listed.status != 200 {
		t.Fatalf("GET /tokens with the token: %d %s", listed.status, listed.raw)
	}
	refused := doJSON(t, bearer, "GET", s.base+"/tokens", nil, map[string]string{"Authorization": "Bearer gat_wrong-" + secret[4:]})
	if refused.status != 401 || refused.body["requestId"] != refused.header.Get("X-Request-Id") {
		t.Fatalf("a wrong token: %d %s, X-Request-Id %q", refused.status, refused.raw, refused.header.Get("X-Request-Id"))
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}

	log := s.log.String()
	var requests []map[string]any
	var loginLine map[string]any
	for _, l := range strings.Split(log, "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		switch line["msg"] {
		case "request":
			requests = append(requests, line)
		case "login succeeded":
			loginLine = line
		}
	}
	// The account service's own lines name the request they were made in.
	if loginLine == nil || loginLine["request_id"] != in.header.Get("X-Request-Id") {
		t.Errorf("the login's line %v does not name its request %q", loginLine, in.header.Get("X-Request-Id"))
	}
	want := []struct {
		route  string
		status float64
		answer response
		user   string
	}{
		{"/auth/session", 200, in, userID},
		{"/auth/tokens", 201, made, userID},
		{"/auth/tokens", 200, listed, userID},
		{"/auth/tokens", 401, refused, ""},
	}
	if len(requests) != len(want) {
		t.Fatalf("%d request lines, want %d:\n%s", len(requests), len(want), log)
	}
	for i, l := range requests {
		w := want[i]
		if l["level"] != "INFO" || l["route"] != w.route || l["status"] != w.status || l["user_id"] != w.user ||
			l["request_id"] != w.answer.header.Get("X-Request-Id") || l["client"] != "127.0.0.1" {
			t.Errorf("line %d = %v, want route %q status %v user %q request_id %q", i, l, w.route, w.status, w.user, w.answer.header.Get("X-Request-Id"))
		}
		if d, ok := l["duration"].(float64); !ok || d <= 0 {
			t.Errorf("line %d: duration %v", i, l["duration"])
		}
	}
	secrets := []string{password, url.QueryEscape(password), csrf, secret, secret[4:], "query-secret"}
	u, _ := url.Parse(s.base)
	for _, ck := range c.Jar.Cookies(u) {
		secrets = append(secrets, ck.Value)
	}
	for _, v := range secrets {
		if v != "" && strings.Contains(log, v) {
			t.Errorf("the log holds a secret %q:\n%s", v, log)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// cmdTimeout bounds one in-process run of a command.
const cmdTimeout = 60 * time.Second

// mapEnv returns a getenv over m only, never the real environment.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// mapEnviron returns an environ over m only, the counterpart of mapEnv.
func mapEnviron(m map[string]string) func() []string {
	return func() []string {
		var kv []string
		for k, v := range m {
			kv = append(kv, k+"="+v)
		}
		return kv
	}
}

// runCmd runs the program in-process with the given environment and stdin
// and returns its exit code and output.
func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, mapEnv(env), mapEnviron(env), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, env map[string]string, stdin string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCmd(t, env, stdin, args...)
	if code != exitOK {
		t.Fatalf("gatehouse %s: exit %d, want 0\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// createUser creates an active user through the command line.
func createUser(t *testing.T, dataDir, username, password string) {
	t.Helper()
	mustRun(t, nil, password+"\n", "user", "create", "--data", dataDir,
		"--username", username, "--email", username+"@example.com", "--password-stdin")
}

// logLines collects the lines a server writes to stderr, read concurrently,
// and lets the test wait for one.
type logLines struct {
	mu     sync.Mutex
	lines  []string
	closed bool
	wake   chan struct{}
}

func newLogLines() *logLines { return &logLines{wake: make(chan struct{})} }

// consume reads r line by line until EOF and then marks the log closed.
func (l *logLines) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		close(l.wake)
		l.wake = make(chan struct{})
		l.mu.Unlock()
	}
	io.Copy(io.Discard, r) // keep the writer from blocking after a too-long line
	l.mu.Lock()
	l.closed = true
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
}

// String returns everything logged so far.
func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// waitClosed waits until the writer side reached EOF.
func (l *logLines) waitClosed(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		closed, w := l.closed, l.wake
		l.mu.Unlock()
		if closed {
			return true
		}
		select {
		case <-w:
		case <-deadline:
			return false
		}
	}
}

// wait returns the first line matching re, failing the test when the log
// ends or timeout passes first.
func (l *logLines) wait(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for i := 0; ; {
		l.mu.Lock()
		for ; i < len(l.lines); i++ {
			if m := re.FindStringSubmatch(l.lines[i]); m != nil {
				l.mu.Unlock()
				return m
			}
		}
		closed, w := l.closed, l.wake
		l.mu.Unlock()
		if closed {
			t.Fatalf("server log ended without a line matching %s:\n%s", re, l)
		}
		select {
		case <-w:
		case <-deadline:
			t.Fatalf("no line matching %s within %s:\n%s", re, timeout, l)
		}
	}
}

var (
	listeningRe = regexp.MustCompile(`msg="gatehouse listening" addr=(\S+)`)
	setupLinkRe = regexp.MustCompile(`url="?(\S*?/auth/ui/setup\?token=([A-Za-z0-9_-]+))`)
)

// served is an in-process `gatehouse serve`.
type served struct {
	t      *testing.T
	cancel context.CancelFunc
	exited chan struct{} // closed when run has returned
	code   int           // run's exit code, once exited is closed
	log    *logLines
	addr   string
	base   string // http://ADDR/auth

	stopOnce sync.Once
}

// startServe runs `gatehouse serve ARGS` in a goroutine with a cancellable
// context and waits until it listens. Cleanup stops it.
func startServe(t *testing.T, env map[string]string, args ...string) *served {
	t.Helper()
	return startServeLog(t, listeningRe, env, args...)
}

// startServeLog is startServe with listening the line that says where it
// listens (its first group the address), for a log in another format.
func startServeLog(t *testing.T, listening *regexp.Regexp, env map[string]string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &served{t: t, cancel: cancel, exited: make(chan struct{}), log: newLogLines()}
	go s.log.consume(pr)
	go func() {
		s.code = run(ctx, append([]string{"serve"}, args...), mapEnv(env), mapEnviron(env), strings.NewReader(""), io.Discard, pw)
		pw.Close()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop() })
	s.addr = s.log.wait(t, listening, 20*time.Second)[1]
	s.base = "http://" + s.addr + "/auth"
	return s
}

// setupToken waits for the setup link and returns its token.
func (s *served) setupToken() string {
	s.t.Helper()
	m := s.log.wait(s.t, setupLinkRe, 10*time.Second)
	if want := "http://" + s.addr + "/auth/ui/setup?token="; !strings.HasPrefix(m[1], want) {
		s.t.Errorf("setup link %q does not start with %q", m[1], want)
	}
	return m[2]
}

// stop cancels the server's context and returns run's exit code.
func (s *served) stop() int {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case <-s.exited:
			s.log.waitClosed(5 * time.Second)
		case <-time.After(40 * time.Second):
			s.t.Errorf("serve did not return within 40s of cancellation")
		}
	})
	select {
	case <-s.exited:
		return s.code
	default:
		return -1
	}
}

// newClient returns an HTTP client with its own cookie jar.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:       jar,
		Timeout:   20 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: false, MaxIdleConnsPerHost: 4},
	}
}

// response is a decoded JSON answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// code returns the problem+json code of an error answer.
func (r response) code() string { s, _ := r.body["code"].(string); return s }

// doJSON sends a request with an optional JSON body and decodes the answer.
func doJSON(t *testing.T, c *http.Client, method, url string, body any, header map[string]string) response {
	t.Helper()
	r, err := tryJSON(c, method, url, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// tryJSON is doJSON returning errors, for use off the test goroutine.
func tryJSON(c *http.Client, method, url string, body any, header map[string]string) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		json.Unmarshal(raw, &r.body)
	}
	return r, nil
}

// loginBody is the JSON of POST BASE/session.
func loginBody(username, password string) map[string]any {
	return map[string]any{"username": username, "password": password}
}

// login logs in over HTTP and returns the answer.
func login(t *testing.T, c *http.Client, base, username, password string) response {
	t.Helper()
	return doJSON(t, c, "POST", base+"/session", loginBody(username, password), nil)
}

// field digs a string out of nested JSON objects.
func field(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = o[p]
	}
	s, _ := v.(string)
	return s
}

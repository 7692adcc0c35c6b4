// Command server is the benchmark target of bench/run.sh. It wires gatehouse's
// services exactly as cmd/gatehouse does (server.OpenServices: SQLite store,
// session.Manager, account.Service with password.DefaultParams), puts an
// httpapi.Server over them, and serves one tiny JSON handler twice:
//
//   - on -unprotected, bare;
//   - on -protected, wrapped in api.Protect, with gatehouse's API mounted at
//     its base path (/auth/) so that logins work;
//   - and, with -gateway, a third listener serves gatehouse's API alone
//     (GET /auth/verify included) configured for forward auth:
//     TrustedProxies 127.0.0.0/8 and a small route table (GatewayRoutes).
//
// Both gatehouse servers have CORS on (BenchCORS), with the route of the
// forward-auth requests a cors: true one.
//
// The stores are SQLite in -data by default; -database postgres://… keeps
// the records in PostgreSQL and -sessions redis://… the sessions (and the
// other short-lived state) in Redis, under -redis-prefix, as the config
// keys database:, sessions: and redis_prefix: do. Several bench servers
// given the same URLs share their sessions, as gatehouse processes do.
// With -stats, a loopback listener answers GET / with the session cache's
// counts (session.Manager.CacheStats) as "hits N misses N waits N".
//
// With -login-users N it also creates N users for a login benchmark
// (bench/logins), named PREFIX-0 … PREFIX-(N-1) with one random password,
// and prints "LOGIN_USERS PREFIX N" and "LOGIN_PASSWORD PASSWORD" before
// the COOKIE line: a throwaway benchmark account on a throwaway store, as
// the cookie is.
//
// Both listeners route through an http.ServeMux and an http.Server with the
// same settings, so the only difference between them is the middleware.
//
// At start-up it creates a user, logs in through the real handler (POST
// /auth/session over HTTP to itself), checks that the protected handler
// answers 200 with the cookie and 401 without it, and then prints
//
//	PROTECTED 127.0.0.1:PORT
//	UNPROTECTED 127.0.0.1:PORT
//	GATEWAY 127.0.0.1:PORT (with -gateway only)
//	COOKIE gh_session=...
//
// on stdout; with -gateway it also checks that GET /auth/verify answers 200
// with the cookie and nginx's headers and 401 without the cookie; the COOKIE line comes last and means "ready". Listen addresses
// must be loopback; port 0 picks a free port. It runs until SIGINT or
// SIGTERM.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on the optional loopback -pprof address
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/tracing"
)

// HandlerPath is the path wrk requests on both listeners.
const HandlerPath = "/api/hello"

// body is the handler's response: about 100 bytes of JSON.
var body = []byte(`{"ok":true,"service":"gatehouse-bench","message":"hello from the benchmark handler","n":1234567890}` + "\n")

// hello is the application handler being protected; it is the same on both
// listeners.
func hello(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// GatewayRoutes is the route table of the -gateway listener: small, like
// httpapi's BenchmarkVerify, with HandlerPath under the authenticated
// catch-all.
var GatewayRoutes = []policy.Rule{
	{Path: "/api/health", Access: policy.Public},
	{Path: "/api/servers/{id}", Methods: []string{"PATCH", "DELETE"}, Access: policy.Authenticated},
	{Path: "/api/**", Access: policy.Authenticated, CORS: true},
}

// BenchCORS is the CORS setting of both gatehouse servers: on, as a
// deployment with a front end on another origin has it, so that the runs
// measure what it costs a request without Origin (wrk sends none).
var BenchCORS = httpapi.CORS{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true, MaxAge: 10 * time.Minute}

// VerifyHeaders are the headers nginx's auth_request sub-request carries
// (examples/gateway/nginx.conf) for a GET of /api/dashboard; bench/run.sh
// sends the same.
var VerifyHeaders = map[string]string{
	"X-Original-URI":    "/api/dashboard",
	"X-Original-Method": "GET",
	"X-Original-URL":    "http://127.0.0.1/api/dashboard",
	"X-Forwarded-For":   "203.0.113.5",
	"X-Forwarded-Proto": "http",
	"X-Forwarded-Host":  "127.0.0.1",
}

func main() {
	protected := flag.String("protected", "127.0.0.1:0", "loopback `ADDR` of the protected listener")
	unprotected := flag.String("unprotected", "127.0.0.1:0", "loopback `ADDR` of the unprotected listener")
	data := flag.String("data", "", "data `DIR` for the SQLite database (required; a fresh directory is best)")
	pprofAddr := flag.String("pprof", "", "optional loopback `ADDR` serving net/http/pprof")
	gatewayAddr := flag.String("gateway", "", "optional loopback `ADDR` serving gatehouse's API in forward-auth configuration (GET /auth/verify)")
	statsAddr := flag.String("stats", "", "optional loopback `ADDR` answering GET / with the session cache's hits and misses")
	loginUsers := flag.Int("login-users", 0, "create `N` users with one password for bench/logins")
	traced := flag.Bool("tracing", false, "record OpenTelemetry spans (batched, then dropped), as with tracing.enabled")
	var stores server.Config
	flag.StringVar(&stores.PostgresURL, "database", "", "PostgreSQL `URL` (postgres://…) for the records instead of SQLite in -data")
	flag.StringVar(&stores.RedisURL, "sessions", "", "Redis `URL` (redis://…) for the sessions, throttles and pending logins")
	flag.StringVar(&stores.RedisPrefix, "redis-prefix", "", "`PREFIX` of the Redis keys (default gatehouse)")
	flag.Parse()
	if *data == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stores.DataDir, stores.Logger = *data, log
	if *traced {
		// As tracing.Setup, but the batches go nowhere: what tracing costs
		// gatehouse, without a collector's.
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		defer tp.Shutdown(context.Background())
		defer tracing.Use(tp)()
	}
	addrs := listenAddrs{protected: *protected, unprotected: *unprotected, pprof: *pprofAddr, gateway: *gatewayAddr, stats: *statsAddr, loginUsers: *loginUsers}
	if err := run(ctx, addrs, stores, log); err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		os.Exit(1)
	}
}

// listenAddrs are the addresses of the listeners; "" for an optional one
// that is off.
type listenAddrs struct {
	protected, unprotected, pprof, gateway, stats string
	// loginUsers is how many users to create for bench/logins.
	loginUsers int
}

func run(ctx context.Context, addrs listenAddrs, cfg server.Config, log *slog.Logger) error {
	protAddr, unprotAddr, pprofAddr, gatewayAddr := addrs.protected, addrs.unprotected, addrs.pprof, addrs.gateway
	for _, a := range []string{protAddr, unprotAddr, pprofAddr, gatewayAddr, addrs.stats} {
		if a == "" {
			continue
		}
		if err := checkLoopback(a); err != nil {
			return err
		}
	}

	// The services of gatehouse serve, with the default settings; the HTTP
	// layer is built here, twice (the gateway has settings of its own).
	svc, err := server.OpenServices(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	accounts, sessions := svc.Accounts, svc.Sessions
	deps := httpapi.Deps{Accounts: accounts, Sessions: sessions, Metrics: svc.Metrics, Log: log, Ready: []httpapi.ReadyCheck{{Name: "database", Check: svc.Store.Ping}}}
	api, err := httpapi.New(httpapi.Config{CORS: BenchCORS}, deps)
	if err != nil {
		return err
	}

	protMux := http.NewServeMux()
	protMux.Handle(api.BasePath()+"/", api)
	protMux.Handle(HandlerPath, api.Protect(http.HandlerFunc(hello)))
	unprotMux := http.NewServeMux()
	unprotMux.Handle(HandlerPath, http.HandlerFunc(hello))

	protLn, err := net.Listen("tcp", protAddr)
	if err != nil {
		return err
	}
	unprotLn, err := net.Listen("tcp", unprotAddr)
	if err != nil {
		protLn.Close()
		return err
	}
	servers := []*http.Server{newServer(protMux, log), newServer(unprotMux, log)}
	errc := make(chan error, 4)
	go func() { errc <- servers[0].Serve(protLn) }()
	go func() { errc <- servers[1].Serve(unprotLn) }()
	if pprofAddr != "" {
		pln, err := net.Listen("tcp", pprofAddr)
		if err != nil {
			return err
		}
		// http.DefaultServeMux holds the net/http/pprof handlers.
		ps := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, ps)
		go func() { errc <- ps.Serve(pln) }()
		fmt.Printf("PPROF %s\n", pln.Addr())
	}
	if addrs.stats != "" {
		sln, err := net.Listen("tcp", addrs.stats)
		if err != nil {
			return err
		}
		ss := &http.Server{Handler: statsHandler(sessions), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, ss)
		go func() { errc <- ss.Serve(sln) }()
		fmt.Printf("STATS %s\n", sln.Addr())
	}
	var gwLn net.Listener
	if gatewayAddr != "" {
		table, err := policy.Compile(GatewayRoutes)
		if err != nil {
			return err
		}
		gw, err := httpapi.New(httpapi.Config{
			Routes:         table,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			CORS:           BenchCORS,
		}, deps)
		if err != nil {
			return err
		}
		gwMux := http.NewServeMux()
		gwMux.Handle(gw.BasePath()+"/", gw)
		if gwLn, err = net.Listen("tcp", gatewayAddr); err != nil {
			return err
		}
		gs := newServer(gwMux, log)
		servers = append(servers, gs)
		go func() { errc <- gs.Serve(gwLn) }()
	}
	defer func() {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			s.Shutdown(shut)
		}
	}()

	// No sweeper: a run lasts minutes and its sessions do not expire.

	protURL := "http://" + protLn.Addr().String()
	unprotURL := "http://" + unprotLn.Addr().String()
	cookie, err := loginOverHTTP(ctx, accounts, protURL+api.BasePath()+"/session", sessions.CookieName(false))
	if err != nil {
		return err
	}
	if err := selfCheck(protURL+HandlerPath, unprotURL+HandlerPath, cookie); err != nil {
		return err
	}
	if gwLn != nil {
		if err := verifyCheck("http://"+gwLn.Addr().String()+api.BasePath()+"/verify", cookie); err != nil {
			return err
		}
		fmt.Printf("GATEWAY %s\n", gwLn.Addr())
	}
	if addrs.loginUsers > 0 {
		prefix, pw, err := createLoginUsers(ctx, accounts, addrs.loginUsers)
		if err != nil {
			return err
		}
		fmt.Printf("LOGIN_USERS %s %d\nLOGIN_PASSWORD %s\n", prefix, addrs.loginUsers, pw)
	}
	fmt.Printf("PROTECTED %s\n", protLn.Addr())
	fmt.Printf("UNPROTECTED %s\n", unprotLn.Addr())
	fmt.Printf("COOKIE %s=%s\n", cookie.Name, cookie.Value)
	os.Stdout.Sync()

	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
}

// newServer has the settings of cmd/gatehouse's serve command.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// checkLoopback refuses listen addresses that are not on a loopback
// interface: the benchmark creates a user with a known session.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: only loopback addresses are allowed (such as 127.0.0.1:0)", addr)
	}
	return nil
}

// loginOverHTTP creates a user with a random name and password and logs it
// in through POST /auth/session, returning the session cookie.
func loginOverHTTP(ctx context.Context, accounts *account.Service, loginURL, cookieName string) (*http.Cookie, error) {
	username := "bench-" + rand.Text()[:8]
	pw := rand.Text()
	if _, err := accounts.CreateUser(ctx, account.NewUser{Username: username, Email: username + "@example.com", Password: pw}); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	reqBody, err := json.Marshal(map[string]string{"username": username, "password": pw})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", loginURL, bytes.NewReader(reqBody))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
		return nil, fmt.Errorf("login: %s: %s", res.Status, b)
	}
	for _, c := range res.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			return c, nil
		}
	}
	return nil, errors.New("login: no session cookie in the response")
}

// createLoginUsers creates n users with random names under one prefix and
// one random password, returning both.
func createLoginUsers(ctx context.Context, accounts *account.Service, n int) (prefix, pw string, err error) {
	prefix, pw = "login-"+strings.ToLower(rand.Text()[:8]), rand.Text()
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := accounts.CreateUser(ctx, account.NewUser{Username: name, Email: name + "@example.com", Password: pw}); err != nil {
			return "", "", fmt.Errorf("create login user: %w", err)
		}
	}
	return prefix, pw, nil
}

// selfCheck makes sure the benchmark measures what it claims: the protected
// handler answers 200 with the cookie and 401 without, the unprotected one
// 200 without.
func selfCheck(protURL, unprotURL string, cookie *http.Cookie) error {
	get := func(url string, c *http.Cookie) (int, error) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return 0, err
		}
		if c != nil {
			req.AddCookie(c)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	for _, c := range []struct {
		url    string
		cookie *http.Cookie
		want   int
	}{
		{protURL, cookie, http.StatusOK},
		{protURL, nil, http.StatusUnauthorized},
		{unprotURL, nil, http.StatusOK},
	} {
		got, err := get(c.url, c.cookie)
		if err != nil {
			return fmt.Errorf("self-check GET %s: %w", c.url, err)
		}
		if got != c.want {
			return fmt.Errorf("self-check GET %s (cookie %t): status %d, want %d", c.url, c.cookie != nil, got, c.want)
		}
	}
	return nil
}

// verifyCheck makes sure GET /auth/verify with nginx's headers answers 200
// with the cookie, with the Remote-User header set, and 401 without it.
func verifyCheck(url string, cookie *http.Cookie) error {
	for _, c := range []struct {
		cookie *http.Cookie
		want   int
	}{{cookie, http.StatusOK}, {nil, http.StatusUnauthorized}} {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return err
		}
		for k, v := range VerifyHeaders {
			req.Header.Set(k, v)
		}
		if c.cookie != nil {
			req.AddCookie(c.cookie)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("self-check GET %s: %w", url, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != c.want {
			return fmt.Errorf("self-check GET %s (cookie %t): status %d, want %d", url, c.cookie != nil, res.StatusCode, c.want)
		}
		if c.want == http.StatusOK && res.Header.Get(httpapi.HeaderRemoteUser) == "" {
			return fmt.Errorf("self-check GET %s: no %s in the answer", url, httpapi.HeaderRemoteUser)
		}
	}
	return nil
}

// statsHandler answers every request with the session cache's counts so
// far, "hits N misses N waits N" (misses are store reads; waits shared
// another lookup's read): a script reads them before and after a run.
func statsHandler(sessions *session.Manager) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := sessions.CacheStats()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hits %d misses %d waits %d\n", st.Hits, st.Misses, st.Waits)
	})
}

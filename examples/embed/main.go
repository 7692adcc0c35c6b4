// Command embed is a small Go program that protects its own HTTP handlers
// with gatehouse used as a library: gatehouse's endpoints are mounted under
// /auth, and the program's own /api handlers are wrapped in its middleware.
//
//	go run ./examples/embed            # listens on 127.0.0.1:8081
//
// Its data (the SQLite database and the two-factor key) is in ./embed-data.
// On the first start it creates the user "demo" with the password read from
// EMBED_DEMO_PASSWORD (it refuses to start without one: there are no default
// credentials). Then:
//
//	curl -c jar -H 'Content-Type: application/json' \
//	     -d '{"username":"demo","password":"…"}' localhost:8081/auth/session
//	curl -b jar localhost:8081/api/hello
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("embed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	const addr = "127.0.0.1:8081"
	gh, err := server.Open(ctx, server.Config{DataDir: "embed-data", ListenAddr: addr, Logger: log})
	if err != nil {
		return err
	}
	defer gh.Close()
	if err := ensureDemoUser(ctx, gh, os.Getenv("EMBED_DEMO_PASSWORD")); err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: newHandler(gh), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Info("listening", "addr", srv.Addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ensureDemoUser creates the user "demo" when there are no users yet (the
// setup link would otherwise create the first administrator).
func ensureDemoUser(ctx context.Context, gh *server.Gatehouse, pw string) error {
	if gh.SetupURL() == "" {
		return nil // there are users
	}
	if pw == "" {
		return errors.New("set EMBED_DEMO_PASSWORD (at least 12 characters) to create the demo user")
	}
	_, err := gh.Accounts().CreateUser(ctx, account.NewUser{Username: "demo", Email: "demo@example.com", Name: "Demo", Password: pw})
	return err
}

// newHandler is the program's HTTP handler: gatehouse under /auth, a
// public health check, and the program's own protected API.
func newHandler(gh *server.Gatehouse) http.Handler {
	var (
		mu    sync.Mutex
		notes []string
	)
	mux := http.NewServeMux()
	mux.Handle("/auth/", gh)
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /api/hello", gh.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := gatehouse.UserFrom(r.Context())
		fmt.Fprintf(w, "hello, %s\n", u.Username)
	})))
	// Unsafe methods through Protect need the session's CSRF token.
	mux.Handle("POST /api/notes", gh.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Text == "" {
			http.Error(w, `want {"text": "…"}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		notes = append(notes, gatehouse.UserFrom(r.Context()).Username+": "+body.Text)
		n := len(notes)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%d notes\n", n)
	})))
	return mux
}

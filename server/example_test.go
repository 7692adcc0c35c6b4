package server_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/server"
)

// A program mounts gatehouse's endpoints under /auth and guards its own
// API with it. The README shows the same lines.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "gatehouse-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s", gatehouse.UserFrom(r.Context()).Username)
	})
	mux := http.NewServeMux()

	gh, err := server.Open(ctx, server.Config{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer gh.Close()
	mux.Handle("/auth/", gh)
	mux.Handle("/api/", gh.Protect(api))

	// Without a session the API answers 401; after a login, the user.
	get := func(cookies ...*http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/hello", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	fmt.Println(get().Code)
	if _, err := gh.Accounts().CreateUser(ctx, account.NewUser{Username: "ada", Email: "ada@example.com", Password: "violet-Anchor-92-quartz"}); err != nil {
		log.Fatal(err)
	}
	login := httptest.NewRequest("POST", "/auth/session", strings.NewReader(`{"username":"ada","password":"violet-Anchor-92-quartz"}`))
	login.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, login)
	fmt.Println(w.Code)
	hello := get(w.Result().Cookies()...)
	fmt.Println(hello.Code, hello.Body)
	// Output:
	// 401
	// 200
	// 200 hello, ada
}

package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

// The OpenAPI document, httpapi/openapi.yaml, is kept in sync with the
// server in two ways:
//
//   - TestOpenAPIRoutes: every route the server registers is a documented
//     operation, and every documented operation a registered route.
//   - browser.do (harness_test.go) checks every response a test gets
//     through it with checkOpenAPI: its status must be listed for the
//     operation, and its headers, content type and body must match; times
//     must be RFC 3339 in UTC.
//
// What belongs to no documented operation is checked like this: a request
// outside the base path (an embedding program's handlers, such as /app/…
// in the middleware and route-table tests, which also do not go through
// browser.do) is not checked. A path under the base path that is not
// documented, or a documented path with a method it does not have, must
// answer a problem+json Problem (404 not_found, 405 method_not_allowed with
// Allow, or a refusal such as a cross-origin 403 that comes first): the
// generic answers the document describes in its introduction rather than
// per operation. HEAD requests are not checked.

// openAPIChecker is the loaded document and its router, built once.
type openAPIChecker struct {
	doc    *openapi3.T
	router routers.Router
}

var loadOpenAPI = sync.OnceValues(func() (*openAPIChecker, error) {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not valid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml router: %w", err)
	}
	return &openAPIChecker{doc: doc, router: router}, nil
})

func openAPI(t testing.TB) *openAPIChecker {
	t.Helper()
	c, err := loadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// docBase is the base path the document's servers entry names.
const docBase = "/auth"

// utcDateTime is the contract's time format: RFC 3339, in UTC.
var utcDateTime = openapi3.NewCallbackValidator(func(s string) error {
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	if !strings.HasSuffix(s, "Z") {
		return fmt.Errorf("%q is not in UTC", s)
	}
	return nil
})

var responseOptions = &openapi3filter.Options{
	IncludeResponseStatus: true, // a status the operation does not list fails
	MultiError:            true,
	SchemaValidationOptions: []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidator("date-time", utcDateTime),
		openapi3.DisableSchemaErrorDetails(),
	},
}

// checkOpenAPI validates the response w to r, made by a server with base
// path base, against the OpenAPI document.
func checkOpenAPI(t testing.TB, base string, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	if r.Method == http.MethodHead {
		return
	}
	path := r.URL.Path
	if path != base && !strings.HasPrefix(path, base+"/") {
		return
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" && w.Code == http.StatusNoContent {
		// A CORS preflight: 204 on every path, described in info.
		if w.Body.Len() != 0 {
			t.Errorf("OpenAPI: CORS preflight %s answered 204 with a body", path)
		}
		return
	}
	c := openAPI(t)
	res := w.Result()
	body := w.Body.Bytes()
	fail := func(err error) {
		t.Helper()
		snippet := string(body)
		if len(snippet) > 300 {
			snippet = snippet[:300] + "…"
		}
		t.Errorf("OpenAPI: %s %s → %d (%s): %v\nbody: %s", r.Method, r.URL.RequestURI(), res.StatusCode, res.Header.Get("Content-Type"), err, snippet)
	}

	// Find the operation as if the server had the document's base path.
	fr := r.Clone(context.Background())
	fr.URL.Path = docBase + strings.TrimPrefix(path, base)
	fr.URL.RawPath = ""
	route, params, err := c.router.FindRoute(fr)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed) && fr.URL.Path == docBase+"/verify":
		// Forward auth's other methods: refused as nginx can take it.
		if err := c.checkProblem(res, body, "VerifyProblem403"); err != nil {
			fail(err)
		}
		return
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		if err := c.checkGenericProblem(res, body); err != nil {
			fail(err)
		}
		return
	case err != nil:
		fail(err)
		return
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: fr, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                responseOptions,
	})
	if err != nil {
		fail(err)
	}
}

// checkGenericProblem checks an answer outside the documented operations:
// a problem+json Problem of its status, with Allow on a 405.
func (c *openAPIChecker) checkGenericProblem(res *http.Response, body []byte) error {
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("undocumented operation answered Content-Type %q, want application/problem+json", ct)
	}
	if res.StatusCode == http.StatusMethodNotAllowed && res.Header.Get("Allow") == "" {
		return errors.New("405 without Allow")
	}
	return c.checkProblem(res, body, "Problem"+strconv.Itoa(res.StatusCode))
}

// checkProblem checks that body is a problem+json of the schema named
// (Problem when there is none of that name).
func (c *openAPIChecker) checkProblem(res *http.Response, body []byte, name string) error {
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("answered Content-Type %q, want application/problem+json", ct)
	}
	schema := c.doc.Components.Schemas[name]
	if schema == nil {
		schema = c.doc.Components.Schemas["Problem"]
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("problem body: %w", err)
	}
	return schema.Value.VisitJSON(v, append(responseOptions.SchemaValidationOptions, openapi3.VisitAsResponse())...)
}

// TestOpenAPIRoutes checks that the document is valid and describes
// exactly the routes the server registers, and that its operations list
// the answers every operation of their kind can give.
func TestOpenAPIRoutes(t *testing.T) {
	c := openAPI(t)
	e := newEnv(t)

	registered := map[string]bool{}
	for _, r := range e.api.Routes() {
		if registered[r] {
			t.Errorf("route %s registered twice", r)
		}
		registered[r] = true
	}
	documented := map[string]*openapi3.Operation{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op
		}
	}
	for _, r := range slices.Sorted(maps.Keys(registered)) {
		if documented[r] == nil {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(documented)) {
		if !registered[d] {
			t.Errorf("openapi.yaml documents %s, which the server does not serve", d)
		}
	}
	if len(c.doc.Servers) != 1 || c.doc.Servers[0].URL != docBase {
		t.Errorf("servers = %v, want one with url %s", c.doc.Servers, docBase)
	}

	// The answers every operation of a kind can give.
	for _, key := range slices.Sorted(maps.Keys(documented)) {
		op := documented[key]
		method, path, _ := strings.Cut(key, " ")
		want := func(status, why string) {
			t.Helper()
			if op.Responses.Value(status) == nil {
				t.Errorf("%s does not list %s (%s)", key, status, why)
			}
		}
		if op.RequestBody != nil && op.RequestBody.Value.Content.Get("application/json") != nil {
			want("400", "a JSON body")
			want("415", "a JSON body")
		}
		if method != "GET" {
			want("403", "unsafe method: cross-origin refusal, csrf_failed")
		}
		if op.Security != nil && len(*op.Security) > 0 && !slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 }) {
			want("401", "authentication required")
			want("503", "credentials are looked up in a store: store_unavailable")
			if slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { _, ok := r["basic"]; return ok }) {
				want("403", "insecure_basic_auth")
				want("429", "Basic auth is throttled")
				want("503", "Basic auth hashes passwords")
			}
		}
		if strings.HasPrefix(path, httpapi.ManagementPrefix+"/") {
			want("400", "route table: malformed path")
			want("403", "permission_denied")
			if op.Extensions["x-gatehouse-permission"] == nil {
				t.Errorf("%s has no x-gatehouse-permission", key)
			}
		}
		for status, resp := range op.Responses.Map() {
			n, _ := strconv.Atoi(status)
			switch {
			case n == 204 && len(resp.Value.Content) > 0:
				t.Errorf("%s: 204 with content", key)
			case n >= 400 && resp.Value.Content.Get("application/problem+json") == nil && resp.Value.Content.Get("text/html") == nil:
				t.Errorf("%s: %s is neither application/problem+json nor an HTML page", key, status)
			}
			if (n == 429 || n == 503) && resp.Value.Headers["Retry-After"] == nil {
				t.Errorf("%s: %s without Retry-After", key, status)
			}
			if n == 401 && resp.Value.Headers["WWW-Authenticate"] == nil {
				t.Errorf("%s: 401 without WWW-Authenticate", key)
			}
		}
	}
	t.Logf("%d operations documented, %d routes registered", len(documented), len(registered))
}

// TestOpenAPIServed checks BASE/openapi.json: public, JSON, the document
// with servers[0].url the configured base path.
func TestOpenAPIServed(t *testing.T) {
	for _, base := range []string{"", "/api", "/x/gate/"} {
		t.Run("base="+base, func(t *testing.T) {
			e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.BasePath = base })
			want, _ := httpapi.CleanBasePath(base)
			w := e.browser().do("GET", want+"/openapi.json", "")
			if w.Code != 200 {
				t.Fatalf("GET %s/openapi.json: %d %s", want, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			loader := openapi3.NewLoader()
			doc, err := loader.LoadFromData(w.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if err := doc.Validate(loader.Context); err != nil {
				t.Errorf("served document: %v", err)
			}
			if len(doc.Servers) != 1 || doc.Servers[0].URL != want {
				t.Errorf("servers = %+v, want url %s", doc.Servers, want)
			}
			if got, wantN := doc.Paths.Len(), openAPI(t).doc.Paths.Len(); got != wantN {
				t.Errorf("served %d paths, openapi.yaml has %d", got, wantN)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Error("not JSON")
			}
		})
	}
}

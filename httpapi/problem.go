package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// problem is an RFC 9457 problem details body with gatehouse's extensions.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// Errors is a field → message object for CodeValidation, and a list of
	// rule violations for CodePasswordPolicy.
	Errors any `json:"errors,omitempty"`
	// Checks is each dependency's state, for a BASE/readyz that is not
	// ready ("database": "unreachable").
	Checks map[string]string `json:"checks,omitempty"`
	// RequestID is the answer's X-Request-Id, for a user to quote and an
	// operator to find in the log (absent where a request has none: an
	// embedding program's handlers behind Protect).
	RequestID string `json:"requestId,omitempty"`
}

// statusOf maps an error code to its HTTP status: the one place that decides.
func statusOf(c gatehouse.Code) int {
	switch c {
	case gatehouse.CodeUnauthenticated, gatehouse.CodeInvalidCredentials, gatehouse.CodeInvalidCode:
		return http.StatusUnauthorized
	case gatehouse.CodePermissionDenied, gatehouse.CodeCSRFFailed, gatehouse.CodeInsecureBasicAuth,
		gatehouse.CodeLocalLoginDisabled, gatehouse.CodePasswordResetDisabled, gatehouse.CodeNotInvited,
		gatehouse.CodeReauthenticationRequired, gatehouse.CodeNotLinked:
		return http.StatusForbidden
	case gatehouse.CodeTooManyAttempts:
		return http.StatusTooManyRequests
	case gatehouse.CodeInvalidToken, gatehouse.CodeBadRequest, gatehouse.CodeManualLinkingDisabled, gatehouse.CodeExternalLoginFailed:
		return http.StatusBadRequest
	case gatehouse.CodePasswordPolicy, gatehouse.CodeValidation:
		return http.StatusUnprocessableEntity
	case gatehouse.CodeNoPendingLogin, gatehouse.CodeNotFound:
		return http.StatusNotFound
	case gatehouse.CodeLastLoginMethod, gatehouse.CodeConflict:
		return http.StatusConflict
	case gatehouse.CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case gatehouse.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case gatehouse.CodeBusy, gatehouse.CodeStoreUnavailable, gatehouse.CodeProviderUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// typeURI returns the problem type of a status: the section of RFC 9110
// that defines it (RFC 6585 for 429), as the Umbraco seed does.
func typeURI(status int) string {
	if status == http.StatusTooManyRequests {
		return "https://tools.ietf.org/html/rfc6585#section-4"
	}
	if s, ok := rfc9110Sections[status]; ok {
		return "https://tools.ietf.org/html/rfc9110#section-" + s
	}
	return "about:blank"
}

// rfc9110Sections are the sections of RFC 9110 that define the statuses
// gatehouse answers.
var rfc9110Sections = map[int]string{
	400: "15.5.1", 401: "15.5.2", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6",
	409: "15.5.10", 413: "15.5.14", 415: "15.5.16", 422: "15.5.21",
	500: "15.6.1", 502: "15.6.3", 503: "15.6.4",
}

// writeError answers err as problem+json. A store failure (see
// storeFailure) is answered 503 store_unavailable, never 500, wherever on
// the request path it happened. Internal errors and store failures are
// logged with their cause and answered with a generic message; client
// errors are not logged here (the use cases log the security events
// themselves).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if storeFailure(err) {
		err = storeUnavailable(err)
	}
	s.writeErrorStatus(w, r, err, statusOf(gatehouse.ErrorCode(err)))
}

// writeErrorStatus is writeError with the status given: for GET
// BASE/verify, which may answer nginx only 401 and 403 (see verifyStatus).
func (s *Server) writeErrorStatus(w http.ResponseWriter, r *http.Request, err error, status int) {
	s.answerID(w, r) // before the log line, which names it
	// Once for every failure, including the store_unavailable GET
	// BASE/verify answers with a 403.
	if status >= 500 || gatehouse.ErrorCode(err) == gatehouse.CodeStoreUnavailable {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	s.writeProblem(w, r, err, status, nil)
}

// writeProblem writes the problem+json answer of err with status, and
// checks as its checks member (BASE/readyz) when not nil. It logs nothing.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error, status int, checks map[string]string) {
	p := problem{
		Type:   typeURI(status),
		Title:  http.StatusText(status),
		Status: status,
		Detail: gatehouse.ErrorMessage(err),
		Code:   string(gatehouse.ErrorCode(err)),
		Checks: checks,
	}
	p.RequestID = s.answerID(w, r)
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		switch {
		case len(ge.Fields) > 0:
			p.Errors = ge.Fields
		case len(ge.Rules) > 0:
			p.Errors = ge.Rules
		}
		if ge.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((ge.RetryAfter+time.Second-1)/time.Second)))
		}
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		if s.offerBasic(r) {
			w.Header().Add("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// offerBasic reports whether a 401 should invite Basic credentials: only
// when Basic is enabled and usable on this request, and never for a request
// a browser script made, so no native password dialog pops up over an
// application's own login form.
func (s *Server) offerBasic(r *http.Request) bool {
	if !s.cfg.BasicAuth.Enabled || (!s.in(r).secure && !s.cfg.BasicAuth.AllowInsecure) {
		return false
	}
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	mode := r.Header.Get("Sec-Fetch-Mode")
	return mode == "" || mode == "navigate"
}

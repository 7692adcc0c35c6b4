package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
)

// paging reads ?offset= and ?limit= (default 0 and 50, limit at most 500).
func paging(r *http.Request) (offset, limit int, err error) {
	q := r.URL.Query()
	offset, limit = 0, 50
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, queryError("offset", "must be a whole number ≥ 0")
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 500 {
			return 0, 0, queryError("limit", "must be a whole number from 1 to 500")
		}
	}
	return offset, limit, nil
}

// queryTime reads an RFC 3339 time from the query; "" is the zero time.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, queryError(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}

func queryError(field, msg string) error {
	return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The query is not valid.", Fields: map[string]string{field: msg}}
}

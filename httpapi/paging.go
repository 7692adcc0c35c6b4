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

// maxCursor is the longest ?cursor= accepted; a store's cursors are far
// shorter.
const maxCursor = 512

// cursorPaging reads ?cursor= (default "", the first page) and ?limit=
// (default 50, at most 500) of a list paged by cursor. ?offset= is refused
// unless it is 0, which is where a cursor walk starts: such a list has no
// cheap way to skip ahead, and answering a later offset with the first
// page would be wrong.
func cursorPaging(r *http.Request) (cursor string, limit int, err error) {
	offset, limit, err := paging(r)
	if err != nil {
		return "", 0, err
	}
	if offset != 0 {
		return "", 0, queryError("offset", "this list pages by cursor: pass the previous page's next as cursor")
	}
	cursor = r.URL.Query().Get("cursor")
	if len(cursor) > maxCursor {
		return "", 0, queryError("cursor", "must be the next value of a previous page")
	}
	return cursor, limit, nil
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

package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestListSessionsPagesByCursor: GET …/management/api/v1/sessions walks
// every session exactly once, newest first, by following next as cursor,
// also when sessions end between pages; it has no total, and an offset
// past the start or a cursor it did not hand out is a 422 naming the
// parameter.
func TestListSessionsPagesByCursor(t *testing.T) {
	e := newEnv(t)
	admin, csrfTok := e.loggedIn()
	get := func(query string) *httptestRecorder {
		return admin.do("GET", mgmt+"/sessions"+query, "", header("X-CSRF-Token", csrfTok))
	}
	const pw = "a long enough password for paging"
	for i := range 6 {
		name := fmt.Sprintf("pager%d", i)
		e.createUser(name, name+"@example.com", pw)
		b := e.browser()
		if w := b.login(name, pw); w.Code != 200 {
			t.Fatalf("login %s: %d %s", name, w.Code, w.Body)
		}
		if i%2 == 0 {
			// Some sessions a second apart, some in the same instant,
			// which the ids then order.
			e.clock.Advance(time.Second)
		}
	}
	all, _, err := e.store.Sessions(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range all {
		want = append(want, s.ID)
	}
	if len(want) != 7 {
		t.Fatalf("%d sessions stored, want 7 (the admin's and six)", len(want))
	}

	type pageBody struct {
		Items []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"items"`
		Limit int    `json:"limit"`
		Next  string `json:"next"`
	}
	current := "" // the admin's own session, which must not end: the walks below find it
	walk := func(limit int, between func(page int, shown []string)) []string {
		t.Helper()
		var ids []string
		cursor := ""
		for page := 0; page < 100; page++ {
			q := fmt.Sprintf("?limit=%d", limit)
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			w := get(q)
			if w.Code != 200 {
				t.Fatalf("page %d: %d %s", page, w.Code, w.Body)
			}
			var raw map[string]json.RawMessage
			decode(t, w, &raw)
			if _, ok := raw["total"]; ok {
				t.Errorf("page %d has a total: %s", page, w.Body)
			}
			var p pageBody
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Limit != limit || len(p.Items) > limit {
				t.Fatalf("page %d: limit %d, %d items; want limit %d", page, p.Limit, len(p.Items), limit)
			}
			for _, it := range p.Items {
				ids = append(ids, it.ID)
				if it.Current {
					current = it.ID
				}
			}
			if p.Next == "" {
				return ids
			}
			if between != nil {
				between(page, ids)
			}
			cursor = p.Next
		}
		t.Fatal("still a next page after 100 pages")
		return nil
	}
	for _, limit := range []int{1, 2, 3, 7, 500} {
		if got := walk(limit, nil); !slices.Equal(got, want) {
			t.Errorf("pages of %d = %q, want %q", limit, got, want)
		}
	}

	// Sessions ended between pages (one already shown, one not yet) leave
	// the rest of the walk whole.
	first := walk(3, func(page int, shown []string) {
		if page != 0 {
			return
		}
		// The last session shown but the admin's, and one not shown yet.
		gone := []string{shown[len(shown)-1], want[len(want)-1]}
		if gone[0] == current {
			gone[0] = shown[len(shown)-2]
		}
		if gone[1] == current {
			gone[1] = want[len(want)-2]
		}
		for _, id := range gone {
			if w := admin.do("DELETE", mgmt+"/sessions/"+id, "", header("X-CSRF-Token", csrfTok)); w.Code != 204 {
				t.Fatalf("end session: %d %s", w.Code, w.Body)
			}
		}
	})
	left, _, err := e.store.Sessions(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 5 {
		t.Fatalf("%d sessions after two logouts, want 5", len(left))
	}
	seen := map[string]int{}
	for _, id := range first {
		seen[id]++
	}
	for _, s := range left {
		if seen[s.ID] != 1 {
			t.Errorf("live session %s listed %d times across the pages, want once", s.ID, seen[s.ID])
		}
	}

	// offset=0 is where a walk starts; later offsets and foreign cursors
	// are refused, naming the parameter.
	if w := get("?offset=0&limit=2"); w.Code != 200 {
		t.Errorf("offset=0: %d %s", w.Code, w.Body)
	}
	for q, field := range map[string]string{
		"?offset=2":            "offset",
		"?cursor=not-a-cursor": "cursor",
		"?cursor=%25%25":       "cursor",
		"?limit=0":             "limit",
	} {
		p := wantProblem(t, get(q), 422, gatehouse.CodeValidation)
		var fields map[string]string
		json.Unmarshal(p.Errors, &fields)
		if fields[field] == "" {
			t.Errorf("%s: errors %s do not name %s", q, p.Errors, field)
		}
	}
}

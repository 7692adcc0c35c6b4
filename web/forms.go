package web

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/gatehouse/gatehouse"
)

// maxFormBytes bounds a form's body, as every request body (the contract's
// 64 KiB).
const maxFormBytes = 64 << 10

// readForm reads r's posted form, bounded.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, gatehouse.Errorf(gatehouse.CodeBadRequest, "The form could not be read.")
	}
	return r.PostForm, nil
}

// messages lists what a validation or policy error says, for a page.
func messages(ge *gatehouse.Error) []string {
	keys := make([]string, 0, len(ge.Fields))
	for k := range ge.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, ge.Fields[k])
	}
	for _, v := range ge.Rules {
		out = append(out, v.Message)
	}
	if len(out) == 0 {
		out = []string{ge.Message}
	}
	return out
}

package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the OpenAPI document of every route gatehouse serves, with
// paths relative to the base path and servers[0].url the default one.
// openapi_test.go keeps it in sync with the routes and validates every
// response of the test suite against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// defaultBasePath is the base path the embedded document's servers entry names.
const defaultBasePath = "/auth"

// parsedOpenAPI is the embedded document as a generic JSON-ready tree,
// parsed once per process.
var parsedOpenAPI = sync.OnceValues(func() (map[string]any, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	m, ok := jsonTree(doc).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi.yaml is not a mapping")
	}
	return m, nil
})

// defaultOpenAPIJSON is the document for the default base path, marshalled
// once per process, since nearly every server uses it.
var defaultOpenAPIJSON = sync.OnceValues(func() ([]byte, error) {
	return marshalOpenAPI(defaultBasePath)
})

// openAPIJSON returns the OpenAPI document as JSON with servers[0].url set
// to base.
func openAPIJSON(base string) ([]byte, error) {
	if base == defaultBasePath {
		return defaultOpenAPIJSON()
	}
	return marshalOpenAPI(base)
}

func marshalOpenAPI(base string) ([]byte, error) {
	doc, err := parsedOpenAPI()
	if err != nil {
		return nil, err
	}
	// A shallow copy with its own servers list: the parsed tree is shared.
	doc = maps.Clone(doc)
	server := map[string]any{}
	if old, ok := doc["servers"].([]any); ok && len(old) > 0 {
		if first, ok := old[0].(map[string]any); ok {
			server = maps.Clone(first)
		}
	}
	server["url"] = base
	doc["servers"] = []any{server}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal openapi document: %w", err)
	}
	return b, nil
}

// jsonTree converts what yaml.v3 decodes into what encoding/json marshals:
// mappings with non-string keys become map[string]any.
func jsonTree(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonTree(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonTree(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonTree(e)
		}
		return v
	default:
		return v
	}
}

// handleOpenAPI is GET BASE/openapi.json: the OpenAPI document, public.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(s.openapi)
	return nil
}

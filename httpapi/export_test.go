package httpapi

import "slices"

// Routes returns "METHOD /path", the path relative to the base path, of
// every route the server registered (not the method-less 405 fallbacks).
func (s *Server) Routes() []string { return slices.Clone(s.served) }

// OpenAPIYAML is the embedded OpenAPI document.
var OpenAPIYAML = openAPIYAML

package oidclogin

// claims reads what gatehouse uses from raw claims (of an ID token or a
// userinfo response), tolerating the shapes providers really send.
func (p *Provider) claims(raw map[string]any) *Claims {
	c := &Claims{
		Email:             str(raw["email"]),
		EmailVerified:     truthy(raw["email_verified"]),
		Name:              str(raw["name"]),
		PreferredUsername: str(raw["preferred_username"]),
		AMR:               strs(raw["amr"]),
		ACR:               str(raw["acr"]),
	}
	if p.cfg.GroupsClaim != "" {
		c.Groups = strs(raw[p.cfg.GroupsClaim])
	}
	if c.Email == "" {
		c.EmailVerified = false
	}
	return c
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// truthy reads email_verified: a JSON true, or the string "true" that
// some providers (Cognito, older ADFS) send. Anything else, absence
// included, is not verified.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// strs reads a claim that is a list of strings or a single string (as
// providers send groups and amr); other elements are skipped. nil when
// absent.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return []string{}
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

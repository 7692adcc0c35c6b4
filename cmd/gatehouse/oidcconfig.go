package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/server"
)

// oidcProvider is one entry of the oidc list: an OpenID Connect provider
// people may log in with (see server.ExternalProvider).
type oidcProvider struct {
	// ID names the provider in paths (BASE/external/ID/login) and stored
	// identities: lower-case letters, digits, '-' and '_', at most 32.
	ID string `yaml:"id"`
	// Name is shown on the provider's button (default: the id).
	Name string `yaml:"name"`
	// Icon is an image for the button: an http(s) URL or a path starting
	// with /.
	Icon string `yaml:"icon"`
	// Issuer is the provider's issuer URL; its discovery document is read
	// below it.
	Issuer string `yaml:"issuer"`
	// ClientID is gatehouse's client id at the provider (required).
	ClientID string `yaml:"client_id"`
	// ClientSecret is gatehouse's client secret at the provider; prefer
	// client_secret_file.
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretFile holds the client secret (trimmed), instead of
	// client_secret, so that the secret stays out of the configuration.
	ClientSecretFile string `yaml:"client_secret_file"`
	// Scopes are the scopes asked for (default: openid, email and
	// profile); openid is always sent.
	Scopes []string `yaml:"scopes"`
	// DenyLocalLogin, on any provider, turns passwords off everywhere:
	// every password endpoint answers 403 local_login_disabled.
	DenyLocalLogin bool `yaml:"deny_local_login"`
	// AllowManualLinking lets users link and unlink the provider
	// themselves; on unless set to false.
	AllowManualLinking *bool `yaml:"allow_manual_linking"`
	// AutoLinkVerifiedEmail links an unknown account to the user with the
	// same email, when the provider says it verified that email.
	AutoLinkVerifiedEmail bool `yaml:"auto_link_verified_email"`
	// AutoCreate, when present (even {}), creates users for unknown
	// accounts, in its groups; absent, unknown accounts are refused.
	AutoCreate *struct {
		// Groups are the groups a created user is put in.
		Groups []string `yaml:"groups"`
	} `yaml:"auto_create"`
	// GroupsClaim names the claim listing the user's groups at the
	// provider. It is read only through group_map: a provider's group
	// names never become gatehouse groups by themselves.
	GroupsClaim string `yaml:"groups_claim"`
	// GroupMap maps each provider group to a gatehouse group or a list of
	// them; every login makes the user's membership of the mapped groups
	// follow the provider.
	GroupMap map[string]groupNames `yaml:"group_map"`
	// TrustedForTwoFactor lets the provider's own second factor count
	// here: a user whose ID token names one of these is not asked for
	// gatehouse's second factor.
	TrustedForTwoFactor struct {
		// AMR are authentication method references (mfa, otp, hwk…).
		AMR []string `yaml:"amr"`
		// ACR are authentication context class references.
		ACR []string `yaml:"acr"`
	} `yaml:"trusted_for_two_factor"`
	// PostLogoutRedirectURL is where the provider sends the browser
	// after its sign-out (default: gatehouse's login page).
	PostLogoutRedirectURL string `yaml:"post_logout_redirect_url"`
}

// groupNames are the gatehouse groups a provider group maps to: one name
// or a list of names.
type groupNames []string

// UnmarshalYAML takes a single name or a list of names.
func (g *groupNames) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*g = groupNames{n.Value}
		return nil
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err == nil {
			*g = names
			return nil
		}
	}
	return fmt.Errorf("line %d: group_map: a provider group maps to a group name or a list of group names", n.Line)
}

// providerIDRe is what an id may be: it is a path segment and a stored key.
var providerIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// validateOIDC checks the oidc list and converts it; a problem names the
// entry and its key, at the key's line.
func (c *config) validateOIDC(src *configSource) ([]server.ExternalProvider, []string, error) {
	if len(c.OIDC) == 0 {
		return nil, nil, nil
	}
	if c.PublicURL == "" {
		return nil, nil, &configError{where: src.locateItem("oidc", 0), field: "public_url", msg: "is required with oidc: the redirect URLs registered at the providers are built from it"}
	}
	if strings.EqualFold(c.Session.SameSite, "strict") {
		// The provider sends the browser back with a cross-site
		// navigation, which carries no Strict cookie: a link could never
		// finish, and a login could not end the browser's earlier session.
		return nil, nil, &configError{where: src.locateItem("oidc", 0), field: "session.same_site", msg: "strict does not work with oidc: the provider's redirect back is cross-site and carries no Strict cookie; use lax"}
	}
	var out []server.ExternalProvider
	seen := map[string]int{}
	denies, canAdmit := false, false
	for i, o := range c.OIDC {
		fail := func(key, format string, args ...any) error {
			return &configError{where: src.locateItemKey("oidc", i, key), field: fmt.Sprintf("oidc[%d].%s", i, key), msg: fmt.Sprintf(format, args...)}
		}
		if !providerIDRe.MatchString(o.ID) {
			return nil, nil, fail("id", "%q must be 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter or digit (it is part of the callback URL)", o.ID)
		}
		if j, dup := seen[o.ID]; dup {
			return nil, nil, fail("id", "%q is the id of oidc[%d] too; every provider needs its own", o.ID, j)
		}
		seen[o.ID] = i
		if err := checkIssuer(o.Issuer); err != nil {
			return nil, nil, fail("issuer", "%v", err)
		}
		if o.ClientID == "" {
			return nil, nil, fail("client_id", "is required: gatehouse's client id at the provider")
		}
		secret := o.ClientSecret
		switch {
		case o.ClientSecret != "" && o.ClientSecretFile != "":
			return nil, nil, fail("client_secret_file", "set client_secret or client_secret_file, not both")
		case o.ClientSecretFile != "":
			data, err := os.ReadFile(o.ClientSecretFile)
			if err != nil {
				return nil, nil, fail("client_secret_file", "cannot read %s: %v", o.ClientSecretFile, unwrapPathError(err))
			}
			if secret = strings.TrimSpace(string(data)); secret == "" {
				return nil, nil, fail("client_secret_file", "%s is empty", o.ClientSecretFile)
			}
		}
		for _, s := range o.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
				return nil, nil, fail("scopes", "%q is not a scope name", s)
			}
		}
		switch {
		case o.GroupsClaim != "" && len(o.GroupMap) == 0:
			return nil, nil, fail("groups_claim", "needs group_map: the provider's groups become gatehouse groups only through it (provider group: gatehouse group or list)")
		case o.GroupsClaim == "" && len(o.GroupMap) > 0:
			return nil, nil, fail("group_map", "needs groups_claim, the claim that lists the user's groups at the provider")
		}
		groupMap := map[string][]string{}
		for from, to := range o.GroupMap {
			if from == "" || len(to) == 0 {
				return nil, nil, fail("group_map", "%q must map to at least one gatehouse group", from)
			}
			for _, g := range to {
				if !account.ValidGroupName(g) {
					return nil, nil, fail("group_map", "%s: group name %q must be lower-case letters, digits, '-', '_' or '.'", from, g)
				}
			}
			groupMap[from] = to
		}
		if len(groupMap) == 0 {
			groupMap = nil
		}
		var createGroups []string
		if o.AutoCreate != nil {
			for _, g := range o.AutoCreate.Groups {
				if !account.ValidGroupName(g) {
					return nil, nil, fail("auto_create.groups", "group name %q must be lower-case letters, digits, '-', '_' or '.'", g)
				}
			}
			createGroups = o.AutoCreate.Groups
		}
		for key, list := range map[string][]string{"trusted_for_two_factor.amr": o.TrustedForTwoFactor.AMR, "trusted_for_two_factor.acr": o.TrustedForTwoFactor.ACR} {
			for _, v := range list {
				if strings.TrimSpace(v) == "" {
					return nil, nil, fail(key, "must not list an empty value")
				}
			}
		}
		if o.Icon != "" && !strings.HasPrefix(o.Icon, "/") && !absoluteHTTPURL(o.Icon) {
			return nil, nil, fail("icon", "must be an http(s) URL or a path starting with /")
		}
		if o.PostLogoutRedirectURL != "" && !absoluteHTTPURL(o.PostLogoutRedirectURL) {
			return nil, nil, fail("post_logout_redirect_url", "must be an absolute http(s) URL")
		}
		name := o.Name
		if name == "" {
			name = o.ID
		}
		manual := o.AllowManualLinking == nil || *o.AllowManualLinking
		denies = denies || o.DenyLocalLogin
		canAdmit = canAdmit || o.AutoLinkVerifiedEmail || o.AutoCreate != nil
		out = append(out, server.ExternalProvider{
			ID: o.ID, Name: name, Icon: o.Icon, Issuer: strings.TrimRight(o.Issuer, "/"),
			ClientID: o.ClientID, ClientSecret: secret, Scopes: o.Scopes,
			GroupsClaim: o.GroupsClaim, GroupMap: groupMap,
			PostLogoutRedirectURL: o.PostLogoutRedirectURL,
			DenyLocalLogin:        o.DenyLocalLogin, AllowManualLinking: manual,
			AutoLinkVerifiedEmail: o.AutoLinkVerifiedEmail,
			AutoCreate:            o.AutoCreate != nil, AutoCreateGroups: createGroups,
			TrustedAMR: o.TrustedForTwoFactor.AMR, TrustedACR: o.TrustedForTwoFactor.ACR,
		})
	}
	var warnings []string
	if denies && !canAdmit {
		warnings = append(warnings, "oidc: deny_local_login is set, but no provider may link (auto_link_verified_email) or create (auto_create) users: only users who linked a provider already can log in")
	}
	return out, warnings, nil
}

// checkIssuer checks an issuer URL: https, or http for a loopback host
// only (a provider in development); no query or fragment.
func checkIssuer(raw string) error {
	if raw == "" {
		return errors.New("is required: the provider's issuer URL, such as https://accounts.google.com")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an https URL without query or fragment, such as https://accounts.google.com", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (http only for a provider on this machine: localhost, 127.0.0.1, ::1)", raw)
	}
	return fmt.Errorf("%q must be an https URL, such as https://accounts.google.com", raw)
}

// loopbackHost reports whether host is this machine.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func absoluteHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// unwrapPathError is err without the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// locateItemKey names the file and line of key in item i of the list at
// field (the item's line when the key is not set).
func (src *configSource) locateItemKey(field string, i int, key string) string {
	if src.file == "" {
		return "configuration"
	}
	_, list := findEntry(src.root, strings.Split(field, "."))
	if list != nil && list.Kind == yaml.SequenceNode && i < len(list.Content) {
		if k, _ := findEntry(list.Content[i], strings.Split(key, ".")); k != nil {
			return fmt.Sprintf("%s:%d", src.file, k.Line)
		}
	}
	return src.locateItem(field, i)
}

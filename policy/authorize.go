package policy

import "github.com/gatehouse/gatehouse"

// Outcome is what a decision means for one caller.
type Outcome int

// The outcomes of Authorize.
const (
	// Allow lets the request through.
	Allow Outcome = iota
	// Unauthenticated asks for credentials: 401.
	Unauthenticated
	// Forbidden refuses a caller who has credentials, or whom no
	// credentials would help (a deny rule): 403.
	Forbidden
)

// Authorize applies a decision to a caller: authenticated says whether the
// request carried valid credentials, perms are the caller's effective
// permissions. A guest session is not credentials: see AuthorizeGuest.
func (d Decision) Authorize(authenticated bool, perms []string) Outcome {
	switch d.Access {
	case Public:
		return Allow
	case Session:
		if !authenticated {
			return Unauthenticated
		}
		return Allow
	case Authenticated:
		if !authenticated {
			return Unauthenticated
		}
		return Allow
	case Permission:
		if !authenticated {
			return Unauthenticated
		}
		for _, p := range d.Permissions {
			if gatehouse.HasPermission(perms, p) {
				return Allow
			}
		}
		return Forbidden
	default: // Deny, and anything unknown: fail closed.
		return Forbidden
	}
}

// AuthorizeGuest applies a decision to a caller with a live guest session
// and no other credentials: only public and session routes let it through;
// every route that needs a user answers as to an anonymous caller.
func (d Decision) AuthorizeGuest() Outcome {
	if d.Access == Session {
		return Allow
	}
	return d.Authorize(false, nil)
}

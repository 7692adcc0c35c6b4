package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// actor is who acts for request r authenticated by c: the user, limited to
// what the credential may do. A token's permissions (already cut down to
// its owner's) become the actor's Scope, so that what the request may
// grant, and which accounts it may act on, is decided by the token and
// not by its owner.
func (s *Server) actor(r *http.Request, c *credentials) account.Actor {
	a := account.Actor{Client: s.client(r)}
	if c != nil {
		a.User = c.user
		if c.permsSet {
			a.Scope = c.perms
			if a.Scope == nil {
				a.Scope = []string{} // none, not "all of the user's"
			}
		}
	}
	return a
}

func currentSessionID(c *credentials) string {
	if c.session != nil {
		return c.session.ID
	}
	return ""
}

// handleMySessions is GET BASE/sessions: the caller's own live sessions,
// the current one marked.
func (s *Server) handleMySessions(w http.ResponseWriter, r *http.Request, c *credentials) error {
	list, err := s.accounts.UserSessions(r.Context(), c.user.ID)
	if err != nil {
		return err
	}
	items := s.sessionListViews(list, currentSessionID(c))
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// handleEndMySession is DELETE BASE/sessions/{id}. Another user's session
// is 404, exactly like one that does not exist.
func (s *Server) handleEndMySession(w http.ResponseWriter, r *http.Request, c *credentials) error {
	id := r.PathValue("id")
	if err := s.accounts.EndSession(r.Context(), s.actor(r, c), id, c.user.ID); err != nil {
		return err
	}
	if id == currentSessionID(c) {
		secure := s.in(r).secure
		s.sessions.ClearCookie(w, secure)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleEndOtherSessions is DELETE BASE/sessions: every session of the
// caller but the current one ends.
func (s *Server) handleEndOtherSessions(w http.ResponseWriter, r *http.Request, c *credentials) error {
	n, err := s.accounts.EndUserSessions(r.Context(), s.actor(r, c), c.user.ID, currentSessionID(c))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"ended": n})
	return nil
}

// handleMyTokens is GET BASE/tokens.
func (s *Server) handleMyTokens(w http.ResponseWriter, r *http.Request, c *credentials) error {
	list, err := s.accounts.UserTokens(r.Context(), c.user.ID)
	if err != nil {
		return err
	}
	items := tokenViews(list)
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

type createTokenBody struct {
	Name        string     `json:"name"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	Permissions []string   `json:"permissions"`
}

// handleCreateToken is POST BASE/tokens: a new API token, its secret shown
// in this answer only. A token cannot create tokens: that would let a
// leaked token outlive its own revocation.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if c.via == viaToken {
		return gatehouse.Errorf(gatehouse.CodePermissionDenied, "API tokens cannot create API tokens; log in to create one.")
	}
	var body createTokenBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	nt := account.NewToken{Name: body.Name, Permissions: body.Permissions}
	if body.ExpiresAt != nil {
		nt.ExpiresAt = *body.ExpiresAt
	}
	secret, t, err := s.accounts.CreateToken(r.Context(), s.actor(r, c), c.user, nt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": newTokenView(t), "secret": secret})
	return nil
}

// handleRevokeMyToken is DELETE BASE/tokens/{id}; another user's token is 404.
func (s *Server) handleRevokeMyToken(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.RevokeToken(r.Context(), s.actor(r, c), r.PathValue("id"), c.user.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

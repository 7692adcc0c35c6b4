package httpapi

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// The permissions the management API requires, by area.
const (
	PermUsers    = "section:users"
	PermSettings = "section:settings"
	PermAudit    = "section:audit"
)

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, c *credentials) error {
	offset, limit, err := paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := account.UserFilter{Search: q.Get("search"), State: gatehouse.UserState(q.Get("state")), Offset: offset, Limit: limit}
	if f.State != "" && !f.State.Valid() {
		return queryError("state", "must be invited, active or disabled")
	}
	users, total, err := s.accounts.ListUsers(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]*userView, 0, len(users))
	for _, u := range users {
		v, err := s.userView(r.Context(), u)
		if err != nil {
			return err
		}
		items = append(items, v)
	}
	writeJSON(w, http.StatusOK, page[*userView]{Items: items, Total: total, Offset: offset, Limit: limit})
	return nil
}

type createUserBody struct {
	Username string   `json:"username"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Groups   []string `json:"groups"`
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body createUserBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	u, err := s.accounts.CreateUser(r.Context(), account.NewUser{
		Username: body.Username, Email: body.Email, Name: body.Name, Password: body.Password, Groups: body.Groups,
		By: s.actor(r, c),
	})
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusCreated, u)
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *gatehouse.User) error {
	v, err := s.userView(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	u, err := s.accounts.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

type updateUserBody struct {
	Username *string   `json:"username"`
	Email    *string   `json:"email"`
	Name     *string   `json:"name"`
	Groups   *[]string `json:"groups"`
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body updateUserBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	// One's own email address is where password resets go: changing it
	// is a sensitive change, like a second factor.
	if r.PathValue("id") == c.user.ID && body.Email != nil && *body.Email != c.user.Email {
		if err := s.requireRecentAuth(c); err != nil {
			return err
		}
	}
	u, err := s.accounts.UpdateUser(r.Context(), s.actor(r, c), r.PathValue("id"), account.UserUpdate(body))
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.DeleteUser(r.Context(), s.actor(r, c), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleDisableUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	u, err := s.accounts.DisableUser(r.Context(), s.actor(r, c), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) handleEnableUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	u, err := s.accounts.EnableUser(r.Context(), s.actor(r, c), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) handleUnlockUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.UnlockUser(r.Context(), s.actor(r, c), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleUserSessions(w http.ResponseWriter, r *http.Request, c *credentials) error {
	id := r.PathValue("id")
	if _, err := s.accounts.User(r.Context(), id); err != nil {
		return err
	}
	list, err := s.accounts.UserSessions(r.Context(), id)
	if err != nil {
		return err
	}
	items := s.sessionListViews(list, currentSessionID(c))
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) handleEndUserSessions(w http.ResponseWriter, r *http.Request, c *credentials) error {
	n, err := s.accounts.EndUserSessions(r.Context(), s.actor(r, c), r.PathValue("id"), "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"ended": n})
	return nil
}

func (s *Server) handleUserTokens(w http.ResponseWriter, r *http.Request, c *credentials) error {
	id := r.PathValue("id")
	if _, err := s.accounts.User(r.Context(), id); err != nil {
		return err
	}
	list, err := s.accounts.UserTokens(r.Context(), id)
	if err != nil {
		return err
	}
	items := tokenViews(list)
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) handleListGroups(w http.ResponseWriter, r *http.Request, c *credentials) error {
	groups, err := s.accounts.ListGroups(r.Context())
	if err != nil {
		return err
	}
	items := make([]groupView, 0, len(groups))
	for _, g := range groups {
		items = append(items, newGroupView(g))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

type groupBody struct {
	Name             string    `json:"name"`
	Description      *string   `json:"description"`
	Permissions      *[]string `json:"permissions"`
	RequireTwoFactor *bool     `json:"requireTwoFactor"`
}

// applyTo sets the fields of g the body names; absent fields stay.
func (b *groupBody) applyTo(g *gatehouse.Group) {
	if b.Description != nil {
		g.Description = *b.Description
	}
	if b.Permissions != nil {
		g.Permissions = *b.Permissions
	}
	if b.RequireTwoFactor != nil {
		g.RequireTwoFactor = *b.RequireTwoFactor
	}
}

func (s *Server) handleCreateGroup(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body groupBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	g := &gatehouse.Group{Name: body.Name}
	body.applyTo(g)
	if err := s.accounts.CreateGroup(r.Context(), s.actor(r, c), g); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newGroupView(g))
	return nil
}

func (s *Server) handleGetGroup(w http.ResponseWriter, r *http.Request, c *credentials) error {
	g, err := s.accounts.Group(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	members, err := s.accounts.GroupMembers(r.Context(), g.Name)
	if err != nil {
		return err
	}
	if members == nil {
		members = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		groupView
		Members []string `json:"members"`
	}{newGroupView(g), members})
	return nil
}

func (s *Server) handleUpdateGroup(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body groupBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	name := r.PathValue("name")
	if body.Name != "" && body.Name != name {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "Groups cannot be renamed.", Fields: map[string]string{"name": "must equal the group's name in the path"}}
	}
	g, err := s.accounts.Group(r.Context(), name)
	if err != nil {
		return err
	}
	body.applyTo(g)
	if err := s.accounts.UpdateGroup(r.Context(), s.actor(r, c), g); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newGroupView(g))
	return nil
}

func (s *Server) handleDeleteGroup(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.DeleteGroup(r.Context(), s.actor(r, c), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, c *credentials) error {
	cursor, limit, err := cursorPaging(r)
	if err != nil {
		return err
	}
	list, next, err := s.accounts.ListSessions(r.Context(), cursor, limit)
	if err != nil {
		return err
	}
	items := s.sessionListViews(list, currentSessionID(c))
	writeJSON(w, http.StatusOK, cursorPage[sessionListView]{Items: items, Limit: limit, Next: next})
	return nil
}

func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.EndSession(r.Context(), s.actor(r, c), r.PathValue("id"), ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, c *credentials) error {
	offset, limit, err := paging(r)
	if err != nil {
		return err
	}
	list, total, err := s.accounts.ListTokens(r.Context(), offset, limit)
	if err != nil {
		return err
	}
	items := tokenViews(list)
	writeJSON(w, http.StatusOK, page[tokenView]{Items: items, Total: total, Offset: offset, Limit: limit})
	return nil
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.RevokeToken(r.Context(), s.actor(r, c), r.PathValue("id"), ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, c *credentials) error {
	offset, limit, err := paging(r)
	if err != nil {
		return err
	}
	since, err := queryTime(r, "since")
	if err != nil {
		return err
	}
	until, err := queryTime(r, "until")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	events, total, err := s.accounts.ListAudit(r.Context(), account.AuditFilter{
		UserID: q.Get("user"), Kind: gatehouse.AuditKind(q.Get("kind")), Since: since, Until: until, Offset: offset, Limit: limit,
	})
	if err != nil {
		return err
	}
	items := make([]auditView, 0, len(events))
	for _, e := range events {
		items = append(items, newAuditView(e))
	}
	writeJSON(w, http.StatusOK, page[auditView]{Items: items, Total: total, Offset: offset, Limit: limit})
	return nil
}

// handleExplain is GET …/policy/explain?user=&method=&host=&path=&addr=: the
// route table's decision for a request, and the rule that made it.
func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request, c *credentials) error {
	q := r.URL.Query()
	in := account.ExplainRequest{User: q.Get("user"), Method: strings.ToUpper(q.Get("method")), Host: q.Get("host"), Path: q.Get("path"), Addr: q.Get("addr")}
	out, err := s.accounts.Explain(r.Context(), s.cfg.Routes, s.builtin, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

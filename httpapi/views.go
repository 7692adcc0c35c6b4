package httpapi

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/session"
)

// userView is the contract's User object.
type userView struct {
	ID               string     `json:"id"`
	Username         string     `json:"username"`
	Email            string     `json:"email"`
	Name             string     `json:"name"`
	State            string     `json:"state"`
	Groups           []string   `json:"groups"`
	Permissions      []string   `json:"permissions"`
	TwoFactorEnabled bool       `json:"twoFactorEnabled"`
	CreatedAt        time.Time  `json:"createdAt"`
	LastLoginAt      *time.Time `json:"lastLoginAt"`
}

// sessionView is the contract's Session object.
type sessionView struct {
	ID                  string    `json:"id"`
	CreatedAt           time.Time `json:"createdAt"`
	ExpiresAt           time.Time `json:"expiresAt"`
	IdleExpiresAt       time.Time `json:"idleExpiresAt"`
	SecondsUntilTimeout int64     `json:"secondsUntilTimeout"`
	Remember            bool      `json:"remember"`
	TwoFactor           bool      `json:"twoFactor"`
	// ReauthenticateAt is when sensitive changes start needing the
	// password again (POST BASE/session/reauthenticate); null when the
	// session never proved it.
	ReauthenticateAt *time.Time `json:"reauthenticateAt"`
}

func (s *Server) userView(ctx context.Context, u *gatehouse.User) (*userView, error) {
	perms, err := s.accounts.Permissions(ctx, u)
	if err != nil {
		return nil, err
	}
	tfa, err := s.accounts.TwoFactorEnabled(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	v := &userView{
		ID:          u.ID,
		Username:    u.Username,
		Email:       u.Email,
		Name:        u.Name,
		State:       string(u.State),
		Groups:      u.Groups,
		Permissions: perms,
		CreatedAt:   u.CreatedAt.UTC().Truncate(time.Second),

		TwoFactorEnabled: tfa,
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	if !u.LastLoginAt.IsZero() {
		t := u.LastLoginAt.UTC().Truncate(time.Second)
		v.LastLoginAt = &t
	}
	return v, nil
}

func (s *Server) sessionView(sess *gatehouse.Session) *sessionView {
	var reauth *time.Time
	if at := s.sessions.ReauthenticateAt(sess); !at.IsZero() {
		at = at.UTC().Truncate(time.Second)
		reauth = &at
	}
	return &sessionView{
		ReauthenticateAt:    reauth,
		ID:                  sess.ID,
		CreatedAt:           sess.CreatedAt.UTC().Truncate(time.Second),
		ExpiresAt:           sess.ExpiresAt.UTC().Truncate(time.Second),
		IdleExpiresAt:       sess.IdleExpiresAt().UTC().Truncate(time.Second),
		SecondsUntilTimeout: session.SecondsLeft(sess, s.now()),
		Remember:            sess.Remember,
		TwoFactor:           sess.TwoFactor,
	}
}

// sessionListView is a session in a list: the contract's Session object
// with who and where.
type sessionListView struct {
	sessionView
	UserID     string    `json:"userId"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	ClientAddr string    `json:"clientAddr"`
	UserAgent  string    `json:"userAgent"`
	Current    bool      `json:"current"`
	// Guest marks a guest session (session.guest), whose userId is "".
	Guest bool `json:"guest"`
}

func (s *Server) sessionListView(sess *gatehouse.Session, current string) sessionListView {
	return sessionListView{
		sessionView: *s.sessionView(sess),
		UserID:      sess.UserID,
		LastSeenAt:  sess.LastSeenAt.UTC().Truncate(time.Second),
		ClientAddr:  sess.ClientAddr,
		UserAgent:   sess.UserAgent,
		Current:     sess.ID == current,
		Guest:       sess.Scope == gatehouse.ScopeGuest,
	}
}

// tokenView is an API token without its secret.
type tokenView struct {
	ID          string     `json:"id"`
	UserID      string     `json:"userId"`
	Name        string     `json:"name"`
	Hint        string     `json:"hint"`
	Permissions []string   `json:"permissions"`
	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

func newTokenView(t *gatehouse.Token) tokenView {
	perms := t.Permissions
	if perms == nil {
		perms = []string{}
	}
	return tokenView{
		ID: t.ID, UserID: t.UserID, Name: t.Name, Hint: t.Hint, Permissions: perms,
		CreatedAt: t.CreatedAt.UTC().Truncate(time.Second),
		ExpiresAt: optionalTime(t.ExpiresAt), LastUsedAt: optionalTime(t.LastUsedAt),
	}
}

// groupView is a group.
type groupView struct {
	Name             string   `json:"name"`
	Description      string   `json:"description"`
	Permissions      []string `json:"permissions"`
	RequireTwoFactor bool     `json:"requireTwoFactor"`
}

func newGroupView(g *gatehouse.Group) groupView {
	perms := g.Permissions
	if perms == nil {
		perms = []string{}
	}
	return groupView{Name: g.Name, Description: g.Description, Permissions: perms, RequireTwoFactor: g.RequireTwoFactor}
}

// auditView is an audit event.
type auditView struct {
	ID         string            `json:"id"`
	Time       time.Time         `json:"time"`
	Kind       string            `json:"kind"`
	ActorID    string            `json:"actorId"`
	ActorName  string            `json:"actorName"`
	TargetID   string            `json:"targetId"`
	ClientAddr string            `json:"clientAddr"`
	UserAgent  string            `json:"userAgent"`
	Detail     map[string]string `json:"detail"`
}

func newAuditView(e *gatehouse.AuditEvent) auditView {
	d := e.Detail
	if d == nil {
		d = map[string]string{}
	}
	return auditView{
		ID: e.ID, Time: e.Time.UTC(), Kind: string(e.Kind), ActorID: e.ActorID, ActorName: e.ActorName,
		TargetID: e.TargetID, ClientAddr: e.ClientAddr, UserAgent: e.UserAgent, Detail: d,
	}
}

// page is a page of a list.
type page[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// cursorPage is a page of a list paged by cursor: Next, when not "", is
// the cursor of the following page (?cursor=), and "" says this page is
// the last. It has no total, which such a list cannot count cheaply.
type cursorPage[T any] struct {
	Items []T    `json:"items"`
	Limit int    `json:"limit"`
	Next  string `json:"next"`
}

// sessionListViews are the list entries of sessions, current marked.
func (s *Server) sessionListViews(list []*gatehouse.Session, current string) []sessionListView {
	items := make([]sessionListView, 0, len(list))
	for _, ss := range list {
		items = append(items, s.sessionListView(ss, current))
	}
	return items
}

// tokenViews are the list entries of tokens.
func tokenViews(list []*gatehouse.Token) []tokenView {
	items := make([]tokenView, 0, len(list))
	for _, t := range list {
		items = append(items, newTokenView(t))
	}
	return items
}

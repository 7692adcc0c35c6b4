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
}

func (s *Server) userView(ctx context.Context, u *gatehouse.User) (*userView, error) {
	perms, err := s.accounts.Permissions(ctx, u)
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
	return &sessionView{
		ID:                  sess.ID,
		CreatedAt:           sess.CreatedAt.UTC().Truncate(time.Second),
		ExpiresAt:           sess.ExpiresAt.UTC().Truncate(time.Second),
		IdleExpiresAt:       sess.IdleExpiresAt().UTC().Truncate(time.Second),
		SecondsUntilTimeout: session.SecondsLeft(sess, s.now()),
		Remember:            sess.Remember,
		TwoFactor:           sess.TwoFactor,
	}
}

package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// TokenPrefix starts every API token, so that a leaked token is
// recognisable (by people and by secret scanners) for what it is.
const TokenPrefix = "gat_"

// tokenSecretLen is the length of a token: the prefix and 256 random bits
// in unpadded base64url.
var tokenSecretLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// tokenTouchInterval bounds how often a token's last-used time is written.
const tokenTouchInterval = time.Minute

func newTokenSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// validTokenShape reports whether s looks like a token gatehouse issues,
// so that garbage never reaches the store.
func validTokenShape(s string) bool {
	if len(s) != tokenSecretLen || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(TokenPrefix):])
	return err == nil
}

func hashTokenSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// NewToken describes a token to create.
type NewToken struct {
	Name string
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	// Permissions limits the token. Empty means all of its owner's (now
	// and later), except when the credential creating the token holds
	// less than the owner (an API token with a list): then the token gets
	// that credential's permissions, never more.
	Permissions []string
}

// CreateToken creates an API token for owner and returns its secret, which
// is shown once and never stored. The token's permissions must be the
// owner's and the creating credential's both: a narrow token cannot make
// a broader one. Creating a token for someone else is acting on their
// account (see checkActsOn).
func (s *Service) CreateToken(ctx context.Context, a Actor, owner *gatehouse.User, nt NewToken) (string, *gatehouse.Token, error) {
	fields := map[string]string{}
	name := strings.TrimSpace(nt.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fields["name"] = "Name is required, at most 100 characters."
	}
	now := s.now().UTC()
	if !nt.ExpiresAt.IsZero() && !nt.ExpiresAt.After(now) {
		fields["expiresAt"] = "Expiry must be in the future."
	}
	ownerPerms, err := s.Permissions(ctx, owner)
	if err != nil {
		return "", nil, err
	}
	perms := slices.Clone(nt.Permissions)
	slices.Sort(perms)
	perms = slices.Compact(perms)
	for _, p := range perms {
		if !gatehouse.HasPermission(ownerPerms, p) {
			fields["permissions"] = fmt.Sprintf("%q is not a permission the owner has.", p)
			break
		}
	}
	if len(fields) > 0 {
		return "", nil, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The token is not valid.", Fields: fields}
	}
	perms, err = s.scopeToken(ctx, a, owner, ownerPerms, perms)
	if err != nil {
		return "", nil, err
	}
	secret := newTokenSecret()
	t := &gatehouse.Token{
		ID:          gatehouse.NewID(),
		UserID:      owner.ID,
		Name:        name,
		Hash:        hashTokenSecret(secret),
		Hint:        secret[:len(TokenPrefix)+6],
		Permissions: perms,
		CreatedAt:   now,
		ExpiresAt:   nt.ExpiresAt.UTC(),
	}
	if err := s.stores.Tokens.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	s.record(ctx, a, gatehouse.AuditTokenCreated, t.ID, map[string]string{"owner": owner.ID, "name": name})
	return secret, t, nil
}

// scopeToken returns the permissions of a token for owner that actor a
// asked for with perms (empty: all the owner's), refusing any that a's
// credential does not hold.
func (s *Service) scopeToken(ctx context.Context, a Actor, owner *gatehouse.User, ownerPerms, perms []string) ([]string, error) {
	if a.User != nil && a.User.ID != owner.ID {
		if err := s.checkActsOn(ctx, a, owner, "create a token"); err != nil {
			return nil, err
		}
	}
	have, limited, err := s.actorPermissions(ctx, a)
	if err != nil || !limited {
		return perms, err
	}
	if len(perms) > 0 {
		if !holdsAllOf(have, perms) {
			return nil, errEscalation("create a token with these permissions")
		}
		return perms, nil
	}
	if holdsAllOf(have, ownerPerms) {
		return perms, nil // all of the owner's, which the creator holds too
	}
	// An empty list would mean all of the owner's: more than the creator
	// holds. The token gets the creator's instead — unless that is
	// nothing, which a token's list cannot say.
	perms = normalizePermissions(limitPermissions(have, ownerPerms))
	if len(perms) == 0 {
		return nil, errEscalation("create a token")
	}
	return perms, nil
}

var errBadToken = &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "The token is not valid."}

// AuthenticateToken returns the owner of an API token and the permissions
// the token may use: its own list, cut down to what the owner holds now.
// A missing, malformed, expired or revoked token, or one whose owner is not
// active, is CodeUnauthenticated.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*gatehouse.User, *gatehouse.Token, []string, error) {
	var disabled bool
	u, t, perms, err := s.authenticateToken(ctx, secret, &disabled)
	s.countLogin(gatehouse.LoginToken, nil, err, disabled)
	return u, t, perms, err
}

// authenticateToken is AuthenticateToken; it sets *disabled when the
// token is valid but its owner is not active.
func (s *Service) authenticateToken(ctx context.Context, secret string, disabled *bool) (*gatehouse.User, *gatehouse.Token, []string, error) {
	if !validTokenShape(secret) {
		return nil, nil, nil, errBadToken
	}
	hash := hashTokenSecret(secret)
	key := string(hash)
	now := s.now()
	t, ok := s.tokens.get(key, now)
	if !ok {
		gen := s.tokens.generation()
		var err error
		t, err = s.stores.Tokens.TokenByHash(ctx, hash)
		if errors.Is(err, gatehouse.ErrNotFound) {
			return nil, nil, nil, errBadToken
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("load token: %w", err)
		}
		s.tokens.put(key, t, now, gen)
	}
	if t.Expired(now) {
		return nil, nil, nil, errBadToken
	}
	u, err := s.cachedUser(ctx, t.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, nil, errBadToken
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if u.State != gatehouse.StateActive {
		*disabled = true
		return nil, nil, nil, errBadToken
	}
	if now.Sub(t.LastUsedAt) >= tokenTouchInterval {
		if err := s.stores.Tokens.TouchToken(ctx, t.ID, now.UTC()); err != nil {
			s.log.WarnContext(ctx, "recording token use", "token", t.ID, "err", err)
		} else {
			touched := *t
			touched.LastUsedAt = now.UTC()
			s.tokens.replace(key, &touched)
			t = &touched
		}
	}
	ownerPerms, err := s.Permissions(ctx, u)
	if err != nil {
		return nil, nil, nil, err
	}
	return u, t, tokenPermissions(t, ownerPerms), nil
}

// tokenPermissions is what a token may do: the owner's permissions when the
// token lists none, else those of its list the owner still holds.
func tokenPermissions(t *gatehouse.Token, ownerPerms []string) []string {
	if len(t.Permissions) == 0 {
		return ownerPerms
	}
	return limitPermissions(t.Permissions, ownerPerms)
}

// UserTokens returns a user's tokens, newest first.
func (s *Service) UserTokens(ctx context.Context, userID string) ([]*gatehouse.Token, error) {
	return s.stores.Tokens.UserTokens(ctx, userID)
}

// ListTokens returns every token, newest first, paged.
func (s *Service) ListTokens(ctx context.Context, offset, limit int) ([]*gatehouse.Token, int, error) {
	return s.stores.Tokens.Tokens(ctx, offset, limit)
}

// RevokeToken deletes a token. When owner is not "", the token must belong
// to that user, and a token of anyone else is ErrNotFound, exactly as if it
// did not exist (no IDOR, no probing).
func (s *Service) RevokeToken(ctx context.Context, a Actor, id, owner string) error {
	t, err := s.stores.Tokens.TokenByID(ctx, id)
	if err != nil {
		return err
	}
	if owner != "" && t.UserID != owner {
		return gatehouse.ErrNotFound
	}
	if err := s.checkActsOnID(ctx, a, t.UserID, "revoke a token"); err != nil {
		return err
	}
	if err := s.stores.Tokens.DeleteToken(ctx, id); err != nil {
		return err
	}
	s.tokens.forgetWhere(func(c *gatehouse.Token) bool { return c.ID == id })
	s.publish(gatehouse.Invalidation{Kind: gatehouse.InvalidateToken, ID: id})
	s.record(ctx, a, gatehouse.AuditTokenRevoked, id, map[string]string{"owner": t.UserID})
	return nil
}

// revokeUserTokens deletes every token of a user.
func (s *Service) revokeUserTokens(ctx context.Context, userID string) error {
	if _, err := s.stores.Tokens.DeleteUserTokens(ctx, userID); err != nil {
		return err
	}
	s.tokens.forgetWhere(func(c *gatehouse.Token) bool { return c.UserID == userID })
	s.publish(gatehouse.Invalidation{Kind: gatehouse.InvalidateUserTokens, ID: userID})
	return nil
}

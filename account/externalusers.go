package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/gatehouse/gatehouse"
)

// Users that external logins create, and the groups they map.

// createUserTries bounds how often creating a user for an external login
// picks a username again after the store found it taken meanwhile.
const createUserTries = 3

// createExternalUser creates an active user without a password for the
// account ext proved at p (AutoCreate), in p's AutoCreateGroups and the
// groups p maps ext's groups to, and links the account to them. The new
// user needs an email address no other user has: an account whose
// address belongs to a user already is refused (not linked), never given
// a second user, since only a verified address may link to the first.
func (s *Service) createExternalUser(ctx context.Context, a Actor, p ExternalProvider, ext ExternalAssertion) (*gatehouse.User, error) {
	email := strings.TrimSpace(ext.Email)
	if email == "" || len(email) > 254 || !validEmail(email) {
		s.refuseExternal(ctx, a, p, "", "no_email", map[string]string{"subject": ext.Subject})
		return nil, &gatehouse.Error{Code: gatehouse.CodeNotLinked, Message: "The provider gave no email address for this account, which a new user needs; ask an administrator."}
	}
	if _, err := s.stores.Users.UserByLogin(ctx, email); err == nil {
		s.refuseExternal(ctx, a, p, "", "email_taken", map[string]string{"subject": ext.Subject})
		return nil, errNotLinked
	} else if !errors.Is(err, gatehouse.ErrNotFound) {
		return nil, fmt.Errorf("find user: %w", err)
	}
	_, want := p.mappedGroups(ext.Groups)
	groups, err := s.existingGroups(ctx, p, append(slices.Clone(p.AutoCreateGroups), want...))
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &gatehouse.User{
		ID: gatehouse.NewID(), Email: email, Name: cleanName(ext.Name),
		State: gatehouse.StateActive, SecurityStamp: newStamp(), EmailConfirmed: ext.EmailVerified,
		Groups: groups, CreatedAt: now, UpdatedAt: now,
	}
	for try := 1; ; try++ {
		if u.Username, err = s.freeUsername(ctx, usernameBase(p, ext)); err != nil {
			return nil, err
		}
		err = s.stores.Users.CreateUser(ctx, u)
		if err == nil {
			break
		}
		// Taken meanwhile (the username, or the address by a user created
		// since it was checked): pick again, a few times.
		if gatehouse.ErrorCode(err) != gatehouse.CodeConflict || try == createUserTries {
			return nil, err
		}
	}
	s.log.InfoContext(ctx, "user created", "user", u.ID, "provider", p.ID)
	s.record(ctx, a, gatehouse.AuditUserCreated, u.ID, map[string]string{"username": u.Username, "provider": p.ID})
	if err := s.createIdentity(ctx, a, u, ext, "created"); err != nil {
		// A user without the identity they were made for is not left
		// behind (a concurrent first login of the same account linked its
		// own user first).
		if derr := s.stores.Users.DeleteUser(context.WithoutCancel(ctx), u.ID); derr != nil {
			s.log.ErrorContext(ctx, "undoing a created user", "user", u.ID, "err", derr)
		} else {
			s.record(ctx, a, gatehouse.AuditUserDeleted, u.ID, map[string]string{"reason": "link_failed"})
		}
		if gatehouse.ErrorCode(err) == gatehouse.CodeConflict {
			return nil, gatehouse.Errorf(gatehouse.CodeConflict, "This account was being linked by another login at the same time; try again.")
		}
		return nil, err
	}
	return u, nil
}

// usernameBase is what a created user's username is made from: the
// account's preferred username, else its email's local part, else
// "provider-subject"; made valid by the username rules (see
// validUsername), a disallowed character becoming "-".
func usernameBase(p ExternalProvider, ext ExternalAssertion) string {
	local, _, _ := strings.Cut(ext.Email, "@")
	for _, c := range []string{ext.Username, local, p.ID + "-" + ext.Subject} {
		if b := usernameOf(c); b != "" {
			return b
		}
	}
	// Unreachable: a provider id and a non-empty subject leave something.
	return "user"
}

// usernameOf makes s a valid username, at most 64 characters (room for a
// suffix that makes it unique), or "" when nothing usable is left.
func usernameOf(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 64 {
			break
		}
		// No "@": a username that looks like an address would take that
		// address from its owner (logins match usernames and emails alike).
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-+", r) {
			r = '-'
		}
		b.WriteRune(r)
		n++
	}
	return strings.Trim(b.String(), "-.")
}

// freeUsername returns base, or base with a suffix, that no user has as
// username or email.
func (s *Service) freeUsername(ctx context.Context, base string) (string, error) {
	for i := 1; ; i++ {
		name := base
		switch {
		case i > 10:
			return "", gatehouse.Errorf(gatehouse.CodeConflict, "No free username was found for the new user; try again.")
		case i > 5:
			b := make([]byte, 4)
			rand.Read(b)
			name = base + "-" + hex.EncodeToString(b)
		case i > 1:
			name = fmt.Sprintf("%s-%d", base, i)
		}
		_, err := s.stores.Users.UserByLogin(ctx, name)
		if errors.Is(err, gatehouse.ErrNotFound) {
			return name, nil
		}
		if err != nil {
			return "", fmt.Errorf("find user: %w", err)
		}
	}
}

// cleanName is a provider's name for a user as a user's name may be:
// without control characters, at most 200 characters.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return strings.TrimSpace(name)
}

// mappedGroups returns the gatehouse groups p's GroupMap names at all
// (mapped) and those it maps the provider's groups claimed to (want).
func (p ExternalProvider) mappedGroups(claimed []string) (mapped, want []string) {
	for from, to := range p.GroupMap {
		mapped = append(mapped, to...)
		if slices.Contains(claimed, from) {
			want = append(want, to...)
		}
	}
	slices.Sort(mapped)
	slices.Sort(want)
	return slices.Compact(mapped), slices.Compact(want)
}

// existingGroups returns names sorted and without duplicates, leaving out
// (with a warning to the operator) the groups that do not exist: a
// mapping or a default group that names one is a configuration mistake,
// which must not stop people logging in.
func (s *Service) existingGroups(ctx context.Context, p ExternalProvider, names []string) ([]string, error) {
	byName, err := s.groupsByName(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, n := range names {
		if byName[n] == nil {
			s.log.WarnContext(ctx, "an external provider's settings name a group that does not exist; skipped", "provider", p.ID, "group", n)
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// mapGroups makes u's membership of the groups p maps follow the groups
// claimed (see ExternalProvider.GroupMap), through changeUser, and
// returns u as it is now. Groups no mapping names are left alone. A
// change that would leave no active administrator is not made (the
// login goes on with the groups unchanged, and the operator is warned).
func (s *Service) mapGroups(ctx context.Context, a Actor, p ExternalProvider, u *gatehouse.User, claimed []string) (*gatehouse.User, error) {
	if p.GroupMap == nil {
		return u, nil
	}
	mapped, want := p.mappedGroups(claimed)
	want, err := s.existingGroups(ctx, p, want)
	if err != nil {
		return nil, err
	}
	var added, removed []string
	kept := false
	next, err := s.changeUser(ctx, u.ID, func(cur *gatehouse.User) (bool, error) {
		added, removed, kept = nil, nil, false
		groups := []string{}
		for _, g := range cur.Groups {
			if slices.Contains(mapped, g) && !slices.Contains(want, g) {
				removed = append(removed, g)
				continue
			}
			groups = append(groups, g)
		}
		for _, g := range want {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
				added = append(added, g)
			}
		}
		if len(added) == 0 && len(removed) == 0 {
			return false, nil
		}
		slices.Sort(groups)
		old := *cur
		cur.Groups = groups
		if err := s.keepAdministratorIfLosing(ctx, &old, cur); err != nil {
			if gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
				return false, err
			}
			*cur, kept = old, true
			return false, nil
		}
		cur.UpdatedAt = s.now().UTC()
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if kept {
		s.log.WarnContext(ctx, "an external login's groups would remove the last active administrator; groups left unchanged", "user", u.ID, "provider", p.ID)
		return next, nil
	}
	if len(added) == 0 && len(removed) == 0 {
		return next, nil
	}
	s.forgetUser(next.ID)
	s.log.InfoContext(ctx, "groups mapped", "user", next.ID, "provider", p.ID, "added", added, "removed", removed)
	s.record(ctx, Actor{User: next, Client: a.Client}, gatehouse.AuditGroupsMapped, next.ID, map[string]string{
		"provider": p.ID, "added": strings.Join(added, ","), "removed": strings.Join(removed, ","),
	})
	return next, nil
}

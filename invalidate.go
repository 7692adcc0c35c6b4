package gatehouse

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"
)

// Invalidator carries cache invalidations between the gatehouse processes
// that share one set of stores. Each process caches sessions, users,
// groups and tokens briefly in memory; a change made through one process
// drops what that process cached at once, and an Invalidator tells the
// others, so that a revoked session, a disabled user or a removed
// permission stops working everywhere within the time a message takes to
// arrive, instead of within the caches' time to live.
//
// The postgres and redis packages implement it (LISTEN/NOTIFY, pub/sub).
// Without one (a single process), nothing is published.
type Invalidator interface {
	// Publish tells every subscriber, in every process (this one
	// included), that what inv names has changed. It returns once the
	// message is handed to the server; an error means other processes
	// may not learn of the change.
	Publish(ctx context.Context, inv Invalidation) error
	// Subscribe calls deliver with every published Invalidation until ctx
	// ends, from one goroutine, in the order received; deliver must be
	// quick. Until Subscribe delivers SubscriptionReady, and from each
	// SubscriptionLost until the next SubscriptionReady, messages may be
	// missed: the subscriber must not trust its caches then. Subscribe
	// reconnects on its own after a lost connection, and delivers
	// SubscriptionLost before it returns if it had delivered
	// SubscriptionReady. It returns ctx.Err() when ctx ends, or an error
	// retrying cannot fix.
	Subscribe(ctx context.Context, deliver func(Invalidation)) error
}

// InvalidationKind is what an Invalidation is about.
type InvalidationKind uint8

// The kinds of Invalidation. SubscriptionLost and SubscriptionReady are
// never published: Subscribe delivers them about its own connection.
const (
	// InvalidateSession is a session, by public id, that ended or changed.
	InvalidateSession InvalidationKind = iota + 1
	// InvalidateUserSessions is every session of a user, by user id.
	InvalidateUserSessions
	// InvalidateUser is a user record, by id: its state, password,
	// groups or second factor changed, or it was deleted.
	InvalidateUser
	// InvalidateGroups is every group: one was created, changed or
	// deleted. ID is empty.
	InvalidateGroups
	// InvalidateToken is an API token, by id, that was revoked.
	InvalidateToken
	// InvalidateUserTokens is every API token of a user, by user id.
	InvalidateUserTokens
	// InvalidateAll is everything cached. ID is empty. Subscribers also
	// treat a message they cannot read (from a newer version, say) so.
	InvalidateAll
	// SubscriptionLost says the subscription stopped receiving: messages
	// may be missed until SubscriptionReady.
	SubscriptionLost
	// SubscriptionReady says the subscription receives (again); what was
	// published while it did not is lost.
	SubscriptionReady
)

// kindNames are the wire names of the kinds that are published.
var kindNames = map[InvalidationKind]string{
	InvalidateSession:      "session",
	InvalidateUserSessions: "user-sessions",
	InvalidateUser:         "user",
	InvalidateGroups:       "groups",
	InvalidateToken:        "token",
	InvalidateUserTokens:   "user-tokens",
	InvalidateAll:          "all",
}

// maxInvalidationID bounds an Invalidation's ID: ids are short, and the
// message must fit PostgreSQL's NOTIFY payload (8000 bytes) with room.
const maxInvalidationID = 256

// Invalidation names what changed. It holds public identifiers only (ids
// of sessions, users and tokens, never a secret or a hash of one), since
// it travels through the database or Redis as plain text.
type Invalidation struct {
	Kind InvalidationKind
	// ID is the session, user or token id the Kind names; empty for
	// InvalidateGroups and InvalidateAll.
	ID string
}

// errBadInvalidation is what MarshalText and UnmarshalText return for a
// value that is not a publishable Invalidation.
var errBadInvalidation = errors.New("gatehouse: not a valid invalidation")

// String returns the kind's name in messages ("session", "groups", …).
func (k InvalidationKind) String() string {
	switch k {
	case SubscriptionLost:
		return "subscription-lost"
	case SubscriptionReady:
		return "subscription-ready"
	}
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "unknown"
}

// needsID reports whether an Invalidation of kind k names one record.
func (k InvalidationKind) needsID() bool {
	return k != InvalidateGroups && k != InvalidateAll
}

// MarshalText encodes inv as the message the Invalidators publish: the
// kind's name, then ":" and the id for the kinds that have one
// ("session:ID", "groups"). SubscriptionLost, SubscriptionReady, unknown
// kinds and ids that are empty where needed, present where not, longer
// than 256 bytes, not UTF-8 or with control characters are an error.
func (inv Invalidation) MarshalText() ([]byte, error) {
	name, ok := kindNames[inv.Kind]
	if !ok || !validInvalidationID(inv.Kind, inv.ID) {
		return nil, errBadInvalidation
	}
	if !inv.Kind.needsID() {
		return []byte(name), nil
	}
	return []byte(name + ":" + inv.ID), nil
}

// UnmarshalText decodes a message made by MarshalText; anything else is
// an error, which a subscriber treats as InvalidateAll.
func (inv *Invalidation) UnmarshalText(b []byte) error {
	name, id, hasID := strings.Cut(string(b), ":")
	for k, n := range kindNames {
		if n == name && hasID == k.needsID() && validInvalidationID(k, id) {
			*inv = Invalidation{Kind: k, ID: id}
			return nil
		}
	}
	return errBadInvalidation
}

func validInvalidationID(k InvalidationKind, id string) bool {
	if !k.needsID() {
		return id == ""
	}
	if id == "" || len(id) > maxInvalidationID || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

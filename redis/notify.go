package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
)

// How a Notifier watches and retries its subscription.
const (
	// notifyCheck is how often an idle subscription is pinged, so that a
	// connection lost without a word (a dead network, not a closed
	// socket) is noticed within two notifyChecks and the caches stop
	// being trusted.
	notifyCheck = 10 * time.Second
	// notifyRetryMin and notifyRetryMax bound the wait between
	// reconnection attempts, which doubles after each failure.
	notifyRetryMin = 50 * time.Millisecond
	notifyRetryMax = 5 * time.Second
)

// Notifier is a gatehouse.Invalidator on Redis pub/sub: it publishes with
// PUBLISH, and each Subscribe holds a subscription of its own, renewed
// with growing waits when its connection is lost. Messages are the short
// text of Invalidation.MarshalText (a kind and a public id), never a
// secret. Pub/sub keeps nothing: a process that is not subscribed when a
// message is published never gets it, which is why Subscribe reports
// SubscriptionLost and SubscriptionReady.
type Notifier struct {
	client  goredis.UniversalClient
	channel string
	log     *slog.Logger
}

var _ gatehouse.Invalidator = (*Notifier)(nil)

// NewNotifier returns a Notifier that publishes and subscribes through
// client on the channel prefix+":invalidate"; every gatehouse process of
// one installation must use the same prefix (such as "gatehouse"), and
// installations sharing a Redis different ones. log receives connection
// failures of the subscriptions (nil: discarded). The client stays the
// caller's to close.
func NewNotifier(client goredis.UniversalClient, prefix string, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{client: client, channel: prefix + ":invalidate", log: log}
}

// Channel returns the pub/sub channel of n.
func (n *Notifier) Channel() string { return n.channel }

// Publish sends inv to every Subscribe on the channel, in every process.
func (n *Notifier) Publish(ctx context.Context, inv gatehouse.Invalidation) error {
	payload, err := inv.MarshalText()
	if err != nil {
		return fmt.Errorf("redis: publish %s invalidation: %w", inv.Kind, err)
	}
	if err := n.client.Publish(ctx, n.channel, payload).Err(); err != nil {
		return fmt.Errorf("redis: publish %s invalidation: %w", inv.Kind, err)
	}
	return nil
}

// Subscribe subscribes to the channel and calls deliver with every
// invalidation, as gatehouse.Invalidator describes: SubscriptionReady once
// Redis confirms the subscription, SubscriptionLost when its connection is
// lost, then again SubscriptionReady after a new subscription. A message
// it cannot read is delivered as InvalidateAll. It returns ctx.Err() when
// ctx ends.
func (n *Notifier) Subscribe(ctx context.Context, deliver func(gatehouse.Invalidation)) error {
	wait := notifyRetryMin
	for {
		err := n.subscribeOnce(ctx, deliver)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errNotifyLost) {
			wait = notifyRetryMin // it worked for a while: retry quickly
		} else {
			n.log.Warn("cache invalidations: cannot subscribe on Redis; caches are bypassed until it works", "retry_in", wait, "err", err)
		}
		// Jitter, so that processes cut off together do not all come back
		// in the same instant.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, notifyRetryMax)
	}
}

// errNotifyLost is what subscribeOnce returns when it was subscribed and
// then lost the connection, as opposed to failing to subscribe at all.
var errNotifyLost = errors.New("subscription lost")

// subscribeOnce subscribes and delivers until the connection is lost or
// ctx ends. Once it has delivered SubscriptionReady it always delivers
// SubscriptionLost before it returns.
func (n *Notifier) subscribeOnce(ctx context.Context, deliver func(gatehouse.Invalidation)) error {
	ps := n.client.Subscribe(ctx, n.channel)
	defer ps.Close()
	// go-redis waits for a message for the timeout given, whatever the
	// context: closing the subscription is what ends the wait.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	// The confirmation proves that messages published from now on arrive.
	msg, err := ps.ReceiveTimeout(ctx, notifyCheck)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if s, ok := msg.(*goredis.Subscription); !ok || s.Kind != "subscribe" {
		return fmt.Errorf("subscribe: unexpected first reply %T", msg)
	}
	deliver(gatehouse.Invalidation{Kind: gatehouse.SubscriptionReady})
	defer deliver(gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost})
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, notifyCheck)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				// Quiet for notifyCheck: make sure the connection still
				// works. The pong, or anything else, must come within
				// the next notifyCheck.
				if err := ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			}
			n.log.Warn("cache invalidations: lost the Redis subscription; caches are bypassed until it is back", "err", err)
			return errNotifyLost
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Message:
			deliver(parseMessage(m.Payload, n.channel, n.log))
		case *goredis.Subscription:
			// go-redis renewed the subscription on a new connection on its
			// own: whatever was published in between is lost.
			if m.Kind == "subscribe" {
				deliver(gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost})
				deliver(gatehouse.Invalidation{Kind: gatehouse.SubscriptionReady})
			}
		}
	}
}

// parseMessage reads a payload; one it cannot read (from a newer version,
// or not from gatehouse) drops everything rather than nothing.
func parseMessage(payload, channel string, log *slog.Logger) gatehouse.Invalidation {
	var inv gatehouse.Invalidation
	if err := inv.UnmarshalText([]byte(payload)); err != nil {
		log.Warn("cache invalidations: unreadable message; dropping every cache", "channel", channel, "length", len(payload))
		return gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	}
	return inv
}

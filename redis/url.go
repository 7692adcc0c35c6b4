package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ParseURL returns a client for the Redis that url names, in one of these
// forms:
//
//	redis://[[user]:password@]host[:port][/db][?option=value…]
//	rediss://…                       the same over TLS
//	redis-sentinel://[[user]:password@]host[:port][,host[:port]…][/db]?master=NAME[&option=value…]
//	rediss-sentinel://…              the same over TLS
//	redis-cluster://[[user]:password@]host[:port][,host[:port]…][?option=value…]
//	rediss-cluster://…               the same over TLS
//
// The port is 6379 by default, 26379 for sentinels. The options are
// go-redis's, in snake case (dial_timeout=3s, pool_size=20, …; see
// goredis.ParseURL). A sentinel URL names the sentinels; the user and
// password are those of the master and replicas it finds (go-redis's
// FailoverOptions.Username and Password): sentinels with a password of
// their own need a client made with goredis.NewFailoverClient. A cluster
// URL names some of the cluster's nodes.
//
// The client honours its callers' context deadlines (go-redis's
// ContextTimeoutEnabled), so that readyz's bounds hold against a Redis
// that accepts connections but does not answer. A call without a deadline
// (a request's) is bounded too: dial_timeout, read_timeout and max_retries
// that the URL does not set are tighter than go-redis's defaults — 2s, 3s
// (writes follow it) and 1, with one attempt per dial — so that a command
// to a Redis that is down or hung fails within seconds, not a minute. The
// client is not connected yet: the first command connects. Errors never
// contain the password.
func ParseURL(rawURL string) (goredis.UniversalClient, error) {
	u, err := url.Parse(withOneHost(rawURL))
	if err != nil {
		// url.Parse quotes the URL, or the part it could not read, which
		// may be the password.
		return nil, errors.New("redis: the URL is not valid")
	}
	password, _ := u.User.Password()
	c, err := parseURL(u, hostsOf(rawURL))
	if err != nil {
		return nil, redact(err, password)
	}
	return c, nil
}

// parseURL is ParseURL on a parsed URL; its errors may hold the password.
// hosts is the host part of the URL as written.
func parseURL(u *url.URL, hosts string) (goredis.UniversalClient, error) {
	scheme, kind, _ := strings.Cut(u.Scheme, "-")
	if scheme != "redis" && scheme != "rediss" {
		return nil, fmt.Errorf("redis: URL scheme %q: want redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", u.Scheme)
	}
	switch kind {
	case "":
		o, err := goredis.ParseURL(rebuild(u, scheme, u.Host, u.Query()))
		if err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled = true
		bound(&o.DialTimeout, &o.ReadTimeout, &o.MaxRetries, &o.DialerRetries)
		return goredis.NewClient(o), nil
	case "sentinel":
		q := u.Query()
		master := q.Get("master")
		if master == "" {
			return nil, errors.New("redis: a sentinel URL needs ?master=NAME, the name of the master the sentinels watch")
		}
		q.Del("master")
		hosts, err := hostList(hosts, "26379")
		if err != nil {
			return nil, err
		}
		q["addr"] = append(q["addr"], hosts[1:]...)
		q.Set("master_name", master)
		// go-redis's failover URL takes the userinfo as the sentinels'
		// credentials, and the master's from the query: moved here, so
		// that the password is not in a query string.
		user, password := q.Get("username"), q.Get("password")
		if user != "" || password != "" {
			return nil, errors.New("redis: a sentinel URL takes the user and password before the host, not as options")
		}
		o, err := goredis.ParseFailoverURL(rebuild(&url.URL{Path: u.Path}, scheme, hosts[0], q))
		if err != nil {
			return nil, err
		}
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
		o.ContextTimeoutEnabled = true
		bound(&o.DialTimeout, &o.ReadTimeout, &o.MaxRetries, &o.DialerRetries)
		return goredis.NewFailoverClient(o), nil
	case "cluster":
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, errors.New("redis: a cluster URL has no database number: a cluster has database 0 only")
		}
		hosts, err := hostList(hosts, "6379")
		if err != nil {
			return nil, err
		}
		q := u.Query()
		q["addr"] = append(q["addr"], hosts[1:]...)
		o, err := goredis.ParseClusterURL(rebuild(&url.URL{User: u.User}, scheme, hosts[0], q))
		if err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled = true
		bound(&o.DialTimeout, &o.ReadTimeout, &o.MaxRetries, &o.DialerRetries)
		return goredis.NewClusterClient(o), nil
	}
	return nil, fmt.Errorf("redis: URL scheme %q: want redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", u.Scheme)
}

// The bounds ParseURL gives a client whose URL does not set them, so that
// a command to a Redis that is down or does not answer fails within
// seconds, and the request waiting for it is answered store_unavailable,
// rather than after go-redis's defaults: five dial attempts of 5 seconds
// each, read timeouts of 5 seconds, and all of it tried four times — over
// a minute for one command to a host that drops packets. Worst case now,
// for one command: 2 tries of one 2-second dial (an unreachable host) or
// of a 3-second read (a server that accepts but never answers), 4 to 6
// seconds; a refused connection fails at once. The one retry is kept for
// a pooled connection that a restarted Redis closed. Reads are 3 seconds,
// not less, since a sweep's script may take a while on a large store.
const (
	defaultDialTimeout   = 2 * time.Second
	defaultReadTimeout   = 3 * time.Second // writes follow it
	defaultMaxRetries    = 1
	defaultDialerRetries = 1 // attempts per dial, not retries
)

// bound sets each of the options given to its default bound above when
// the URL left it zero, which go-redis would read as its own default.
func bound(dial, read *time.Duration, retries, dialerRetries *int) {
	if *dial == 0 {
		*dial = defaultDialTimeout
	}
	if *read == 0 {
		*read = defaultReadTimeout
	}
	if *retries == 0 {
		*retries = defaultMaxRetries
	}
	if *dialerRetries == 0 {
		*dialerRetries = defaultDialerRetries
	}
}

// withOneHost returns rawURL with the list of hosts of a sentinel or
// cluster URL replaced by one name, which url.Parse can read: it refuses
// "h1:7000,h2", taking everything after the last colon for the port.
// hostsOf returns the list.
func withOneHost(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || !strings.HasSuffix(scheme, "-sentinel") && !strings.HasSuffix(scheme, "-cluster") {
		return rawURL
	}
	start, end := hostBounds(rest)
	return scheme + "://" + rest[:start] + "hosts" + rest[end:]
}

func hostsOf(rawURL string) string {
	_, rest, _ := strings.Cut(rawURL, "://")
	start, end := hostBounds(rest)
	return rest[start:end]
}

// hostBounds returns where the hosts start and end in what follows the
// scheme of a URL: after the user information, before the path, query or
// fragment.
func hostBounds(rest string) (start, end int) {
	end = len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	start = strings.LastIndex(rest[:end], "@") + 1
	return start, end
}

// hostList splits the host part of a sentinel or cluster URL, host:port
// pairs separated by commas, adding the default port where none is given.
func hostList(hosts, defaultPort string) ([]string, error) {
	var list []string
	for h := range strings.SplitSeq(hosts, ",") {
		if h == "" {
			return nil, errors.New("redis: the URL names no host, or an empty one")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.Trim(h, "[]"), defaultPort
		}
		if host == "" || strings.ContainsAny(host, "[]") {
			return nil, fmt.Errorf("redis: host %q is not valid", h)
		}
		list = append(list, net.JoinHostPort(host, port))
	}
	return list, nil
}

// rebuild returns u with scheme, host and query q, as a URL for go-redis.
func rebuild(u *url.URL, scheme, host string, q url.Values) string {
	v := *u
	v.Scheme, v.Host, v.RawQuery = scheme, host, q.Encode()
	return v.String()
}

// redact returns err's text without password, and without the URL that a
// *url.Error quotes.
func redact(err error, password string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
		// url.Values.Encode escapes it in a query string.
		msg = strings.ReplaceAll(msg, url.QueryEscape(password), "xxxxx")
	}
	if !strings.HasPrefix(msg, "redis:") {
		msg = "redis: " + msg
	}
	return errors.New(msg)
}

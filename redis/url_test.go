package redis_test

import (
	"slices"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/redis"
)

func TestParseURL(t *testing.T) {
	// The clients are only made: none of these servers is dialled.
	t.Run("Client", func(t *testing.T) {
		for _, tc := range []struct {
			url, addr, user, password string
			db                        int
			tls                       bool
		}{
			{"redis://127.0.0.1:6379/0", "127.0.0.1:6379", "", "", 0, false},
			{"redis://cache.internal", "cache.internal:6379", "", "", 0, false},
			{"redis://:s3cret@cache.internal:6380/2?dial_timeout=3s", "cache.internal:6380", "", "s3cret", 2, false},
			{"rediss://gate:s3cret@cache.internal/1", "cache.internal:6379", "gate", "s3cret", 1, true},
			{"redis://[::1]:6379/3", "[::1]:6379", "", "", 3, false},
		} {
			c, err := redis.ParseURL(tc.url)
			if err != nil {
				t.Errorf("ParseURL(%q): %v", tc.url, err)
				continue
			}
			defer c.Close()
			cl, ok := c.(*goredis.Client)
			if !ok {
				t.Errorf("ParseURL(%q) = %T, want a *goredis.Client", tc.url, c)
				continue
			}
			o := cl.Options()
			if o.Addr != tc.addr || o.Username != tc.user || o.Password != tc.password || o.DB != tc.db || (o.TLSConfig != nil) != tc.tls {
				t.Errorf("ParseURL(%q) = addr %q, user %q, password %q, db %d, TLS %v; want %q, %q, %q, %d, %v",
					tc.url, o.Addr, o.Username, o.Password, o.DB, o.TLSConfig != nil, tc.addr, tc.user, tc.password, tc.db, tc.tls)
			}
		}
	})

	t.Run("Sentinel", func(t *testing.T) {
		for _, u := range []string{
			"redis-sentinel://:s3cret@s1:26379,s2:26380/1?master=gatehouse",
			"rediss-sentinel://s1?master=gatehouse&dial_timeout=2s",
		} {
			c, err := redis.ParseURL(u)
			if err != nil {
				t.Errorf("ParseURL(%q): %v", u, err)
				continue
			}
			c.Close()
			if _, ok := c.(*goredis.Client); !ok {
				t.Errorf("ParseURL(%q) = %T, want a failover *goredis.Client", u, c)
			}
		}
	})

	t.Run("Cluster", func(t *testing.T) {
		c, err := redis.ParseURL("redis-cluster://gate:s3cret@n1:7000,n2:7001,n3?read_only=true")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl, ok := c.(*goredis.ClusterClient)
		if !ok {
			t.Fatalf("ParseURL(cluster) = %T, want a *goredis.ClusterClient", c)
		}
		o := cl.Options()
		if want := []string{"n1:7000", "n2:7001", "n3:6379"}; !slices.Equal(o.Addrs, want) || o.Username != "gate" || o.Password != "s3cret" || !o.ReadOnly {
			t.Errorf("cluster options = %q, %q, %q, read only %v; want %q, gate, s3cret, true", o.Addrs, o.Username, o.Password, o.ReadOnly, want)
		}
	})

	t.Run("Bad", func(t *testing.T) {
		// The password is in every URL, and in no error.
		const secret = "s3cretPW"
		for _, u := range []string{
			"http://:s3cretPW@cache.internal",
			"redis://:s3cretPW@cache.internal/notanumber",
			"redis://:s3cretPW@cache.internal/0/1",
			"redis://:s3cretPW@cache.internal/0?no_such_option=1",
			"redis://:s3cretPW@cache.internal/0?dial_timeout=s3cretPW",
			"redis://:s3cretPW@cache.internal/0?password=s3cretPW",
			"redis://:s3cretPW@cache.internal:port/0",
			"redis://:s3cretPW%zz@cache.internal/0",
			"redis://:s3c/retPW@cache.internal/0",
			"redis-sentinel://:s3cretPW@s1:26379/0",
			"redis-sentinel://:s3cretPW@s1:26379,,s2/0?master=m",
			"redis-sentinel://s1/0?master=m&password=s3cretPW",
			"redis-sentinel://:s3cretPW@s1/0?master=m&max_retries=s3cretPW",
			"redis-cluster://:s3cretPW@n1:7000/3",
			"redis-cluster://:s3cretPW@n1:7000?max_redirects=s3cretPW",
			"redis-other://:s3cretPW@n1",
			"",
		} {
			c, err := redis.ParseURL(u)
			if err == nil {
				c.Close()
				t.Errorf("ParseURL(%q) = a client, want an error", u)
				continue
			}
			if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, "s3c") || !strings.HasPrefix(msg, "redis: ") {
				t.Errorf("ParseURL(%q) = %q, want an error starting with redis: and without the password", u, msg)
			}
		}
	})
}

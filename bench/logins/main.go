// Command logins measures issue 12's login rate: logins per second through
// POST BASE/session on one or more gatehouse processes, against the rate at
// which password.Hasher computes argon2id hashes with the default
// parameters on the same machine, in alternating rounds so that both see
// the same load.
//
// The users come from bench/server -login-users N: PREFIX-0 …
// PREFIX-(N-1), all with the password in $BENCH_LOGIN_PASSWORD (an
// environment variable, so that it is not on a command line). Each round
// runs -concurrency goroutines for -duration: first logging in, user after
// user, spread over the -targets in turn (each login must answer 200 with
// a session cookie), then hashing the password with a password.Hasher
// with the defaults gatehouse uses (password.DefaultParams, at most
// 2×GOMAXPROCS hashes at once). It prints each round and the ratio of the
// medians, logins/s over hashes/s.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/password"
)

func main() {
	targets := flag.String("targets", "", "comma-separated base `URLs` of gatehouse's API, such as http://127.0.0.1:8080/auth")
	prefix := flag.String("users", "", "`PREFIX` of the users' names (bench/server's LOGIN_USERS)")
	n := flag.Int("n", 0, "number of users (bench/server's LOGIN_USERS)")
	conc := flag.Int("concurrency", 8, "concurrent logins, and concurrent hashes")
	dur := flag.Duration("duration", 5*time.Second, "length of each side of a round")
	rounds := flag.Int("rounds", 5, "number of rounds")
	flag.Parse()
	pw := os.Getenv("BENCH_LOGIN_PASSWORD")
	if *targets == "" || *prefix == "" || *n < 1 || *conc < 1 || *rounds < 1 || pw == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "logins: -targets, -users, -n and $BENCH_LOGIN_PASSWORD are required")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{targets: strings.Split(*targets, ","), prefix: *prefix, n: *n, pw: pw, conc: *conc, dur: *dur}
	if err := b.run(ctx, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "logins:", err)
		os.Exit(1)
	}
}

type bench struct {
	targets   []string
	prefix    string
	n         int
	pw        string
	conc      int
	dur       time.Duration
	client    http.Client
	nextLogin atomic.Uint64
}

func (b *bench) run(ctx context.Context, rounds int) error {
	b.client.Timeout = 30 * time.Second
	b.client.Transport = &http.Transport{MaxIdleConnsPerHost: b.conc}
	hasher := password.NewHasher(password.DefaultParams, 0, 0)
	fmt.Printf("# %d concurrent, %s per side, targets %s\n", b.conc, b.dur, strings.Join(b.targets, " "))
	fmt.Printf("%-6s %10s %10s %7s\n", "round", "logins/s", "hashes/s", "ratio")
	var ls, hs []float64
	for r := 1; r <= rounds; r++ {
		l, err := b.rate(ctx, b.login)
		if err != nil {
			return err
		}
		h, err := b.rate(ctx, func(ctx context.Context) error {
			_, err := hasher.Hash(ctx, b.pw)
			return err
		})
		if err != nil {
			return err
		}
		ls, hs = append(ls, l), append(hs, h)
		fmt.Printf("%-6d %10.1f %10.1f %7.3f\n", r, l, h, l/h)
	}
	lm, hm := median(ls), median(hs)
	fmt.Printf("%-6s %10.1f %10.1f %7.3f\n", "median", lm, hm, lm/hm)
	fmt.Printf("ratio of medians (logins/s over argon2id hashes/s): %.3f\n", lm/hm)
	return nil
}

// rate runs op from b.conc goroutines for b.dur and returns how many
// completed per second; any error stops the run.
func (b *bench) rate(ctx context.Context, op func(context.Context) error) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	start := time.Now()
	deadline := start.Add(b.dur)
	for range b.conc {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := op(ctx); err != nil {
					mu.Lock()
					if first == nil && ctx.Err() == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// login logs the next user in on the next target and checks the answer.
func (b *bench) login(ctx context.Context) error {
	i := b.nextLogin.Add(1) - 1
	target := b.targets[i%uint64(len(b.targets))]
	body, err := json.Marshal(map[string]string{"username": fmt.Sprintf("%s-%d", b.prefix, i%uint64(b.n)), "password": b.pw})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", target+"/session", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("login on %s: %s: %s", target, res.Status, msg)
	}
	if len(res.Cookies()) == 0 {
		return errors.New("login on " + target + ": no session cookie")
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

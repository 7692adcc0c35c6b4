package password

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBreachURL is the Pwned Passwords API, which BreachChecker uses when
// its URL is empty.
const DefaultBreachURL = "https://api.pwnedpasswords.com"

// defaultBreachTimeout is the BreachChecker timeout when none is set.
const defaultBreachTimeout = 3 * time.Second

// maxBreachResponse bounds the body BreachChecker reads. A real padded
// response has 800 to 1,000 lines of about 40 bytes.
const maxBreachResponse = 1 << 20

// ErrBreachCheck is the error, wrapped with its cause, of a breach check that
// could not give an answer: the service could not be reached, timed out,
// answered with a status other than 200 OK, or sent a malformed response.
var ErrBreachCheck = errors.New("password: breach check failed")

// BreachChecker asks a Pwned Passwords compatible service whether a password
// has appeared in a data breach, using the k-anonymity range API: only the
// first 5 hex digits of the password's SHA-1 leave the process, and every
// request asks for padding (Add-Padding: true), so that neither the service
// nor an observer of the response size learns the password.
//
// The zero value uses DefaultBreachURL, http.DefaultClient and a 3-second
// timeout.
type BreachChecker struct {
	// URL is the base URL of the service; requests go to URL + "/range/"
	// + prefix. Empty means DefaultBreachURL.
	URL string
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// Timeout bounds each check, on top of the caller's context; zero or
	// less means 3 seconds.
	Timeout time.Duration
}

// Breached returns how many times password appears in the service's breach
// corpus: 0 when it does not. Padding entries (count 0) are ignored.
//
// An error wraps ErrBreachCheck and means the answer is unknown; it is the
// caller's decision whether to accept the password then. Its text never
// contains the password nor any part of its hash.
func (b BreachChecker) Breached(ctx context.Context, password string) (int, error) {
	sum := sha1.Sum([]byte(password))
	digest := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := digest[:5], digest[5:]

	base := b.URL
	if base == "" {
		base = DefaultBreachURL
	}
	client := b.Client
	if client == nil {
		client = http.DefaultClient
	}
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = defaultBreachTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/range/"+prefix, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: invalid service URL", ErrBreachCheck)
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "gatehouse")
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error's text holds the URL, and so the hash prefix.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return 0, fmt.Errorf("%w: %w", ErrBreachCheck, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%w: HTTP status %d", ErrBreachCheck, resp.StatusCode)
	}
	count, err := parseRange(io.LimitReader(resp.Body, maxBreachResponse+1), suffix)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBreachCheck, err)
	}
	return count, nil
}

var (
	errRangeMalformed = errors.New("malformed range response")
	errRangeTooLarge  = errors.New("range response too large")
	errRangeEmpty     = errors.New("empty range response")
)

// parseRange reads a range response, lines of "SUFFIX:COUNT" (35 hex
// digits, a colon, a decimal count) separated by CRLF or LF, and returns the
// count of suffix, or 0. It reads the whole response, so that a malformed
// one is an error wherever the damage is.
func parseRange(r io.Reader, suffix string) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	var (
		count, lines int
		total        int
	)
	for sc.Scan() {
		line := sc.Bytes()
		total += len(line) + 1
		if total > maxBreachResponse {
			return 0, errRangeTooLarge
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			continue
		}
		hexPart, countPart, found := strings.Cut(string(line), ":")
		if !found || len(hexPart) != len(suffix) || !isHex(hexPart) {
			return 0, errRangeMalformed
		}
		if countPart == "" || len(countPart) > 12 || !isDigits(countPart) {
			return 0, errRangeMalformed
		}
		n, err := strconv.Atoi(countPart)
		if err != nil {
			return 0, errRangeMalformed
		}
		lines++
		if n > 0 && strings.EqualFold(hexPart, suffix) {
			count = n
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return 0, errRangeMalformed
		}
		return 0, err
	}
	if lines == 0 {
		// Every prefix has entries, and padding adds more: an empty
		// answer is not the service's.
		return 0, errRangeEmpty
	}
	return count, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

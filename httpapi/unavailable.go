package httpapi

import (
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

// storeRetryAfter is the Retry-After of a store failure that says nothing
// of its own: long enough not to hammer a store that is coming back, short
// enough that a blip is over for the client at its first retry.
const storeRetryAfter = 2 * time.Second

// storeFailure reports whether err is a failure of a store: the one place
// that decides it. Stores answer what they mean with a *gatehouse.Error
// (not found, conflict, busy), the use cases answer everything they decide
// with one, and code that finds a fault of its own says CodeInternal; so
// an error with no *gatehouse.Error in its chain came from below a store —
// connection refused, a timeout, a closed pool, the deadline of a store
// call — whichever store it is (SQLite, PostgreSQL, Redis), and without
// the adapters having to classify their drivers' errors.
func storeFailure(err error) bool {
	if err == nil {
		return false
	}
	var ge *gatehouse.Error
	return !errors.As(err, &ge)
}

// storeUnavailable returns err as gatehouse answers a store it could not
// use: a store_unavailable error that carries err (to be logged, never
// shown) and a Retry-After (err's own, when it has one, as a busy store's).
func storeUnavailable(err error) error {
	retry := storeRetryAfter
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		if ge.Code == gatehouse.CodeStoreUnavailable {
			return err
		}
		if ge.RetryAfter > 0 {
			retry = ge.RetryAfter
		}
	}
	return &gatehouse.Error{Code: gatehouse.CodeStoreUnavailable,
		Message: "A store gatehouse needs cannot be reached. Try again shortly.", RetryAfter: retry, Err: err}
}

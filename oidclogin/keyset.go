package oidclogin

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// keySet is the provider's JWKS (go-oidc's remote key set: cached,
// fetched again on an unknown kid) that also tells apart "the keys could
// not be fetched" from "the signature is wrong". go-oidc's verifier
// flattens the key set's error into text, so the difference travels
// beside it, in a keyFetchFailure the caller put in the context.
type keySet struct {
	url    string
	remote *oidc.RemoteKeySet
}

type keyFetchFailureKey struct{}

// keyFetchFailure records, for one verification, that the JWKS could not
// be fetched.
type keyFetchFailure struct{ err error }

// withKeyFetchFailure returns ctx carrying a fresh keyFetchFailure.
func withKeyFetchFailure(ctx context.Context) (context.Context, *keyFetchFailure) {
	f := &keyFetchFailure{}
	return context.WithValue(ctx, keyFetchFailureKey{}, f), f
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err != nil && isFetchFailure(err) {
		if f, ok := ctx.Value(keyFetchFailureKey{}).(*keyFetchFailure); ok {
			f.err = err
		}
	}
	return payload, err
}

// isFetchFailure says whether err (from go-oidc's remote key set) is the
// JWKS endpoint unreachable or failing, rather than a bad signature.
func isFetchFailure(err error) bool {
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// A status other than 200 from the JWKS endpoint ("oidc: get keys
	// failed: 503 …"), the only form go-oidc gives it.
	return strings.Contains(err.Error(), "get keys failed")
}

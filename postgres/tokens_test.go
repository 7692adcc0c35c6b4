package postgres_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storetest"
)

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) storetest.TokenStores {
		s := open(t)
		return storetest.TokenStores{TokenStore: s, UserStore: s, SessionStore: s}
	})
}

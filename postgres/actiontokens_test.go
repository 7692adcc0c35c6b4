package postgres_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storetest"
)

func TestActionTokens(t *testing.T) {
	storetest.RunActionTokens(t, func(t *testing.T) storetest.ActionTokenStores {
		s := open(t)
		return storetest.ActionTokenStores{ActionTokenStore: s, UserStore: s, TokenStore: s, SessionStore: s}
	})
}

package postgres_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storetest"
)

func TestPendingLogins(t *testing.T) {
	storetest.RunPendingLogins(t, func(t *testing.T) storetest.PendingLoginStores {
		s := open(t)
		return storetest.PendingLoginStores{PendingLoginStore: s, UserStore: s, SessionStore: sessionStore(t, s)}
	})
}

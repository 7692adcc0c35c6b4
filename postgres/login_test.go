package postgres_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storetest"
)

func TestLoginRecorder(t *testing.T) {
	storetest.RunLoginRecorder(t, func(t *testing.T) storetest.LoginStores {
		s := open(t)
		return storetest.LoginStores{LoginRecorder: s, UserStore: s, SessionStore: s, AuditStore: s}
	})
}

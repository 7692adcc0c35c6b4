package postgres_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storetest"
)

func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditStores {
		s := open(t)
		return storetest.AuditStores{AuditStore: s, UserStore: s, TokenStore: s, SessionStore: s}
	})
}

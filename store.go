package gatehouse

import "context"

// Store is every per-area store at once: what one database provides
// (gatehouse's SQLite store does), and what storetest.Run checks. Code
// that uses stores takes the narrow interfaces it needs instead (see
// account.Stores), so that short-lived state and durable records can live
// in different stores.
type Store interface {
	UserStore
	SessionStore
	ThrottleStore
	TokenStore
	AuditStore
	ActionTokenStore
	OutboxStore
	TwoFactorStore
	PendingLoginStore
	DeviceStore
	IdentityStore
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
}

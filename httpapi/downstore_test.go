package httpapi_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
)

// errConnRefused is what a downStore's calls fail with: a bare error, as
// a database driver's "connection refused" is.
var errConnRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// downStore is a gatehouse.Store over a real one whose every call fails
// with errConnRefused while down is set: a database or Redis that went
// away and comes back. It holds the real store in a field, not embedded,
// so that a method added to gatehouse.Store does not pass through
// unnoticed: the file stops compiling. It records the methods called
// (see calls).
type downStore struct {
	real gatehouse.Store
	down atomic.Bool

	mu     sync.Mutex
	called []string
}

// fail records the call of method and returns errConnRefused while d is
// down.
func (d *downStore) fail(method string) error {
	d.mu.Lock()
	d.called = append(d.called, method)
	d.mu.Unlock()
	if d.down.Load() {
		return errConnRefused
	}
	return nil
}

// calls returns the methods called since the last calls, and forgets them.
func (d *downStore) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.called
	d.called = nil
	return c
}

// The methods of gatehouse.Store, each failing while d is down.

func (d *downStore) ActionTokenByHash(ctx context.Context, p1 []byte) (*gatehouse.ActionToken, error) {
	if err := d.fail("ActionTokenByHash"); err != nil {
		return nil, err
	}
	return d.real.ActionTokenByHash(ctx, p1)
}

func (d *downStore) AddFailure(ctx context.Context, p1 string, p2 time.Time, p3 gatehouse.ThrottleRule) (gatehouse.Throttle, error) {
	if err := d.fail("AddFailure"); err != nil {
		return gatehouse.Throttle{}, err
	}
	return d.real.AddFailure(ctx, p1, p2, p3)
}

func (d *downStore) AppendAudit(ctx context.Context, p1 *gatehouse.AuditEvent) error {
	if err := d.fail("AppendAudit"); err != nil {
		return err
	}
	return d.real.AppendAudit(ctx, p1)
}

func (d *downStore) Audit(ctx context.Context, p1 gatehouse.AuditFilter) ([]*gatehouse.AuditEvent, int, error) {
	if err := d.fail("Audit"); err != nil {
		return nil, 0, err
	}
	return d.real.Audit(ctx, p1)
}

func (d *downStore) ClaimMail(ctx context.Context, p1 time.Time, p2 time.Duration, p3 int) ([]*gatehouse.Mail, error) {
	if err := d.fail("ClaimMail"); err != nil {
		return nil, err
	}
	return d.real.ClaimMail(ctx, p1, p2, p3)
}

func (d *downStore) CountPendingLoginAttempt(ctx context.Context, p1 string, p2 int) (int, error) {
	if err := d.fail("CountPendingLoginAttempt"); err != nil {
		return 0, err
	}
	return d.real.CountPendingLoginAttempt(ctx, p1, p2)
}

func (d *downStore) CountUsers(ctx context.Context) (int, error) {
	if err := d.fail("CountUsers"); err != nil {
		return 0, err
	}
	return d.real.CountUsers(ctx)
}

func (d *downStore) CreateActionToken(ctx context.Context, p1 *gatehouse.ActionToken) error {
	if err := d.fail("CreateActionToken"); err != nil {
		return err
	}
	return d.real.CreateActionToken(ctx, p1)
}

func (d *downStore) CreateDevice(ctx context.Context, p1 *gatehouse.Device) error {
	if err := d.fail("CreateDevice"); err != nil {
		return err
	}
	return d.real.CreateDevice(ctx, p1)
}

func (d *downStore) CreateGroup(ctx context.Context, p1 *gatehouse.Group) error {
	if err := d.fail("CreateGroup"); err != nil {
		return err
	}
	return d.real.CreateGroup(ctx, p1)
}

func (d *downStore) CreatePendingLogin(ctx context.Context, p1 *gatehouse.PendingLogin) error {
	if err := d.fail("CreatePendingLogin"); err != nil {
		return err
	}
	return d.real.CreatePendingLogin(ctx, p1)
}

func (d *downStore) CreateSession(ctx context.Context, p1 *gatehouse.Session) error {
	if err := d.fail("CreateSession"); err != nil {
		return err
	}
	return d.real.CreateSession(ctx, p1)
}

func (d *downStore) CreateToken(ctx context.Context, p1 *gatehouse.Token) error {
	if err := d.fail("CreateToken"); err != nil {
		return err
	}
	return d.real.CreateToken(ctx, p1)
}

func (d *downStore) CreateUser(ctx context.Context, p1 *gatehouse.User) error {
	if err := d.fail("CreateUser"); err != nil {
		return err
	}
	return d.real.CreateUser(ctx, p1)
}

func (d *downStore) DeleteActionTokens(ctx context.Context, p1 string, p2 gatehouse.ActionPurpose) (int, error) {
	if err := d.fail("DeleteActionTokens"); err != nil {
		return 0, err
	}
	return d.real.DeleteActionTokens(ctx, p1, p2)
}

func (d *downStore) DeleteDevices(ctx context.Context, p1 string, p2 string) (int, error) {
	if err := d.fail("DeleteDevices"); err != nil {
		return 0, err
	}
	return d.real.DeleteDevices(ctx, p1, p2)
}

func (d *downStore) DeleteExpiredDevices(ctx context.Context, p1 time.Time) (int, error) {
	if err := d.fail("DeleteExpiredDevices"); err != nil {
		return 0, err
	}
	return d.real.DeleteExpiredDevices(ctx, p1)
}

func (d *downStore) DeleteExpiredPendingLogins(ctx context.Context, p1 time.Time) (int, error) {
	if err := d.fail("DeleteExpiredPendingLogins"); err != nil {
		return 0, err
	}
	return d.real.DeleteExpiredPendingLogins(ctx, p1)
}

func (d *downStore) DeleteExpiredSessions(ctx context.Context, p1 time.Time) (int, error) {
	if err := d.fail("DeleteExpiredSessions"); err != nil {
		return 0, err
	}
	return d.real.DeleteExpiredSessions(ctx, p1)
}

func (d *downStore) DeleteGroup(ctx context.Context, p1 string) error {
	if err := d.fail("DeleteGroup"); err != nil {
		return err
	}
	return d.real.DeleteGroup(ctx, p1)
}

func (d *downStore) DeleteOldMail(ctx context.Context, p1 time.Time) (int, error) {
	if err := d.fail("DeleteOldMail"); err != nil {
		return 0, err
	}
	return d.real.DeleteOldMail(ctx, p1)
}

func (d *downStore) TakePendingLogin(ctx context.Context, p1 string) error {
	if err := d.fail("TakePendingLogin"); err != nil {
		return err
	}
	return d.real.TakePendingLogin(ctx, p1)
}

func (d *downStore) DeleteSession(ctx context.Context, p1 string) error {
	if err := d.fail("DeleteSession"); err != nil {
		return err
	}
	return d.real.DeleteSession(ctx, p1)
}

func (d *downStore) DeleteStaleActionTokens(ctx context.Context, p1 time.Time) (int, error) {
	if err := d.fail("DeleteStaleActionTokens"); err != nil {
		return 0, err
	}
	return d.real.DeleteStaleActionTokens(ctx, p1)
}

func (d *downStore) DeleteStaleThrottles(ctx context.Context, p1 time.Time, p2 time.Duration) (int, error) {
	if err := d.fail("DeleteStaleThrottles"); err != nil {
		return 0, err
	}
	return d.real.DeleteStaleThrottles(ctx, p1, p2)
}

func (d *downStore) DeleteToken(ctx context.Context, p1 string) error {
	if err := d.fail("DeleteToken"); err != nil {
		return err
	}
	return d.real.DeleteToken(ctx, p1)
}

func (d *downStore) DeleteTwoFactor(ctx context.Context, p1 string) error {
	if err := d.fail("DeleteTwoFactor"); err != nil {
		return err
	}
	return d.real.DeleteTwoFactor(ctx, p1)
}

func (d *downStore) DeleteUser(ctx context.Context, p1 string) error {
	if err := d.fail("DeleteUser"); err != nil {
		return err
	}
	return d.real.DeleteUser(ctx, p1)
}

func (d *downStore) DeleteUserPendingLogins(ctx context.Context, p1 string) (int, error) {
	if err := d.fail("DeleteUserPendingLogins"); err != nil {
		return 0, err
	}
	return d.real.DeleteUserPendingLogins(ctx, p1)
}

func (d *downStore) DeleteUserSessions(ctx context.Context, p1 string, p2 string) (int, error) {
	if err := d.fail("DeleteUserSessions"); err != nil {
		return 0, err
	}
	return d.real.DeleteUserSessions(ctx, p1, p2)
}

func (d *downStore) DeleteUserTokens(ctx context.Context, p1 string) (int, error) {
	if err := d.fail("DeleteUserTokens"); err != nil {
		return 0, err
	}
	return d.real.DeleteUserTokens(ctx, p1)
}

func (d *downStore) DeviceByTokenHash(ctx context.Context, p1 []byte) (*gatehouse.Device, error) {
	if err := d.fail("DeviceByTokenHash"); err != nil {
		return nil, err
	}
	return d.real.DeviceByTokenHash(ctx, p1)
}

func (d *downStore) EnqueueMail(ctx context.Context, p1 *gatehouse.Mail) error {
	if err := d.fail("EnqueueMail"); err != nil {
		return err
	}
	return d.real.EnqueueMail(ctx, p1)
}

func (d *downStore) Group(ctx context.Context, p1 string) (*gatehouse.Group, error) {
	if err := d.fail("Group"); err != nil {
		return nil, err
	}
	return d.real.Group(ctx, p1)
}

func (d *downStore) GroupMembers(ctx context.Context, p1 string) ([]string, error) {
	if err := d.fail("GroupMembers"); err != nil {
		return nil, err
	}
	return d.real.GroupMembers(ctx, p1)
}

func (d *downStore) Groups(ctx context.Context) ([]*gatehouse.Group, error) {
	if err := d.fail("Groups"); err != nil {
		return nil, err
	}
	return d.real.Groups(ctx)
}

func (d *downStore) ListUsers(ctx context.Context, p1 gatehouse.UserFilter) ([]*gatehouse.User, int, error) {
	if err := d.fail("ListUsers"); err != nil {
		return nil, 0, err
	}
	return d.real.ListUsers(ctx, p1)
}

func (d *downStore) MarkMailFailed(ctx context.Context, p1 string, p2 string, p3 time.Time) error {
	if err := d.fail("MarkMailFailed"); err != nil {
		return err
	}
	return d.real.MarkMailFailed(ctx, p1, p2, p3)
}

func (d *downStore) MarkMailSent(ctx context.Context, p1 string, p2 time.Time) error {
	if err := d.fail("MarkMailSent"); err != nil {
		return err
	}
	return d.real.MarkMailSent(ctx, p1, p2)
}

func (d *downStore) MoveDevices(ctx context.Context, p1 string, p2 string, p3 string) (int, error) {
	if err := d.fail("MoveDevices"); err != nil {
		return 0, err
	}
	return d.real.MoveDevices(ctx, p1, p2, p3)
}

func (d *downStore) PendingLoginByTokenHash(ctx context.Context, p1 []byte) (*gatehouse.PendingLogin, error) {
	if err := d.fail("PendingLoginByTokenHash"); err != nil {
		return nil, err
	}
	return d.real.PendingLoginByTokenHash(ctx, p1)
}

func (d *downStore) PendingMail(ctx context.Context) (int, error) {
	if err := d.fail("PendingMail"); err != nil {
		return 0, err
	}
	return d.real.PendingMail(ctx)
}

func (d *downStore) Ping(ctx context.Context) error {
	if err := d.fail("Ping"); err != nil {
		return err
	}
	return d.real.Ping(ctx)
}

func (d *downStore) PutGroup(ctx context.Context, p1 *gatehouse.Group) error {
	if err := d.fail("PutGroup"); err != nil {
		return err
	}
	return d.real.PutGroup(ctx, p1)
}

func (d *downStore) PutTwoFactor(ctx context.Context, p1 *gatehouse.TwoFactor) error {
	if err := d.fail("PutTwoFactor"); err != nil {
		return err
	}
	return d.real.PutTwoFactor(ctx, p1)
}

func (d *downStore) RecordCodeSent(ctx context.Context, p1 *gatehouse.PendingLogin) error {
	if err := d.fail("RecordCodeSent"); err != nil {
		return err
	}
	return d.real.RecordCodeSent(ctx, p1)
}

func (d *downStore) RecordLogin(ctx context.Context, p1 string, p2 time.Time) error {
	if err := d.fail("RecordLogin"); err != nil {
		return err
	}
	return d.real.RecordLogin(ctx, p1, p2)
}

func (d *downStore) RekeySession(ctx context.Context, p1 string, p2 []byte, p3 *gatehouse.Session) error {
	if err := d.fail("RekeySession"); err != nil {
		return err
	}
	return d.real.RekeySession(ctx, p1, p2, p3)
}

func (d *downStore) ReserveAttempt(ctx context.Context, p1 string, p2 time.Time, p3 gatehouse.ThrottleRule, p4 time.Duration) (gatehouse.Throttle, gatehouse.Reservation, error) {
	if err := d.fail("ReserveAttempt"); err != nil {
		return gatehouse.Throttle{}, 0, err
	}
	return d.real.ReserveAttempt(ctx, p1, p2, p3, p4)
}

func (d *downStore) ResetThrottle(ctx context.Context, p1 string) error {
	if err := d.fail("ResetThrottle"); err != nil {
		return err
	}
	return d.real.ResetThrottle(ctx, p1)
}

func (d *downStore) SessionByID(ctx context.Context, p1 string) (*gatehouse.Session, error) {
	if err := d.fail("SessionByID"); err != nil {
		return nil, err
	}
	return d.real.SessionByID(ctx, p1)
}

func (d *downStore) SessionByTokenHash(ctx context.Context, p1 []byte) (*gatehouse.Session, error) {
	if err := d.fail("SessionByTokenHash"); err != nil {
		return nil, err
	}
	return d.real.SessionByTokenHash(ctx, p1)
}

func (d *downStore) Sessions(ctx context.Context, p1 string, p2 int) ([]*gatehouse.Session, string, error) {
	if err := d.fail("Sessions"); err != nil {
		return nil, "", err
	}
	return d.real.Sessions(ctx, p1, p2)
}

func (d *downStore) SetPasswordHash(ctx context.Context, p1 string, p2 string, p3 string) error {
	if err := d.fail("SetPasswordHash"); err != nil {
		return err
	}
	return d.real.SetPasswordHash(ctx, p1, p2, p3)
}

func (d *downStore) SettleAttempt(ctx context.Context, p1 string, p2 time.Time, p3 gatehouse.ThrottleRule, p4 gatehouse.Settlement) (gatehouse.Throttle, error) {
	if err := d.fail("SettleAttempt"); err != nil {
		return gatehouse.Throttle{}, err
	}
	return d.real.SettleAttempt(ctx, p1, p2, p3, p4)
}

func (d *downStore) Throttle(ctx context.Context, p1 string) (gatehouse.Throttle, error) {
	if err := d.fail("Throttle"); err != nil {
		return gatehouse.Throttle{}, err
	}
	return d.real.Throttle(ctx, p1)
}

func (d *downStore) TokenByHash(ctx context.Context, p1 []byte) (*gatehouse.Token, error) {
	if err := d.fail("TokenByHash"); err != nil {
		return nil, err
	}
	return d.real.TokenByHash(ctx, p1)
}

func (d *downStore) TokenByID(ctx context.Context, p1 string) (*gatehouse.Token, error) {
	if err := d.fail("TokenByID"); err != nil {
		return nil, err
	}
	return d.real.TokenByID(ctx, p1)
}

func (d *downStore) Tokens(ctx context.Context, p1 int, p2 int) ([]*gatehouse.Token, int, error) {
	if err := d.fail("Tokens"); err != nil {
		return nil, 0, err
	}
	return d.real.Tokens(ctx, p1, p2)
}

func (d *downStore) TouchSession(ctx context.Context, p1 string, p2 time.Time) error {
	if err := d.fail("TouchSession"); err != nil {
		return err
	}
	return d.real.TouchSession(ctx, p1, p2)
}

func (d *downStore) TouchToken(ctx context.Context, p1 string, p2 time.Time) error {
	if err := d.fail("TouchToken"); err != nil {
		return err
	}
	return d.real.TouchToken(ctx, p1, p2)
}

func (d *downStore) TwoFactor(ctx context.Context, p1 string) (*gatehouse.TwoFactor, error) {
	if err := d.fail("TwoFactor"); err != nil {
		return nil, err
	}
	return d.real.TwoFactor(ctx, p1)
}

func (d *downStore) UpdateUser(ctx context.Context, p1 *gatehouse.User) error {
	if err := d.fail("UpdateUser"); err != nil {
		return err
	}
	return d.real.UpdateUser(ctx, p1)
}

func (d *downStore) UseActionToken(ctx context.Context, p1 string, p2 time.Time) error {
	if err := d.fail("UseActionToken"); err != nil {
		return err
	}
	return d.real.UseActionToken(ctx, p1, p2)
}

func (d *downStore) UseRecoveryCode(ctx context.Context, p1 string, p2 []byte) error {
	if err := d.fail("UseRecoveryCode"); err != nil {
		return err
	}
	return d.real.UseRecoveryCode(ctx, p1, p2)
}

func (d *downStore) UseTOTPStep(ctx context.Context, p1 string, p2 int64) error {
	if err := d.fail("UseTOTPStep"); err != nil {
		return err
	}
	return d.real.UseTOTPStep(ctx, p1, p2)
}

func (d *downStore) UserByID(ctx context.Context, p1 string) (*gatehouse.User, error) {
	if err := d.fail("UserByID"); err != nil {
		return nil, err
	}
	return d.real.UserByID(ctx, p1)
}

func (d *downStore) UserByLogin(ctx context.Context, p1 string) (*gatehouse.User, error) {
	if err := d.fail("UserByLogin"); err != nil {
		return nil, err
	}
	return d.real.UserByLogin(ctx, p1)
}

func (d *downStore) UserSessions(ctx context.Context, p1 string) ([]*gatehouse.Session, error) {
	if err := d.fail("UserSessions"); err != nil {
		return nil, err
	}
	return d.real.UserSessions(ctx, p1)
}

func (d *downStore) UserTokens(ctx context.Context, p1 string) ([]*gatehouse.Token, error) {
	if err := d.fail("UserTokens"); err != nil {
		return nil, err
	}
	return d.real.UserTokens(ctx, p1)
}

func (d *downStore) CreateIdentity(ctx context.Context, p1 *gatehouse.Identity) error {
	if err := d.fail("CreateIdentity"); err != nil {
		return err
	}
	return d.real.CreateIdentity(ctx, p1)
}

func (d *downStore) DeleteIdentity(ctx context.Context, p1 string, p2 string) error {
	if err := d.fail("DeleteIdentity"); err != nil {
		return err
	}
	return d.real.DeleteIdentity(ctx, p1, p2)
}

func (d *downStore) IdentityBySubject(ctx context.Context, p1 string, p2 string) (*gatehouse.Identity, error) {
	if err := d.fail("IdentityBySubject"); err != nil {
		return nil, err
	}
	return d.real.IdentityBySubject(ctx, p1, p2)
}

func (d *downStore) TouchIdentity(ctx context.Context, p1 string, p2 string, p3 time.Time) error {
	if err := d.fail("TouchIdentity"); err != nil {
		return err
	}
	return d.real.TouchIdentity(ctx, p1, p2, p3)
}

func (d *downStore) UserIdentities(ctx context.Context, p1 string) ([]*gatehouse.Identity, error) {
	if err := d.fail("UserIdentities"); err != nil {
		return nil, err
	}
	return d.real.UserIdentities(ctx, p1)
}

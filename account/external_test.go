package account_test

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/sqlite"
)

// The account side of external logins: who an account at a provider is,
// and what its login owes. The OpenID Connect flow itself (package
// oidclogin) is tested against a real provider there and in httpapi;
// here the provider's verified claims arrive as an ExternalAssertion.

var extClient = account.Client{Addr: "192.0.2.30", UserAgent: "test"}

// newExternalService is a Service with second factors on and providers ps.
func newExternalService(t *testing.T, ps ...account.ExternalProvider) (*account.Service, *sqlite.Store, *clock) {
	t.Helper()
	cfg := account.DefaultConfig
	cfg.ExternalProviders = ps
	svc, store, clk := newServiceWith(t, cfg)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer})
	return svc, store, clk
}

// corp is the provider the tests log in with; the fields each test needs
// are set on a copy.
var corp = account.ExternalProvider{ID: "corp", Name: "Corp SSO", AllowManualLinking: true}

func assertion(subject, email string) account.ExternalAssertion {
	return account.ExternalAssertion{Provider: "corp", Subject: subject, Email: email, EmailVerified: true, IDToken: "id-token-of-" + subject}
}

func extLogin(t *testing.T, svc *account.Service, ext account.ExternalAssertion) *account.LoginResult {
	t.Helper()
	res, err := svc.ExternalLogin(context.Background(), ext, account.LoginRequest{Client: extClient, Remember: true})
	if err != nil {
		t.Fatalf("external login of %s: %v", ext.Subject, err)
	}
	return res
}

// lastAudit returns the newest event of kind about or by userID ("" any).
func lastAudit(t *testing.T, svc *account.Service, kind gatehouse.AuditKind, userID string) *gatehouse.AuditEvent {
	t.Helper()
	evs, _, err := svc.ListAudit(context.Background(), account.AuditFilter{Kind: kind, UserID: userID, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		return nil
	}
	return evs[0]
}

func createUser(t *testing.T, svc *account.Service, name string, groups ...string) *gatehouse.User {
	t.Helper()
	u, err := svc.CreateUser(context.Background(), account.NewUser{Username: name, Email: name + "@example.com", Password: casPassword, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func link(t *testing.T, svc *account.Service, u *gatehouse.User, ext account.ExternalAssertion) {
	t.Helper()
	if _, err := svc.LinkIdentity(context.Background(), account.Actor{User: u, Client: extClient}, ext); err != nil {
		t.Fatalf("link %s to %s: %v", ext.Subject, u.Username, err)
	}
}

func TestExternalLoginOfALinkedIdentity(t *testing.T) {
	svc, store, clk := newExternalService(t, corp)
	ctx := context.Background()
	u := createUser(t, svc, "lena")
	link(t, svc, u, assertion("sub-lena", "lena@corp.example"))
	clk.Advance(time.Hour)

	res := extLogin(t, svc, assertion("sub-lena", "lena@corp.example"))
	if res.User.ID != u.ID || res.Session == nil || res.PendingToken != "" {
		t.Fatalf("login: %+v; want a session of lena", res)
	}
	s := res.Session
	if s.Provider != "corp" || s.IDToken != "id-token-of-sub-lena" || !s.AuthenticatedAt.Equal(clk.Now()) || s.TwoFactor || !s.Remember {
		t.Errorf("session: %+v; want provider, ID token, authenticated now, remembered, not two-factor", s)
	}
	if e := lastAudit(t, svc, gatehouse.AuditLoginSucceeded, u.ID); e == nil || e.Detail["method"] != "external" || e.Detail["provider"] != "corp" {
		t.Errorf("login.succeeded: %+v; want method external, provider corp", e)
	}
	ids, err := store.UserIdentities(ctx, u.ID)
	if err != nil || len(ids) != 1 || !ids[0].LastUsedAt.Equal(clk.Now()) {
		t.Errorf("identities: %+v, %v; want one, used now", ids, err)
	}
	// The session authenticates, as any other.
	if got, _, err := svc.Authenticate(ctx, res.Token); err != nil || got.ID != u.ID {
		t.Errorf("authenticate: %v, %v", got, err)
	}
}

func TestExternalLoginOfAnUnknownAccountIsRefused(t *testing.T) {
	svc, _, _ := newExternalService(t, corp)
	ctx := context.Background()
	createUser(t, svc, "otto") // otto@example.com, but auto-linking is off
	_, err := svc.ExternalLogin(ctx, assertion("sub-x", "otto@example.com"), account.LoginRequest{Client: extClient})
	if code(err) != gatehouse.CodeNotLinked {
		t.Fatalf("unknown account: %v; want %s", err, gatehouse.CodeNotLinked)
	}
	e := lastAudit(t, svc, gatehouse.AuditExternalLoginFailed, "")
	if e == nil || e.Detail["reason"] != "not_linked" || e.Detail["provider"] != "corp" || e.ClientAddr != extClient.Addr {
		t.Errorf("audit: %+v; want external_login.failed, reason not_linked", e)
	}
	if _, err := svc.ExternalLogin(ctx, account.ExternalAssertion{Provider: "nope", Subject: "s"}, account.LoginRequest{}); code(err) != gatehouse.CodeNotFound {
		t.Errorf("unknown provider: %v; want not_found", err)
	}
	if _, err := svc.ExternalLogin(ctx, account.ExternalAssertion{Provider: "corp"}, account.LoginRequest{}); code(err) != gatehouse.CodeExternalLoginFailed {
		t.Errorf("no subject: %v; want external_login_failed", err)
	}
}

func TestExternalLoginLinksAVerifiedEmail(t *testing.T) {
	p := corp
	p.AutoLinkVerifiedEmail = true
	svc, store, _ := newExternalService(t, p)
	ctx := context.Background()
	u := createUser(t, svc, "vera")

	// Unverified: refused, and nothing linked.
	unverified := assertion("sub-vera", "VERA@example.com")
	unverified.EmailVerified = false
	if _, err := svc.ExternalLogin(ctx, unverified, account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodeNotLinked {
		t.Fatalf("unverified email: %v; want %s", err, gatehouse.CodeNotLinked)
	}
	if ids, _ := store.UserIdentities(ctx, u.ID); len(ids) != 0 {
		t.Fatalf("linked on an unverified email: %+v", ids)
	}

	// Verified, in another case: linked, logged in, audited.
	res := extLogin(t, svc, assertion("sub-vera", "VERA@example.com"))
	if res.User.ID != u.ID || res.Session == nil {
		t.Fatalf("verified email: %+v; want vera's session", res)
	}
	if e := lastAudit(t, svc, gatehouse.AuditIdentityLinked, u.ID); e == nil || e.Detail["by"] != "verified_email" {
		t.Errorf("identity.linked: %+v; want by verified_email", e)
	}
	// The next login finds the identity, whatever the email says now.
	if res := extLogin(t, svc, assertion("sub-vera", "vera@elsewhere.example")); res.User.ID != u.ID {
		t.Errorf("second login: %+v", res.User)
	}
	// Another account of the same provider with vera's address is not
	// linked to her too: one account per provider.
	if _, err := svc.ExternalLogin(ctx, assertion("sub-vera-2", "vera@example.com"), account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodeNotLinked {
		t.Errorf("second account with vera's email: %v; want %s", err, gatehouse.CodeNotLinked)
	}

	// An invited user becomes active, email confirmed.
	inv, err := svc.Invite(ctx, account.NewInvite{Email: "ivan@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	res = extLogin(t, svc, assertion("sub-ivan", "ivan@example.com"))
	if res.User.ID != inv.ID || res.User.State != gatehouse.StateActive || !res.User.EmailConfirmed || res.Session == nil {
		t.Errorf("invited user: %+v; want active, confirmed, logged in", res.User)
	}

	// A disabled user is refused as a wrong password would be, and not linked.
	d := createUser(t, svc, "dora")
	if _, err := svc.DisableUser(ctx, account.Actor{}, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ExternalLogin(ctx, assertion("sub-dora", "dora@example.com"), account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("disabled user: %v; want %s", err, gatehouse.CodeInvalidCredentials)
	}
	if ids, _ := store.UserIdentities(ctx, d.ID); len(ids) != 0 {
		t.Errorf("disabled user linked: %+v", ids)
	}
}

func TestDisabledLinkedUserIsRefused(t *testing.T) {
	svc, _, _ := newExternalService(t, corp)
	ctx := context.Background()
	u := createUser(t, svc, "dan")
	link(t, svc, u, assertion("sub-dan", ""))
	if _, err := svc.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := svc.ExternalLogin(ctx, assertion("sub-dan", ""), account.LoginRequest{Client: extClient})
	if code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("disabled: %v; want %s", err, gatehouse.CodeInvalidCredentials)
	}
	if e := lastAudit(t, svc, gatehouse.AuditExternalLoginFailed, u.ID); e == nil || e.Detail["reason"] != "disabled" {
		t.Errorf("audit: %+v; want reason disabled", e)
	}
}

func TestExternalLoginCreatesUsersAndMapsGroups(t *testing.T) {
	p := corp
	p.AutoCreate = true
	p.AutoCreateGroups = []string{"staff", "missing"}
	p.GroupMap = map[string][]string{"corp-admins": {"ops"}, "corp-dev": {"dev", "ghost"}}
	svc, store, _ := newExternalService(t, p)
	ctx := context.Background()
	for _, g := range []string{"staff", "ops", "dev", "manual"} {
		if err := svc.CreateGroup(ctx, account.Actor{}, &gatehouse.Group{Name: g}); err != nil {
			t.Fatal(err)
		}
	}
	createUser(t, svc, "nina") // takes the preferred username

	ext := assertion("sub-nina", "nina.new@corp.example")
	ext.Username, ext.Name, ext.EmailVerified = "nina", "Nina New", false
	ext.Groups = []string{"corp-dev", "unmapped"}
	res := extLogin(t, svc, ext)
	u := res.User
	if u.Username != "nina-2" || u.Email != "nina.new@corp.example" || u.Name != "Nina New" || u.EmailConfirmed || u.PasswordHash != "" || u.State != gatehouse.StateActive {
		t.Errorf("created user: %+v; want nina-2, unconfirmed email, no password, active", u)
	}
	if !slices.Equal(u.Groups, []string{"dev", "staff"}) {
		t.Errorf("groups: %v; want dev and staff (missing groups skipped)", u.Groups)
	}
	if e := lastAudit(t, svc, gatehouse.AuditIdentityLinked, u.ID); e == nil || e.Detail["by"] != "created" {
		t.Errorf("identity.linked: %+v; want by created", e)
	}
	// Without a usable preferred username, the email's local part; without
	// that either, provider-subject.
	anon := assertion("sub-x", "x@corp.example")
	anon.Username = "!!!"
	if u := extLogin(t, svc, anon).User; u.Username != "x" {
		t.Errorf("username from the email: %q", u.Username)
	}
	if u := extLogin(t, svc, assertion("Sub With Spaces", "!!!@corp.example")).User; u.Username != "corp-Sub-With-Spaces" {
		t.Errorf("username from provider and subject: %q", u.Username)
	}

	// An administrator adds a group no mapping names; the next login
	// follows the claim for mapped groups only.
	if _, err := svc.UpdateUser(ctx, account.Actor{}, u.ID, account.UserUpdate{Groups: &[]string{"dev", "manual", "staff"}}); err != nil {
		t.Fatal(err)
	}
	first := extLogin(t, svc, ext) // caches the user for its session
	if got, _, err := svc.Authenticate(ctx, first.Token); err != nil || !slices.Contains(got.Groups, "dev") {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	ext.Groups = []string{"corp-admins"}
	u = extLogin(t, svc, ext).User
	if !slices.Equal(u.Groups, []string{"manual", "ops", "staff"}) {
		t.Errorf("groups after the claim changed: %v; want manual, ops, staff", u.Groups)
	}
	stored, _ := store.UserByID(ctx, u.ID)
	if !slices.Equal(stored.Groups, u.Groups) {
		t.Errorf("stored groups %v, returned %v", stored.Groups, u.Groups)
	}
	// The cached user went with the change: the earlier session sees the
	// new groups at once.
	if got, _, err := svc.Authenticate(ctx, first.Token); err != nil || !slices.Equal(got.Groups, u.Groups) {
		t.Errorf("the earlier session's user: %+v, %v; want groups %v", got, err, u.Groups)
	}
	e := lastAudit(t, svc, gatehouse.AuditGroupsMapped, u.ID)
	if e == nil || e.Detail["added"] != "ops" || e.Detail["removed"] != "dev" || e.Detail["provider"] != "corp" {
		t.Errorf("groups_mapped: %+v; want added ops, removed dev", e)
	}
	// An unverified address that an existing user has is no way to a
	// second user.
	taken := assertion("sub-other", "nina@example.com")
	taken.EmailVerified = false
	if _, err := svc.ExternalLogin(ctx, taken, account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodeNotLinked {
		t.Errorf("address of an existing user: %v; want %s", err, gatehouse.CodeNotLinked)
	}
	noEmail := assertion("sub-none", "")
	if _, err := svc.ExternalLogin(ctx, noEmail, account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodeNotLinked {
		t.Errorf("no email: %v; want %s", err, gatehouse.CodeNotLinked)
	}
}

func TestExternalLoginOwesTheSecondFactor(t *testing.T) {
	p := corp
	p.TrustedAMR = []string{"mfa", "hwk"}
	p.TrustedACR = []string{"urn:corp:loa:2"}
	svc, _, clk := newExternalService(t, p)
	ctx := context.Background()
	u, recovery := enrolTOTP(t, svc, clk, "tess")
	link(t, svc, u, assertion("sub-tess", ""))

	// A password-equivalent login at the provider: the second step.
	ext := assertion("sub-tess", "")
	ext.AMR = []string{"pwd"}
	res := extLogin(t, svc, ext)
	if res.Session != nil || res.Token != "" || res.PendingToken == "" {
		t.Fatalf("login: %+v; want a pending login", res)
	}
	done, err := svc.VerifyCode(ctx, account.VerifyRequest{Token: res.PendingToken, Provider: gatehouse.ProviderRecoveryCode, Code: recovery[0], Client: extClient})
	if err != nil {
		t.Fatal(err)
	}
	if s := done.Session; s.Provider != "corp" || s.IDToken != "id-token-of-sub-tess" || !s.TwoFactor {
		t.Errorf("session after the second step: %+v; want the provider's and two-factor", s)
	}
	if e := lastAudit(t, svc, gatehouse.AuditLoginSucceeded, u.ID); e == nil || e.Detail["method"] != "external" || e.Detail["provider"] != "corp" {
		t.Errorf("login.succeeded: %+v", e)
	}

	// A second factor the provider is trusted for: none owed here.
	for _, trusted := range []func(*account.ExternalAssertion){
		func(e *account.ExternalAssertion) { e.AMR = []string{"pwd", "mfa"} },
		func(e *account.ExternalAssertion) { e.ACR = "urn:corp:loa:2" },
	} {
		ext := assertion("sub-tess", "")
		trusted(&ext)
		res := extLogin(t, svc, ext)
		if res.Session == nil || !res.Session.TwoFactor || res.PendingToken != "" || res.Session.Provider != "corp" {
			t.Errorf("trusted %+v: %+v; want a two-factor session", ext, res)
		}
	}
	// An acr not trusted is not enough.
	ext = assertion("sub-tess", "")
	ext.ACR = "urn:corp:loa:1"
	if res := extLogin(t, svc, ext); res.PendingToken == "" {
		t.Errorf("untrusted acr: %+v; want a pending login", res)
	}
}

func TestTrustedProviderSkipsEnrolment(t *testing.T) {
	p := corp
	p.TrustedAMR = []string{"mfa"}
	svc, _, _ := newExternalService(t, p)
	ctx := context.Background()
	if err := svc.CreateGroup(ctx, account.Actor{}, &gatehouse.Group{Name: "ops", RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	u := createUser(t, svc, "olga", "ops")
	link(t, svc, u, assertion("sub-olga", ""))
	res := extLogin(t, svc, assertion("sub-olga", ""))
	if !res.EnrolmentRequired || res.Session.Scope != gatehouse.ScopeEnrol || res.Session.Provider != "corp" {
		t.Errorf("untrusted: %+v; want an enrolment session carrying the provider", res)
	}
	ext := assertion("sub-olga", "")
	ext.AMR = []string{"mfa"}
	res = extLogin(t, svc, ext)
	if res.EnrolmentRequired || res.Session.Scope != "" || !res.Session.TwoFactor {
		t.Errorf("trusted: %+v; want a full two-factor session", res)
	}
}

func TestExternalLoginOfALockedUser(t *testing.T) {
	svc, _, _ := newExternalService(t, corp)
	ctx := context.Background()
	u := createUser(t, svc, "lou")
	link(t, svc, u, assertion("sub-lou", ""))
	for range 6 {
		svc.Login(ctx, account.LoginRequest{Username: "lou", Password: "wrong", Client: extClient})
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "lou", Password: casPassword, Client: extClient}); code(err) != gatehouse.CodeTooManyAttempts {
		t.Fatalf("password login: %v; want locked", err)
	}
	if res := extLogin(t, svc, assertion("sub-lou", "")); res.Session == nil {
		t.Errorf("external login of a locked user: %+v; want a session (the lock is on password guessing)", res)
	}
}

func TestLinkAndUnlink(t *testing.T) {
	locked := account.ExternalProvider{ID: "locked", Name: "No manual linking"}
	other := account.ExternalProvider{ID: "other", AllowManualLinking: true}
	svc, store, _ := newExternalService(t, corp, locked, other)
	ctx := context.Background()
	admin := createUser(t, svc, "root", gatehouse.GroupAdministrators)
	amy := createUser(t, svc, "amy")
	ben := createUser(t, svc, "ben")
	asAmy := account.Actor{User: amy, Client: extClient}

	if err := svc.CanLink(ctx, asAmy, "corp"); err != nil {
		t.Errorf("CanLink: %v", err)
	}
	if err := svc.CanLink(ctx, asAmy, "locked"); code(err) != gatehouse.CodeManualLinkingDisabled {
		t.Errorf("CanLink without manual linking: %v; want %s", err, gatehouse.CodeManualLinkingDisabled)
	}
	if err := svc.CanLink(ctx, asAmy, "nope"); code(err) != gatehouse.CodeNotFound {
		t.Errorf("CanLink of an unknown provider: %v", err)
	}
	link(t, svc, amy, assertion("sub-amy", "amy@corp.example"))
	if e := lastAudit(t, svc, gatehouse.AuditIdentityLinked, amy.ID); e == nil || e.Detail["by"] != "user" || e.Detail["provider"] != "corp" {
		t.Errorf("identity.linked: %+v", e)
	}
	if err := svc.CanLink(ctx, asAmy, "corp"); code(err) != gatehouse.CodeConflict {
		t.Errorf("CanLink once linked: %v; want conflict", err)
	}
	// amy's account at corp is hers: ben cannot take it.
	if _, err := svc.LinkIdentity(ctx, account.Actor{User: ben}, assertion("sub-amy", "")); code(err) != gatehouse.CodeConflict {
		t.Errorf("linking another user's account: %v; want conflict", err)
	}
	if _, err := svc.LinkIdentity(ctx, account.Actor{User: ben, Scope: []string{}}, assertion("sub-ben", "")); code(err) != gatehouse.CodePermissionDenied {
		t.Errorf("linking with an API token: %v; want permission_denied", err)
	}

	// Listing: one's own, or an administrator another's; not ben amy's.
	if ids, err := svc.Identities(ctx, asAmy, amy.ID); err != nil || len(ids) != 1 || ids[0].Subject != "sub-amy" {
		t.Errorf("own identities: %+v, %v", ids, err)
	}
	if ids, err := svc.Identities(ctx, account.Actor{User: admin}, amy.ID); err != nil || len(ids) != 1 {
		t.Errorf("administrator listing: %+v, %v", ids, err)
	}
	if _, err := svc.Identities(ctx, account.Actor{User: ben}, admin.ID); code(err) != gatehouse.CodePermissionDenied {
		t.Errorf("ben listing root's: %v; want permission_denied", err)
	}

	// amy has a password: unlinking leaves her a way in.
	if err := svc.UnlinkIdentity(ctx, asAmy, amy.ID, "corp"); err != nil {
		t.Errorf("unlink with a password left: %v", err)
	}
	if err := svc.UnlinkIdentity(ctx, asAmy, amy.ID, "corp"); code(err) != gatehouse.CodeNotFound {
		t.Errorf("unlink again: %v; want not_found", err)
	}

	// A user without a password (created by a provider): the last way in stays.
	p := corp
	p.AutoCreate = true
	svc2, store2, _ := newExternalService(t, p, locked, other)
	carl := extLogin(t, svc2, assertion("sub-carl", "carl@corp.example")).User
	asCarl := account.Actor{User: carl}
	if err := svc2.UnlinkIdentity(ctx, asCarl, carl.ID, "corp"); code(err) != gatehouse.CodeLastLoginMethod {
		t.Errorf("unlink the last way in: %v; want %s", err, gatehouse.CodeLastLoginMethod)
	}
	root2 := createUser(t, svc2, "root", gatehouse.GroupAdministrators)
	if err := svc2.UnlinkIdentity(ctx, account.Actor{User: root2}, carl.ID, "corp"); code(err) != gatehouse.CodeLastLoginMethod {
		t.Errorf("administrator unlinking the last way in: %v; want %s", err, gatehouse.CodeLastLoginMethod)
	}
	// With a second login linked, one may go; but not one whose provider
	// forbids manual linking, except by an administrator.
	link(t, svc2, carl, account.ExternalAssertion{Provider: "other", Subject: "carl-other"})
	if err := store2.CreateIdentity(ctx, &gatehouse.Identity{Provider: "locked", Subject: "carl-locked", UserID: carl.ID, LinkedAt: time.Now(), LastUsedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := svc2.UnlinkIdentity(ctx, asCarl, carl.ID, "locked"); code(err) != gatehouse.CodeManualLinkingDisabled {
		t.Errorf("self-unlink without manual linking: %v; want %s", err, gatehouse.CodeManualLinkingDisabled)
	}
	if err := svc2.UnlinkIdentity(ctx, account.Actor{User: root2}, carl.ID, "locked"); err != nil {
		t.Errorf("administrator unlink without manual linking: %v", err)
	}
	if err := svc2.UnlinkIdentity(ctx, asCarl, carl.ID, "corp"); err != nil {
		t.Errorf("unlink with another login left: %v", err)
	}
	if e := lastAudit(t, svc2, gatehouse.AuditIdentityUnlinked, carl.ID); e == nil || e.Detail["provider"] != "corp" || e.Detail["by"] != "user" {
		t.Errorf("identity.unlinked: %+v", e)
	}
	// An identity of a provider no longer configured is no way in.
	if err := store2.CreateIdentity(ctx, &gatehouse.Identity{Provider: "gone", Subject: "carl-gone", UserID: carl.ID, LinkedAt: time.Now(), LastUsedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := svc2.UnlinkIdentity(ctx, asCarl, carl.ID, "other"); code(err) != gatehouse.CodeLastLoginMethod {
		t.Errorf("unlink with only an unconfigured provider's login left: %v; want %s", err, gatehouse.CodeLastLoginMethod)
	}
	// That leftover the user may clear themselves; a name that is neither
	// a provider nor a login of theirs is not found.
	if err := svc2.UnlinkIdentity(ctx, asCarl, carl.ID, "gone"); err != nil {
		t.Errorf("self-unlink of an unconfigured provider's login: %v", err)
	}
	if err := svc2.UnlinkIdentity(ctx, asCarl, carl.ID, "nope"); code(err) != gatehouse.CodeNotFound {
		t.Errorf("unlink of no provider: %v; want not_found", err)
	}
	_ = store
}

// TestDenyLocalLogin: a provider with DenyLocalLogin turns every password
// use case off with one answer, for anyone, before anything is looked at;
// the operator's recovery link still gets the user in, a mailed reset link
// does not.
func TestDenyLocalLogin(t *testing.T) {
	p := corp
	p.DenyLocalLogin = true
	svc, store, _ := newExternalService(t, p)
	ctx := context.Background()
	if !svc.LocalLoginDisabled() {
		t.Fatal("LocalLoginDisabled() = false")
	}
	u := createUser(t, svc, "rita")
	if _, err := svc.Invite(ctx, account.NewInvite{Email: "ina@example.com"}); err != nil {
		t.Fatal(err)
	}
	sess := &gatehouse.Session{ID: "x"}
	cases := map[string]func() error{
		"login": func() error {
			_, err := svc.Login(ctx, account.LoginRequest{Username: "rita", Password: casPassword, Client: extClient})
			return err
		},
		"login of nobody": func() error {
			_, err := svc.Login(ctx, account.LoginRequest{Username: "nobody", Password: "x", Client: extClient})
			return err
		},
		"basic":  func() error { _, err := svc.AuthenticateBasic(ctx, "rita", casPassword, extClient); return err },
		"forgot": func() error { return svc.ForgotPassword(ctx, "rita@example.com", extClient) },
		"reset": func() error {
			return svc.ResetPassword(ctx, u.ID, "a-token-long-enough-to-check", "another long password", extClient)
		},
		"invite verify": func() error {
			_, err := svc.VerifyInvite(ctx, u.ID, "a-token-long-enough-to-check", extClient, "")
			return err
		},
		"invite accept": func() error { _, err := svc.AcceptInvite(ctx, "token", "another long password", extClient); return err },
		"invite link": func() error {
			_, err := svc.AcceptInviteLink(ctx, u.ID, "a-token-long-enough-to-check", "another long password", extClient, "")
			return err
		},
		"change password": func() error {
			return svc.ChangePassword(ctx, account.ChangePasswordRequest{User: u, CurrentPassword: casPassword, NewPassword: "another long password", Client: extClient})
		},
		"reauthenticate": func() error {
			_, _, err := svc.Reauthenticate(ctx, account.Actor{User: u, Client: extClient}, sess, account.Reauthentication{Password: casPassword})
			return err
		},
		"confirm with password": func() error {
			return svc.DisableTOTP(ctx, account.Actor{User: u}, u, account.Proof{Password: casPassword})
		},
	}
	for name, f := range cases {
		if err := f(); code(err) != gatehouse.CodeLocalLoginDisabled {
			t.Errorf("%s: %v; want %s", name, err, gatehouse.CodeLocalLoginDisabled)
		}
	}
	// The first administrator is still created at setup.
	fresh, _, _ := newExternalService(t, p)
	setup, err := fresh.StartSetup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.CompleteSetup(ctx, setup, account.NewUser{Username: "admin", Email: "admin@example.com", Password: casPassword}); err != nil {
		t.Errorf("setup: %v", err)
	}
	// Nothing was counted: no failure recorded, no lock.
	if e := lastAudit(t, svc, gatehouse.AuditLoginFailed, ""); e != nil {
		t.Errorf("a refusal was audited as a failed login: %+v", e)
	}

	// A mailed reset link: refused, and left unused.
	mailed, err := svc.IssueResetLink(ctx, u, "reset")
	if err != nil {
		t.Fatal(err)
	}
	id, tok := resetLinkParts(t, mailed)
	if _, err := svc.RecoverAccess(ctx, id, tok, "a quiet harbour at dawn", account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodeLocalLoginDisabled {
		t.Errorf("recover with a mailed link: %v; want %s", err, gatehouse.CodeLocalLoginDisabled)
	}
	// The operator's recovery link: the password is set and the user is in.
	before, _ := store.UserByID(ctx, u.ID)
	recovery, err := svc.IssueResetLink(ctx, u, "")
	if err != nil {
		t.Fatal(err)
	}
	id, tok = resetLinkParts(t, recovery)
	if _, err := svc.RecoverAccess(ctx, id, tok, "short", account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodePasswordPolicy {
		t.Errorf("weak password: %v; want %s", err, gatehouse.CodePasswordPolicy)
	}
	res, err := svc.RecoverAccess(ctx, id, tok, "a quiet harbour at dawn", account.LoginRequest{Client: extClient})
	if err != nil || res.Session == nil || res.User.ID != u.ID {
		t.Fatalf("recover: %+v, %v; want a session", res, err)
	}
	after, _ := store.UserByID(ctx, u.ID)
	if after.PasswordHash == before.PasswordHash || after.SecurityStamp == before.SecurityStamp {
		t.Error("the password or the stamp did not change")
	}
	if e := lastAudit(t, svc, gatehouse.AuditLoginSucceeded, u.ID); e == nil || e.Detail["method"] != "recovery" {
		t.Errorf("login.succeeded: %+v; want method recovery", e)
	}
	if _, err := svc.RecoverAccess(ctx, id, tok, "a quiet harbour at dawn", account.LoginRequest{Client: extClient}); code(err) != gatehouse.CodeInvalidToken {
		t.Errorf("the recovery link twice: %v; want %s", err, gatehouse.CodeInvalidToken)
	}

	// A user with a password re-authenticates with a code: the password
	// is no use here.
	_, _, err = svc.Reauthenticate(ctx, account.Actor{User: after}, res.Session, account.Reauthentication{Provider: gatehouse.ProviderTOTP, Code: "000000"})
	if c := code(err); c != gatehouse.CodeInvalidCredentials {
		t.Errorf("reauthenticate with a code: %v; want %s (no second factor), not validation", err, gatehouse.CodeInvalidCredentials)
	}
}

// TestRecoveryLinkWithLocalLogin: with local login on, the operator's
// link (PurposeRecovery) resets the password like a mailed one.
func TestRecoveryLinkWithLocalLogin(t *testing.T) {
	svc, _, _ := newExternalService(t, corp)
	ctx := context.Background()
	u := createUser(t, svc, "remy")
	link, err := svc.IssueResetLink(ctx, u, "")
	if err != nil {
		t.Fatal(err)
	}
	id, tok := resetLinkParts(t, link)
	if err := svc.ResetPassword(ctx, id, tok, "violet kettle under snow", extClient); err != nil {
		t.Fatalf("reset with a recovery link: %v", err)
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "remy", Password: "violet kettle under snow", Client: extClient}); err != nil {
		t.Errorf("login after: %v", err)
	}
}

func TestProvidersValidated(t *testing.T) {
	for _, ps := range [][]account.ExternalProvider{
		{{ID: ""}},
		{{ID: "a/b"}},
		{{ID: "corp"}, {ID: "corp"}},
	} {
		if err := account.ValidateProviders(ps); err == nil {
			t.Errorf("%+v: no error", ps)
		}
	}
	if err := account.ValidateProviders([]account.ExternalProvider{{ID: "corp"}, {ID: "google-1.x_y"}}); err != nil {
		t.Error(err)
	}
	svc, _, _ := newExternalService(t, corp, account.ExternalProvider{ID: "b"})
	if ps := svc.ExternalProviders(); len(ps) != 2 || ps[0].ID != "corp" || ps[1].ID != "b" {
		t.Errorf("providers: %+v", ps)
	}
	if p, ok := svc.ExternalProvider("b"); !ok || p.ID != "b" {
		t.Errorf("provider b: %+v %v", p, ok)
	}
	if svc.LocalLoginDisabled() {
		t.Error("local login disabled without a provider denying it")
	}
}

func resetLinkParts(t *testing.T, link string) (id, token string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("userId"), u.Query().Get("token")
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/session"
)

// importVector is a user of testdata/import/vectors.csv (and vectors.json,
// the same users in JSON): the password its hash was made from, and the
// hash as the import must store it.
//
// Where the vectors come from:
//
//   - htpasswd and kirby: made for this test with htpasswd from Debian 12's
//     apache2-utils 2.4.71-1~deb12u1 (apt-get install apache2-utils):
//     htpasswd -bnBC 10 user 'password' and
//     htpasswd -bnBC 10 kirby 'correct horse battery staple'. Kirby, like
//     any PHP application, stores password_hash()'s $2y$ bcrypt, which is
//     what htpasswd -B writes. (No PHP on the machine that made them.)
//   - phpnet: the password_verify example of PHP's documentation.
//   - bcrypt2a, bcrypt2b, aspnetv3net7, umbraco256, umbraco1, passlib512:
//     the vectors of password/legacy_vectors_test.go made with Python's
//     hashlib and libxcrypt (see there); no .NET, Umbraco or passlib here.
//   - aspnetv2, aspnetv3, aspnetprefixed: dotnet/aspnetcore's own
//     PasswordHasherTest vectors, as Umbraco stores them for
//     PBKDF2.ASPNETCORE.V2 and V3 (the raw base64 of the PasswordHash
//     column; aspnetprefixed gives the stored encoding itself).
//   - passlib256: passlib's pbkdf2_digest documentation.
//   - django: Django's own test of its PBKDF2 hasher.
//   - argon2: the argon2 reference implementation's test vector (m=256,
//     t=2, p=1: not gatehouse's parameters, so it is rehashed too).
type importVector struct {
	username, password string
	scheme             password.Scheme
	stored             string
}

var importVectors = []importVector{
	{"htpasswd", "password", password.SchemeBcrypt, "$2y$10$wO0Zk76PPZhxmo1p0mXr/On8WG.9Yo7nulrfE2rOXw7q0xnxwemJm"},
	{"kirby", "correct horse battery staple", password.SchemeBcrypt, "$2y$10$3RfncsmsMccmTkwrXGjb1.e/OnyNpBOGr.ijV9rFaiN89EergNMFG"},
	{"phpnet", "rasmuslerdorf", password.SchemeBcrypt, "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"},
	{"bcrypt2a", "correct horse battery staple", password.SchemeBcrypt, "$2a$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS"},
	{"bcrypt2b", "pässwörd 🔑", password.SchemeBcrypt, "$2b$05$abcdefghijklmnopqrstuuJle.iZ0HydI0pt1p.fYQNcC2ygoDkde"},
	{"aspnetv2", "my password", password.SchemeASPNetV2, "$aspnet-identity$ANXrDknc7fGPpigibZXXZFMX4aoqz44JveK6jQuwY3eH/UyPhvr5xTPeGYEckLxz9A=="},
	{"aspnetv3", "my password", password.SchemeASPNetV3, "$aspnet-identity$AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg+yWU7rLgUwPZb1Itsmra7cbxw2EFpwpVFIEtP+JIuUEw=="},
	{"aspnetv3net7", "correct horse battery staple", password.SchemeASPNetV3, "$aspnet-identity$AQAAAAIAAYagAAAAEI87WgweLU9gcYKTBKW2x9hIJ3L9xledlQ9kchALtw5HjpNUqV6iGxTG0PUtUuOyMw=="},
	{"aspnetprefixed", "my password", password.SchemeASPNetV3, "$aspnet-identity$AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg+yWU7rLgUwPZb1Itsmra7cbxw2EFpwpVFIEtP+JIuUEw=="},
	{"umbraco256", "correct horse battery staple", password.SchemeUmbracoHMACSHA256, "$umbraco-hmacsha256$jztaDB4tT2BxgpMEpbbH2A==z2g8ztATJ54PUXk8vKNGRmWucEdL0C1E3YnfFGy3cug="},
	{"umbraco1", "correct horse battery staple", password.SchemeUmbracoHMACSHA1, "$umbraco-hmacsha1$mRZX5RIKIlZujWhcF/J7S+9K/LI="},
	{"passlib256", "password", password.SchemePBKDF2SHA256, "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"},
	{"passlib512", "correct horse battery staple", password.SchemePBKDF2SHA512, "$pbkdf2-sha512$25000$jztaDB4tT2BxgpMEpbbH2A$Q9PjgiJyPnWxsiMykl/6AK3BjrzM.eohMQrOLP5t7/CXXsrxAyXqfKuAt4sCEIec7PNKIBzFnPjjoSXlNMn23g"},
	{"django", "lètmein", password.SchemeDjangoPBKDF2SHA256, "pbkdf2_sha256$10000$seasalt$CWWFdHOWwPnki7HvkcqN9iA2T3KLW1cf2uZ5kvArtVY="},
	{"argon2", "password", password.SchemeArgon2id, "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
}

const (
	vectorsCSV  = "testdata/import/vectors.csv"
	vectorsJSON = "testdata/import/vectors.json"
	// vectorsSummary is the summary of importing either.
	vectorsSummary = "imported 16 users (active 15, invited 1), skipped 0 rows\n" +
		"password hashes: bcrypt 5, aspnet-v3 3, argon2id 1, aspnet-v2 1, django-pbkdf2-sha256 1, pbkdf2-sha256 1, pbkdf2-sha512 1, umbraco-hmacsha1 1, umbraco-hmacsha256 1\n"
	// bcryptHash is htpasswd -bnBC 10 user 'password', for rows whose
	// password does not matter.
	bcryptHash = "$2y$10$wO0Zk76PPZhxmo1p0mXr/On8WG.9Yo7nulrfE2rOXw7q0xnxwemJm"
	// rehashedPrefix starts the argon2id hash that replaces an imported
	// one at login.
	rehashedPrefix = "$argon2id$v=19$m=19456,t=2,p=1$"
)

// checkLogins logs in as each vector's user through the account service,
// as the server does: a wrong password fails and leaves the hash alone; the
// right one succeeds and replaces the hash with an argon2id hash of the
// same password, leaving the security stamp, and a session made before,
// valid.
func checkLogins(t *testing.T, a *server.Services, vectors []importVector) {
	t.Helper()
	for _, v := range vectors {
		t.Run(v.username, func(t *testing.T) {
			t.Parallel() // the hasher bounds how many hashes run at once
			ctx := t.Context()
			u, err := a.Store.UserByLogin(ctx, v.username)
			if err != nil {
				t.Fatal(err)
			}
			if u.State != gatehouse.StateActive || u.PasswordHash != v.stored {
				t.Fatalf("imported as %s with hash %q, want active with %q", u.State, u.PasswordHash, v.stored)
			}
			if s, err := password.Identify(u.PasswordHash); err != nil || s != v.scheme {
				t.Errorf("Identify = %q, %v; want %q", s, err, v.scheme)
			}
			// A session from before the first login with the password,
			// such as one a single sign-on made.
			token, _, err := a.Sessions.Create(ctx, u.ID, session.CreateOptions{ClientAddr: "192.0.2.1"})
			if err != nil {
				t.Fatal(err)
			}

			req := account.LoginRequest{Username: v.username, Password: v.password + "x", Client: account.Client{Addr: "192.0.2.1"}}
			if _, err := a.Accounts.Login(ctx, req); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidCredentials {
				t.Errorf("login with a wrong password: %v, want %s", err, gatehouse.CodeInvalidCredentials)
			}
			if after, err := a.Store.UserByID(ctx, u.ID); err != nil || after.PasswordHash != v.stored {
				t.Errorf("a failed login changed the hash to %q (%v)", after.PasswordHash, err)
			}

			req.Password = v.password
			res, err := a.Accounts.Login(ctx, req)
			if err != nil {
				t.Fatalf("login with the right password: %v", err)
			}
			after, err := a.Store.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(after.PasswordHash, rehashedPrefix) {
				t.Errorf("hash after login %q, want an argon2id hash with gatehouse's parameters", after.PasswordHash)
			}
			if after.SecurityStamp != u.SecurityStamp {
				t.Errorf("the rehash changed the security stamp")
			}
			for name, tok := range map[string]string{"session made before the rehash": token, "session of the login": res.Token} {
				if _, _, err := a.Accounts.Authenticate(ctx, tok); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			// The new hash is of the same password.
			req.Password = v.password
			if _, err := a.Accounts.Login(ctx, req); err != nil {
				t.Errorf("second login: %v", err)
			}
		})
	}
}

// TestImportVectors imports a user for every hash scheme and logs each in.
func TestImportVectors(t *testing.T) {
	dataDir := t.TempDir()
	stdout := mustRun(t, nil, "", "import", "users", "--data", dataDir, vectorsCSV)
	if stdout != vectorsSummary {
		t.Errorf("summary:\n%s\nwant:\n%s", stdout, vectorsSummary)
	}
	a := openTestApp(t, dataDir)
	ctx := t.Context()

	u, err := a.Store.UserByLogin(ctx, "invited")
	if err != nil {
		t.Fatal(err)
	}
	if u.State != gatehouse.StateInvited || u.PasswordHash != "" || !cmp.Equal(u.Groups, []string{"administrators"}) {
		t.Errorf("invited user: %+v", u)
	}
	if _, err := a.Accounts.Login(ctx, account.LoginRequest{Username: "invited", Password: "password", Client: account.Client{Addr: "192.0.2.2"}}); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("login of an invited user: %v", err)
	}
	if u, err := a.Store.UserByLogin(ctx, "htpasswd"); err != nil || u.Name != "bcrypt from htpasswd -bnBC 10" || !cmp.Equal(u.Groups, []string{"administrators"}) || u.EmailConfirmed {
		t.Errorf("htpasswd user: %+v, %v", u, err)
	}

	checkLogins(t, a, importVectors)
}

// TestImportHtpasswdLive imports bcrypt hashes made now by htpasswd
// (Debian's apache2-utils), when it is installed, and logs in with them.
func TestImportHtpasswdLive(t *testing.T) {
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd not installed (apt-get install apache2-utils)")
	}
	passwords := []string{"correct horse battery staple", "pässwörd 🔑", `quote ' "double" and $dollar`, "a, with comma"}
	var csv strings.Builder
	csv.WriteString("username,email,password_hash\n")
	var vectors []importVector
	for i, pw := range passwords {
		out, err := exec.CommandContext(t.Context(), bin, "-bnBC", "5", "user", pw).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		_, hash, ok := strings.Cut(strings.TrimSpace(string(out)), ":")
		if !ok || !strings.HasPrefix(hash, "$2y$05$") {
			t.Fatalf("htpasswd printed %q", out)
		}
		name := fmt.Sprintf("live%d", i)
		fmt.Fprintf(&csv, "%s,%s@example.com,%s\n", name, name, hash)
		vectors = append(vectors, importVector{name, pw, password.SchemeBcrypt, hash})
	}
	dataDir := t.TempDir()
	file := writeFile(t, t.TempDir(), "htpasswd.csv", csv.String())
	mustRun(t, nil, "", "import", "users", file, "--data", dataDir)
	checkLogins(t, openTestApp(t, dataDir), vectors)
}

// badCSV has a good row, then one bad row of each kind, with some good
// rows among them. Lines 11 and 12 are one record.
const badCSV = `username,email,name,groups,password_hash,password_format
good1,good1@example.com,Good One,administrators,` + bcryptHash + `,
noemail,,No Email,,` + bcryptHash + `,
bademail,not an address,,,` + bcryptHash + `,
badgroup,badgroup@example.com,,administrators;no-such-group,` + bcryptHash + `,
badformat,badformat@example.com,,,` + bcryptHash + `,md5
badhash,badhash@example.com,,,$2y$10$tooshort,
GOOD1,dup@example.com,,,` + bcryptHash + `,
existing,existing2@example.com,,,` + bcryptHash + `,
toomany,toomany@example.com,,,` + bcryptHash + `,,extra
multiline,multiline@example.com,"Two
Lines",,` + bcryptHash + `,
good2,good2@example.com,,,` + bcryptHash + `,bcrypt
dupemail,GOOD1@EXAMPLE.COM,,,` + bcryptHash + `,
rawaspnet,rawaspnet@example.com,,,AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg+yWU7rLgUwPZb1Itsmra7cbxw2EFpwpVFIEtP+JIuUEw==,
mismatch,mismatch@example.com,,,pbkdf2_sha256$10000$seasalt$CWWFdHOWwPnki7HvkcqN9iA2T3KLW1cf2uZ5kvArtVY=,bcrypt
invited1,invited1@example.com,Invited,,,
bad name,badname@example.com,,,` + bcryptHash + `,
existing@example.com,other@example.com,,,` + bcryptHash + `,
`

// badCSVProblems are the problems of badCSV, in order, as LINE: field:
// issue, each issue cut to a prefix.
var badCSVProblems = []string{
	`3: email: Email is required.`,
	`4: email: Email is not a valid address.`,
	`5: groups: no such group "no-such-group"`,
	`6: password_format: unknown format "md5" (known: `,
	`7: password_hash: malformed bcrypt hash`,
	`8: username: duplicate of the username on line 2`,
	`9: username: "existing" is taken by existing user "existing"`,
	`10: row: 7 fields, but the header has 6`,
	`11: name: Name must be at most 200 characters without control characters.`,
	`14: email: duplicate of the email on line 2`,
	`15: password_hash: not a self-describing hash; give its password_format (`,
	`16: password_format: bcrypt, but the hash is django-pbkdf2-sha256`,
	`18: username: Username may contain only letters, digits and . _ - @ +.`,
	`19: username: "existing@example.com" is taken by existing user "existing"`,
}

const badCSVSummary = "imported 3 users (active 2, invited 1), skipped 14 rows (see above)\npassword hashes: bcrypt 2\n"

// problemLines returns the FILE:LINE: lines of an import's stderr without
// "FILE:".
func problemLines(stderr, file string) []string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if rest, ok := strings.CutPrefix(l, file+":"); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// checkProblems compares problem lines with wanted prefixes.
func checkProblems(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("problems:\n%s\nwant (prefixes):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// usernames lists the usernames in the store.
func usernames(t *testing.T, a *server.Services) []string {
	t.Helper()
	users, _, err := a.Store.ListUsers(t.Context(), gatehouse.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	return names
}

func TestImportBadRows(t *testing.T) {
	dataDir := t.TempDir()
	createUser(t, dataDir, "existing", "correct horse battery")
	file := writeFile(t, t.TempDir(), "users.csv", badCSV)

	code, stdout, stderr := runCmd(t, nil, "", "import", "users", file, "--data", dataDir)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	checkProblems(t, problemLines(stderr, file), badCSVProblems)
	if stdout != badCSVSummary {
		t.Errorf("summary:\n%s\nwant:\n%s", stdout, badCSVSummary)
	}
	if want := "gatehouse: import users: 14 of 17 rows skipped\n"; !strings.HasSuffix(stderr, want) {
		t.Errorf("stderr does not end with %q:\n%s", want, stderr)
	}
	a := openTestApp(t, dataDir)
	if diff := cmp.Diff([]string{"existing", "good1", "good2", "invited1"}, usernames(t, a)); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if u, err := a.Store.UserByLogin(t.Context(), "good1"); err != nil || u.Name != "Good One" || !cmp.Equal(u.Groups, []string{"administrators"}) || u.PasswordHash != bcryptHash {
		t.Errorf("good1: %+v, %v", u, err)
	}

	// One audit event tells who imported how many.
	events, _, err := a.Store.Audit(t.Context(), gatehouse.AuditFilter{Kind: gatehouse.AuditUserCreated})
	if err != nil {
		t.Fatal(err)
	}
	var imports []map[string]string
	for _, e := range events {
		if e.Detail["import"] != "" {
			imports = append(imports, e.Detail)
		}
	}
	if want := []map[string]string{{"import": "users.csv", "users": "3", "active": "2", "invited": "1"}}; !cmp.Equal(imports, want) {
		t.Errorf("import audit events %v, want %v", imports, want)
	}
}

// TestImportDryRun checks a file with --dry-run: the same problems and
// counts as the import, and nothing written.
func TestImportDryRun(t *testing.T) {
	dataDir := t.TempDir()
	createUser(t, dataDir, "existing", "correct horse battery")
	file := writeFile(t, t.TempDir(), "users.csv", badCSV)
	a := openTestApp(t, dataDir)
	count := func() int {
		n, err := a.Store.CountUsers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d users before", n)
	}

	// The flag may come after the file.
	code, dryOut, dryErr := runCmd(t, nil, "", "import", "users", "--data", dataDir, file, "--dry-run")
	if code != exitFailure {
		t.Errorf("dry run: exit %d, want %d", code, exitFailure)
	}
	if n := count(); n != 1 {
		t.Errorf("%d users after the dry run, want 1", n)
	}
	want := "dry run: would import 3 users (active 2, invited 1), skipped 14 rows (see above); nothing was written\npassword hashes: bcrypt 2\n"
	if dryOut != want {
		t.Errorf("dry-run summary:\n%s\nwant:\n%s", dryOut, want)
	}
	checkProblems(t, problemLines(dryErr, file), badCSVProblems)

	// The import itself finds exactly the same problems.
	_, _, realErr := runCmd(t, nil, "", "import", "users", "--data", dataDir, file)
	if diff := cmp.Diff(problemLines(dryErr, file), problemLines(realErr, file)); diff != "" {
		t.Errorf("problems (-dry run +import):\n%s", diff)
	}
	if n := count(); n != 4 {
		t.Errorf("%d users after the import, want 4", n)
	}

	// A clean file checks clean.
	clean := writeFile(t, t.TempDir(), "clean.csv", "username,email\nnew,new@example.com\n")
	if out := mustRun(t, nil, "", "import", "users", "--dry-run", "--data", dataDir, clean); !strings.HasPrefix(out, "dry run: would import 1 user (active 0, invited 1), skipped 0 rows; nothing was written") {
		t.Errorf("dry run of a clean file: %q", out)
	}
	if n := count(); n != 4 {
		t.Errorf("%d users after the second dry run, want 4", n)
	}
}

// comparableUser is what an import sets of a user, without what it makes
// up (id, security stamp, times).
type comparableUser struct {
	Username, Email, Name string
	State                 gatehouse.UserState
	PasswordHash          string
	Groups                []string
	EmailConfirmed        bool
}

func importedUsers(t *testing.T, dataDir string) []comparableUser {
	t.Helper()
	a := openTestApp(t, dataDir)
	users, _, err := a.Store.ListUsers(t.Context(), gatehouse.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []comparableUser
	for _, u := range users {
		got = append(got, comparableUser{u.Username, u.Email, u.Name, u.State, u.PasswordHash, u.Groups, u.EmailConfirmed})
	}
	return got
}

// TestImportJSONSameAsCSV imports the vectors from CSV and from JSON.
func TestImportJSONSameAsCSV(t *testing.T) {
	csvDir, jsonDir := t.TempDir(), t.TempDir()
	if out := mustRun(t, nil, "", "import", "users", vectorsCSV, "--data", csvDir); out != vectorsSummary {
		t.Errorf("CSV summary: %s", out)
	}
	if out := mustRun(t, nil, "", "import", "users", vectorsJSON, "--data", jsonDir); out != vectorsSummary {
		t.Errorf("JSON summary: %s", out)
	}
	fromCSV, fromJSON := importedUsers(t, csvDir), importedUsers(t, jsonDir)
	if len(fromCSV) != 16 {
		t.Errorf("%d users from CSV, want 16", len(fromCSV))
	}
	if diff := cmp.Diff(fromCSV, fromJSON); diff != "" {
		t.Errorf("users (-CSV +JSON):\n%s", diff)
	}

	// Standard input, with --format.
	stdinDir := t.TempDir()
	data, err := os.ReadFile(vectorsJSON)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, nil, string(data), "import", "users", "-", "--format", "json", "--data", stdinDir)
	if diff := cmp.Diff(fromCSV, importedUsers(t, stdinDir)); diff != "" {
		t.Errorf("users (-CSV +JSON on stdin):\n%s", diff)
	}
}

// TestImportJSONBadRows reports each bad element at the line of its
// opening brace, and stops at a syntax error.
func TestImportJSONBadRows(t *testing.T) {
	const bad = `[
  {"username": "a1", "email": "a1@example.com"},
  {"username": "a2", "email": "a2@example.com", "groups": "administrators"},
  {"username": "a3", "email": "a3@example.com", "groups": [1]},
  {"username": "a4", "email": "a4@example.com", "password": "x"},
  "a5",
  {"username": "a6",
   "email": "a6@example.com", "passwordHash": "AQAAAAEAACcQ"},
  {
    "username": "A1",
    "email": "a7@example.com"
  },
  {"username": 8, "email": "a8@example.com"}, {"username": "a8b", "email": "a8b@example.com"},
  {"username": "a9", "email": "a9@example.com",}
  {"username": "a10", "email": "a10@example.com"}
]
`
	dataDir := t.TempDir()
	file := writeFile(t, t.TempDir(), "users.json", bad)
	code, stdout, stderr := runCmd(t, nil, "", "import", "users", file, "--data", dataDir)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	checkProblems(t, problemLines(stderr, file), []string{
		`3: groups: expected an array of strings, not a JSON string`,
		`4: groups: expected a string, not a JSON number`,
		`5: password: unknown field (the fields are username, email, name, groups, passwordHash, passwordFormat)`,
		`6: row: expected an object`,
		`7: passwordHash: not a self-describing hash; give its passwordFormat (`,
		`9: username: duplicate of the username on line 2`,
		`13: username: expected a string, not a JSON number`,
		`14: invalid JSON: invalid character '}' looking for beginning of object key string; the rest of the file was not read`,
	})
	if want := "imported 2 users (active 0, invited 2), skipped 7 rows (see above)\n"; stdout != want {
		t.Errorf("summary %q, want %q", stdout, want)
	}
	if !strings.Contains(stderr, "gatehouse: import users: stopped at "+file+":14\n") {
		t.Errorf("stderr does not say where the import stopped:\n%s", stderr)
	}
	if diff := cmp.Diff([]string{"a1", "a8b"}, usernames(t, openTestApp(t, dataDir))); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// TestImportCSVDetails covers what spreadsheets write: a byte order mark,
// CRLF line endings, column names in any case and order, and groups
// separated by "|" with spaces.
func TestImportCSVDetails(t *testing.T) {
	dataDir := t.TempDir()
	cfg := writeFile(t, t.TempDir(), "gatehouse.yaml", "groups:\n  editors: []\n  viewers: []\n")
	csv := "\ufeffPasswordHash,EMAIL,Username,Groups,Password_Format\r\n" +
		bcryptHash + ",a@example.com,a,editors | viewers|editors,BCRYPT\r\n" +
		",b@example.com,b,viewers;,\r\n" +
		"\r\n" // blank lines are ignored
	mustRun(t, nil, csv, "import", "users", "--config", cfg, "--data", dataDir, "--format", "CSV", "--", "-")
	want := []comparableUser{
		{Username: "a", Email: "a@example.com", State: gatehouse.StateActive, PasswordHash: bcryptHash, Groups: []string{"editors", "viewers"}},
		{Username: "b", Email: "b@example.com", State: gatehouse.StateInvited, Groups: []string{"viewers"}},
	}
	if diff := cmp.Diff(want, importedUsers(t, dataDir)); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

func TestImportUsage(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "users.csv", "username,email\nx,x@example.com\n")
	txt := writeFile(t, dir, "users.txt", "username,email\nx,x@example.com\n")
	tests := []struct {
		name     string
		args     []string // after "import"
		stdin    string
		wantCode int
		wantErr  string
	}{
		{"nothing to import", nil, "", exitUsage, "import: expected users"},
		{"import groups", []string{"groups", good}, "", exitUsage, `import: unknown subcommand "groups"; expected users`},
		{"no file", []string{"users"}, "", exitUsage, "expected one FILE"},
		{"two files", []string{"users", good, good}, "", exitUsage, "expected one FILE"},
		{"missing file", []string{"users", filepath.Join(dir, "nope.csv")}, "", exitUsage, "no such file"},
		{"unknown --format", []string{"users", "--format", "xml", good}, "", exitUsage, `unknown format "xml"`},
		{"unknown extension", []string{"users", txt}, "", exitUsage, "give --format csv or --format json"},
		{"stdin without --format", []string{"users", "-"}, "username,email\n", exitUsage, "--format csv or --format json is required"},
		{"unknown flag", []string{"users", good, "--force"}, "", exitUsage, "import users: unknown flag --force"},

		{"empty CSV", []string{"users", writeFile(t, dir, "empty.csv", "")}, "", exitFailure, "empty.csv:1: empty file: expected a header row"},
		{"unknown column", []string{"users", writeFile(t, dir, "typo.csv", "username,email,pasword_hash\n")}, "", exitFailure,
			`typo.csv:1: header: unknown column "pasword_hash" (the columns are username, email, name, groups, password_hash, password_format)`},
		{"no email column", []string{"users", writeFile(t, dir, "noemail.csv", "username,name\n")}, "", exitFailure, "noemail.csv:1: header: no email column"},
		{"column twice", []string{"users", writeFile(t, dir, "twice.csv", "username,email,password_hash,passwordHash\n")}, "", exitFailure, "twice.csv:1: header: column password_hash appears twice"},
		{"empty JSON", []string{"users", writeFile(t, dir, "empty.json", " \n")}, "", exitFailure, "empty.json:1: empty file: expected a JSON array"},
		{"JSON object", []string{"users", writeFile(t, dir, "object.json", "\n{}")}, "", exitFailure, "object.json:2: expected a JSON array of users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"import"}, tt.args...)
			code, stdout, stderr := runCmd(t, nil, tt.stdin, append(args, "--data", dataDir)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			// Nothing was opened, let alone written.
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Errorf("the data directory was created (%v)", err)
			}
		})
	}
}

// hideBatch hides the CreateUsers of a store, and counts CreateUser calls.
type hideBatch struct {
	importStore
	creates int
}

func (h *hideBatch) CreateUser(ctx context.Context, u *gatehouse.User) error {
	h.creates++
	return h.importStore.CreateUser(ctx, u)
}

// TestImportWithoutBatches imports through a store without CreateUsers,
// one CreateUser at a time, with the same results.
func TestImportWithoutBatches(t *testing.T) {
	dataDir := t.TempDir()
	createUser(t, dataDir, "existing", "correct horse battery")
	a := openTestApp(t, dataDir)
	store := &hideBatch{importStore: a.Store}
	if _, ok := any(store).(gatehouse.UserBatchCreator); ok {
		t.Fatal("hideBatch is a UserBatchCreator")
	}
	src, err := newSource("csv", strings.NewReader(badCSV))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	im := &importer{name: "users.csv", store: store, fields: src.fieldNames(), stdout: &stdout, prog: newProgress(&stderr, "users.csv"), now: time.Now}
	if err := im.run(t.Context(), src); err == nil || err.Error() != "import users: 14 of 17 rows skipped" {
		t.Errorf("run: %v", err)
	}
	checkProblems(t, problemLines(stderr.String(), "users.csv"), badCSVProblems)
	if stdout.String() != badCSVSummary {
		t.Errorf("summary:\n%s\nwant:\n%s", stdout.String(), badCSVSummary)
	}
	// The rows the import refused itself never reach the store.
	if store.creates != 5 {
		t.Errorf("%d CreateUser calls, want 5 (3 created, 2 refused by the store)", store.creates)
	}
	if diff := cmp.Diff([]string{"existing", "good1", "good2", "invited1"}, usernames(t, a)); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// raceEnabled reports whether the test runs with the race detector, under
// which the transpiled SQLite runs some thirty times slower.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestImport100k imports 100,000 users (90,000 with one bcrypt hash, every
// tenth invited, every hundredth an administrator) and finds them all.
// Under the race detector, which makes SQLite itself some thirty times
// slower, it imports 5,000: still several batches.
func TestImport100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-row import skipped in -short mode")
	}
	n := 100_000
	if raceEnabled() {
		n = 5_000
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "users.csv")
	var b bytes.Buffer
	b.WriteString("username,email,name,groups,password_hash\n")
	for i := range n {
		group, hash := "", bcryptHash
		if i%100 == 0 {
			group = "administrators"
		}
		if i%10 == 9 {
			hash = ""
		}
		fmt.Fprintf(&b, "user%06d,user%06d@example.com,User %d,%s,%s\n", i, i, i, group, hash)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	dataDir := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"import", "users", file, "--data", dataDir}, mapEnv(nil), mapEnviron(nil), strings.NewReader(""), &stdout, &stderr)
	took := time.Since(start)
	t.Logf("imported %d rows in %s (%.0f rows/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	want := fmt.Sprintf("imported %s users (active %s, invited %s), skipped 0 rows\npassword hashes: bcrypt %s\n",
		commas(n), commas(n*9/10), commas(n/10), commas(n*9/10))
	if stdout.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", stdout.String(), want)
	}
	// Not a terminal: a progress line every 10,000 rows.
	var progress []string
	for i := 10_000; i <= n; i += 10_000 {
		progress = append(progress, fmt.Sprintf("importing %s: %s rows, %s imported, 0 skipped", file, commas(i), commas(i)))
	}
	var lines []string
	if s := strings.TrimSuffix(stderr.String(), "\n"); s != "" {
		lines = strings.Split(s, "\n")
	}
	if diff := cmp.Diff(progress, lines); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}

	s, err := loadSettings(commonFlags{data: dataDir}, "", mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(t.Context(), s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got, err := a.Store.CountUsers(t.Context()); err != nil || got != n {
		t.Errorf("CountUsers = %d, %v; want %d", got, err, n)
	}
	if m, err := a.Store.GroupMembers(t.Context(), "administrators"); err != nil || len(m) != n/100 {
		t.Errorf("%d administrators (%v), want %d", len(m), err, n/100)
	}
	last := fmt.Sprintf("user%06d", n-2)
	if u, err := a.Store.UserByLogin(t.Context(), last+"@example.com"); err != nil || u.Username != last || u.PasswordHash != bcryptHash || u.State != gatehouse.StateActive {
		t.Errorf("UserByLogin(%s) = %+v, %v", last, u, err)
	}
	if _, err := a.Accounts.Login(t.Context(), account.LoginRequest{Username: last, Password: "password", Client: account.Client{Addr: "192.0.2.1"}}); err != nil {
		t.Errorf("login as %s: %v", last, err)
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 41000: "41,000", 100000: "100,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestFoldKey checks the file's duplicate check folds as strings.EqualFold
// (and so the store) does.
func TestFoldKey(t *testing.T) {
	pairs := [][2]string{
		{"alice", "ALICE"}, {"ſtan", "STAN"}, {"Kelvin", "\u212aelvin"}, {"σς", "ΣΣ"}, {"straße", "STRASSE"}, {"É", "é"}, {"", ""},
	}
	for _, p := range pairs {
		if got, want := foldKey(p[0]) == foldKey(p[1]), strings.EqualFold(p[0], p[1]); got != want {
			t.Errorf("foldKey(%q) == foldKey(%q) is %v, EqualFold says %v", p[0], p[1], got, want)
		}
	}
}

package password

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLegacyVectors(t *testing.T) {
	h := newCheapHasher()
	ctx := t.Context()
	for _, v := range legacyVectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			scheme, err := Identify(v.encoded)
			if err != nil || scheme != v.scheme {
				t.Fatalf("Identify = %q, %v; want %q", scheme, err, v.scheme)
			}
			ok, rehash, err := h.Verify(ctx, v.password, v.encoded)
			if err != nil || !ok || !rehash {
				t.Fatalf("Verify(right password) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			wrong := []string{"", "x" + v.password[1:]}
			// Expensive hashes (slower still under -race) get two
			// wrong passwords; bcrypt ignores everything after 72
			// bytes (see TestBcryptLongPasswords).
			if !heavy(t, v.encoded) {
				wrong = append(wrong, " "+v.password, strings.ToUpper(v.password))
			}
			if !heavy(t, v.encoded) && (v.scheme != SchemeBcrypt || len(v.password) < 72) {
				wrong = append(wrong, v.password+" ", v.password+"x", v.password+"\x00", v.password[:len(v.password)-1])
			}
			for _, w := range wrong {
				if w == v.password {
					continue
				}
				if ok, rehash, err := h.Verify(ctx, w, v.encoded); err != nil || ok || rehash {
					t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", w, ok, rehash, err)
				}
			}
		})
	}
}

// TestBcryptLongPasswords pins bcrypt's semantics, which Verify keeps for
// imported hashes: only the first 72 bytes count, as in PHP's
// password_hash and htpasswd, which made these hashes.
func TestBcryptLongPasswords(t *testing.T) {
	const (
		hash72 = "$2y$04$bhw4/sIy/zWxLj4AFLghAuV8hOJrxihgq4xdD3NpBC6.my8vo3NJq" // htpasswd, bcryptP72
		hash99 = "$2y$04$kyXVF9IwDqfdMcNNL6ME/ORouXqal3tjDUhYPhQelDZtOjhe9reFu" // htpasswd, bcryptP99
	)
	tests := []struct {
		name, password, encoded string
		want                    bool
	}{
		{"99-byte hash, 99-byte password", bcryptP99, hash99, true},
		{"99-byte hash, its first 72 bytes", bcryptP72, hash99, true},
		{"99-byte hash, other bytes after 72", bcryptP72 + " something else entirely", hash99, true},
		{"99-byte hash, 71 bytes", bcryptP72[:71], hash99, false},
		{"99-byte hash, 72nd byte differs", bcryptP72[:71] + "h", hash99, false},
		{"72-byte hash, 72 bytes", bcryptP72, hash72, true},
		{"72-byte hash, longer", bcryptP99, hash72, true},
		{"72-byte hash, 71 bytes", bcryptP72[:71], hash72, false},
		{"72-byte hash, 71 bytes and NUL", bcryptP72[:71] + "\x00", hash72, false},
	}
	h := newCheapHasher()
	for _, tt := range tests {
		ok, rehash, err := h.Verify(t.Context(), tt.password, tt.encoded)
		if err != nil || ok != tt.want || rehash != tt.want {
			t.Errorf("%s: Verify = %v, %v, %v; want %v, %v, nil", tt.name, ok, rehash, err, tt.want, tt.want)
		}
	}
}

// TestBcryptHtpasswdLive makes fresh hashes with htpasswd (Debian's
// apache2-utils), when it is installed, and verifies them.
func TestBcryptHtpasswdLive(t *testing.T) {
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd not installed (apt-get install apache2-utils)")
	}
	h := newCheapHasher()
	for _, pw := range []string{"correct horse battery staple", "pässwörd 🔑", "a", bcryptP99, `quote ' and $dollar`} {
		out, err := exec.CommandContext(t.Context(), bin, "-bnBC", "4", "user", pw).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		_, encoded, found := strings.Cut(strings.TrimSpace(string(out)), ":")
		if !found || !strings.HasPrefix(encoded, "$2y$04$") {
			t.Fatalf("htpasswd printed %q", out)
		}
		if s, err := Identify(encoded); err != nil || s != SchemeBcrypt {
			t.Errorf("Identify(%q) = %q, %v", encoded, s, err)
		}
		if ok, rehash, err := h.Verify(t.Context(), pw, encoded); err != nil || !ok || !rehash {
			t.Errorf("Verify(%q, %q) = %v, %v, %v; want true, true, nil", pw, encoded, ok, rehash, err)
		}
		if ok, _, err := h.Verify(t.Context(), "x"+pw[1:], encoded); err != nil || ok {
			t.Errorf("Verify(wrong) = %v, %v", ok, err)
		}
	}
}

// TestLegacyUpgrade walks the login flow of an imported user: the legacy
// hash matches and asks for a rehash, the new hash is argon2id with the
// hasher's parameters and matches without asking again, and the old hash
// still matches (nothing but the hash needs to change).
func TestLegacyUpgrade(t *testing.T) {
	h := newCheapHasher()
	ctx := t.Context()
	for _, v := range legacyVectors {
		if heavy(t, v.encoded) {
			continue
		}
		ok, rehash, err := h.Verify(ctx, v.password, v.encoded)
		if err != nil || !ok || !rehash {
			t.Fatalf("Verify(legacy) = %v, %v, %v", ok, rehash, err)
		}
		upgraded, err := h.Hash(ctx, v.password)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := Identify(upgraded); err != nil || s != SchemeArgon2id {
			t.Fatalf("Identify(upgraded) = %q, %v", s, err)
		}
		ok, rehash, err = h.Verify(ctx, v.password, upgraded)
		if err != nil || !ok || rehash {
			t.Fatalf("Verify(upgraded) = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
	}
}

// heavy reports whether verifying against encoded takes long enough to
// matter for the test suite's run time, above all under -race.
func heavy(t testing.TB, encoded string) bool {
	t.Helper()
	p, err := parseHash(encoded)
	if err != nil {
		t.Fatal(err)
	}
	switch l := p.legacy.(type) {
	case *bcryptHash:
		return l.cost >= 8
	case *pbkdf2Hash:
		return l.iterations >= 50000
	}
	return false
}

// vectorNamed returns the legacy vector called name.
func vectorNamed(t testing.TB, name string) legacyVector {
	t.Helper()
	for _, v := range legacyVectors {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no vector %q", name)
	return legacyVector{}
}

// aspnetV3 builds a $aspnet-identity$ V3 hash from its fields.
func aspnetV3(prf, iter, saltLen uint32, rest []byte) string {
	b := []byte{0x01}
	b = binary.BigEndian.AppendUint32(b, prf)
	b = binary.BigEndian.AppendUint32(b, iter)
	b = binary.BigEndian.AppendUint32(b, saltLen)
	b = append(b, rest...)
	return prefixASPNet + base64.StdEncoding.EncodeToString(b)
}

func TestIdentifyMalformed(t *testing.T) {
	const (
		bc       = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
		v2       = "$aspnet-identity$AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggHIVY0sdEUfdyeM+E1LtH1uJg=="
		umb256   = "$umbraco-hmacsha256$jztaDB4tT2BxgpMEpbbH2A==z2g8ztATJ54PUXk8vKNGRmWucEdL0C1E3YnfFGy3cug="
		umb1     = "$umbraco-hmacsha1$mRZX5RIKIlZujWhcF/J7S+9K/LI="
		pl       = "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"
		plSalt   = "0ZrzXitFSGltTQnBWOsdAw"
		plKey    = "Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"
		dj       = "pbkdf2_sha256$10000$seasalt$CWWFdHOWwPnki7HvkcqN9iA2T3KLW1cf2uZ5kvArtVY="
		djKey    = "CWWFdHOWwPnki7HvkcqN9iA2T3KLW1cf2uZ5kvArtVY="
		key64b64 = "Q9PjgiJyPnWxsiMykl/6AK3BjrzM.eohMQrOLP5t7/CXXsrxAyXqfKuAt4sCEIec7PNKIBzFnPjjoSXlNMn23g"
	)
	salt16 := bytes.Repeat([]byte{7}, 16)
	key32 := bytes.Repeat([]byte{9}, 32)
	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		// bcrypt
		{"bcrypt 2x (the buggy variant)", "$2x$" + bc[4:], errAlgorithm},
		{"bcrypt 2 without minor", "$2$" + bc[4:], errAlgorithm},
		{"bcrypt 2c", "$2c$" + bc[4:], errAlgorithm},
		{"bcrypt 2Y", "$2Y$" + bc[4:], errAlgorithm},
		{"bcrypt prefix only", "$2y$", errBcrypt},
		{"bcrypt one short", bc[:59], errBcrypt},
		{"bcrypt one long", bc + "a", errBcrypt},
		{"bcrypt trailing newline", bc + "\n", errBcrypt},
		{"bcrypt cost letter", "$2y$1a" + bc[6:], errBcrypt},
		{"bcrypt cost sign", "$2y$+9" + bc[6:], errBcrypt},
		{"bcrypt cost one digit", "$2y$9$" + bc[7:] + "a", errBcrypt},
		{"bcrypt no dollar after cost", "$2y$10x" + bc[7:], errBcrypt},
		{"bcrypt cost 03", "$2y$03" + bc[6:], errBcryptCost},
		{"bcrypt cost 17", "$2y$17" + bc[6:], errBcryptCost},
		{"bcrypt cost 31", "$2y$31" + bc[6:], errBcryptCost},
		{"bcrypt cost 99", "$2y$99" + bc[6:], errBcryptCost},
		{"bcrypt plus in salt", bc[:10] + "+" + bc[11:], errBcrypt},
		{"bcrypt dollar in hash", bc[:40] + "$" + bc[41:], errBcrypt},
		{"bcrypt standard base64 padding", bc[:59] + "=", errBcrypt},
		{"bcrypt non-canonical last character", bc[:59] + "b", errBcrypt},
		{"bcrypt non-ASCII", bc[:58] + "é", errBcrypt},

		// ASP.NET Identity
		{"aspnet empty", prefixASPNet, errASPNet},
		{"aspnet not base64", prefixASPNet + "!!!!", errASPNet},
		{"aspnet unpadded", strings.TrimRight(v2, "="), errASPNet},
		{"aspnet newline", v2[:40] + "\n" + v2[40:], errASPNet},
		{"aspnet url alphabet", strings.ReplaceAll(v2, "+", "-"), errASPNet},
		{"aspnet non-canonical bits", v2[:len(v2)-3] + "h==", errASPNet},
		{"aspnet trailing space", v2 + " ", errASPNet},
		{"aspnet huge", prefixASPNet + strings.Repeat("AAAA", 1000), errASPNet},
		{"aspnet v2 too short (aspnetcore)", prefixASPNet + "AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggE=", errASPNet},
		{"aspnet v2 extra data (aspnetcore)", prefixASPNet + "AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggHIVY0sdEUfdyeM+E1LtH1uJgAAAAAAAAAAAAA=", errASPNet},
		{"aspnet marker 2", prefixASPNet + base64.StdEncoding.EncodeToString(append([]byte{2}, make([]byte, 60)...)), errASPNetVersion},
		{"aspnet marker ff", prefixASPNet + base64.StdEncoding.EncodeToString(append([]byte{0xff}, make([]byte, 60)...)), errASPNetVersion},
		{"aspnet v3 header only", prefixASPNet + base64.StdEncoding.EncodeToString([]byte{1, 0, 0, 0, 1, 0, 0, 0x27, 0x10, 0, 0, 0}), errASPNet},
		{"aspnet v3 marker only", prefixASPNet + "AQ==", errASPNet},
		{"aspnet v3 prf 3", aspnetV3(3, 10000, 16, append(salt16, key32...)), errASPNetPRF},
		{"aspnet v3 prf max", aspnetV3(0xffffffff, 10000, 16, append(salt16, key32...)), errASPNetPRF},
		{"aspnet v3 zero iterations", aspnetV3(1, 0, 16, append(salt16, key32...)), errIterations},
		{"aspnet v3 10000001 iterations", aspnetV3(1, 10_000_001, 16, append(salt16, key32...)), errIterations},
		{"aspnet v3 negative iterations as int", aspnetV3(1, 0x80000000, 16, append(salt16, key32...)), errIterations},
		{"aspnet v3 salt 15", aspnetV3(1, 10000, 15, append(salt16, key32...)), errSalt},
		{"aspnet v3 salt 0", aspnetV3(1, 10000, 0, append(salt16, key32...)), errSalt},
		{"aspnet v3 salt past the end", aspnetV3(1, 10000, 49, append(salt16, key32...)), errSalt},
		{"aspnet v3 salt length max", aspnetV3(1, 10000, 0xffffffff, append(salt16, key32...)), errSalt},
		{"aspnet v3 salt 1025", aspnetV3(1, 10000, 1025, make([]byte, 1025+32)), errSalt},
		{"aspnet v3 subkey 15", aspnetV3(1, 10000, 16, append(salt16, key32[:15]...)), errKey},
		{"aspnet v3 no subkey", aspnetV3(1, 10000, 16, salt16), errKey},
		{"aspnet v3 subkey 65", aspnetV3(2, 10000, 16, append(salt16, make([]byte, 65)...)), errKey},
		{"aspnet v3 too short (aspnetcore)", prefixASPNet + "AQAAAAIAAAAyAAAAEOMwvh3+FZxqkdMBz2ekgGhwQ4A=", errKey},

		// Umbraco
		{"umbraco256 empty", prefixUmbracoHMACSHA256, errUmbraco},
		{"umbraco256 salt only", umb256[:len(prefixUmbracoHMACSHA256)+24], errUmbraco},
		{"umbraco256 one short", umb256[:len(umb256)-1], errUmbraco},
		{"umbraco256 trailing newline", umb256 + "\n", errUmbraco},
		{"umbraco256 salt 17 bytes", prefixUmbracoHMACSHA256 + base64.StdEncoding.EncodeToString(make([]byte, 17)) + umb256[len(umb256)-44:], errUmbraco},
		{"umbraco256 hash and salt swapped", prefixUmbracoHMACSHA256 + umb256[len(umb256)-44:] + umb256[len(prefixUmbracoHMACSHA256):len(prefixUmbracoHMACSHA256)+24], errUmbraco},
		{"umbraco256 bad character", strings.Replace(umb256, "z2g8", "z2g!", 1), errUmbraco},
		{"umbraco256 sha1 length", prefixUmbracoHMACSHA256 + umb1[len(prefixUmbracoHMACSHA1):], errUmbraco},
		{"umbraco1 empty", prefixUmbracoHMACSHA1, errUmbraco},
		{"umbraco1 unpadded", strings.TrimRight(umb1, "="), errUmbraco},
		{"umbraco1 sha256 length", prefixUmbracoHMACSHA1 + umb256[len(umb256)-44:], errUmbraco},
		{"umbraco1 non-canonical", umb1[:len(umb1)-2] + "J=", errUmbraco},
		{"umbraco other algorithm", "$umbraco-sha1$" + umb1[len(prefixUmbracoHMACSHA1):], errAlgorithm},

		// passlib
		{"passlib prefix only", prefixPBKDF2SHA256, errPBKDF2},
		{"passlib no checksum", prefixPBKDF2SHA256 + "6400$" + plSalt, errPBKDF2},
		{"passlib extra field", pl + "$x", errPBKDF2},
		{"passlib trailing dollar", pl + "$", errPBKDF2},
		{"passlib rounds leading zero", prefixPBKDF2SHA256 + "06400$" + plSalt + "$" + plKey, errPBKDF2},
		{"passlib rounds sign", prefixPBKDF2SHA256 + "+6400$" + plSalt + "$" + plKey, errPBKDF2},
		{"passlib rounds empty", prefixPBKDF2SHA256 + "$" + plSalt + "$" + plKey, errPBKDF2},
		{"passlib rounds PHC style", prefixPBKDF2SHA256 + "i=6400$" + plSalt + "$" + plKey, errPBKDF2},
		{"passlib rounds overflow", prefixPBKDF2SHA256 + "4294967296$" + plSalt + "$" + plKey, errPBKDF2},
		{"passlib rounds 999", prefixPBKDF2SHA256 + "999$" + plSalt + "$" + plKey, errIterations},
		{"passlib rounds 10000001", prefixPBKDF2SHA256 + "10000001$" + plSalt + "$" + plKey, errIterations},
		{"passlib salt standard alphabet", prefixPBKDF2SHA256 + "6400$" + strings.Replace(plSalt, "z", "+", 1) + "$" + plKey, errSalt},
		{"passlib salt padded", prefixPBKDF2SHA256 + "6400$" + plSalt + "==$" + plKey, errSalt},
		{"passlib salt empty", prefixPBKDF2SHA256 + "6400$$" + plKey, errSalt},
		{"passlib salt 7 bytes", prefixPBKDF2SHA256 + "6400$" + ab64.EncodeToString(make([]byte, 7)) + "$" + plKey, errSalt},
		{"passlib salt 1025 bytes", prefixPBKDF2SHA256 + "6400$" + ab64.EncodeToString(make([]byte, 1025)) + "$" + plKey, errSalt},
		{"passlib salt non-canonical", prefixPBKDF2SHA256 + "6400$" + plSalt[:len(plSalt)-1] + "x$" + plKey, errSalt},
		{"passlib checksum short", prefixPBKDF2SHA256 + "6400$" + plSalt + "$" + plKey[:40], errKey},
		{"passlib sha256 with 64-byte checksum", prefixPBKDF2SHA256 + "25000$" + plSalt + "$" + key64b64, errKey},
		{"passlib sha512 with 32-byte checksum", prefixPBKDF2SHA512 + "6400$" + plSalt + "$" + plKey, errKey},
		{"passlib checksum newline", pl[:len(pl)-5] + "\n" + pl[len(pl)-5:], errKey},
		{"passlib pbkdf2 sha1", "$pbkdf2$6400$" + plSalt + "$" + plKey, errAlgorithm},
		{"passlib pbkdf2-sha1", "$pbkdf2-sha1$6400$" + plSalt + "$" + plKey, errAlgorithm},

		// Django
		{"django prefix only", prefixDjangoPBKDF2SHA256, errDjango},
		{"django no hash", "pbkdf2_sha256$10000$seasalt", errDjango},
		{"django extra field", dj + "$x", errDjango},
		{"django iterations leading zero", "pbkdf2_sha256$010000$seasalt$" + djKey, errDjango},
		{"django iterations 999", "pbkdf2_sha256$999$seasalt$" + djKey, errIterations},
		{"django iterations 10000001", "pbkdf2_sha256$10000001$seasalt$" + djKey, errIterations},
		{"django salt empty", "pbkdf2_sha256$10000$$" + djKey, errSalt},
		{"django salt space", "pbkdf2_sha256$10000$sea salt$" + djKey, errSalt},
		{"django salt non-ASCII", "pbkdf2_sha256$10000$séasalt$" + djKey, errSalt},
		{"django salt control", "pbkdf2_sha256$10000$sea\tsalt$" + djKey, errSalt},
		{"django salt too long", "pbkdf2_sha256$10000$" + strings.Repeat("s", 1025) + "$" + djKey, errSalt},
		{"django hash unpadded", strings.TrimRight(dj, "="), errKey},
		{"django hash 31 bytes", "pbkdf2_sha256$10000$seasalt$" + base64.StdEncoding.EncodeToString(key32[:31]), errKey},
		{"django hash adapted base64", "pbkdf2_sha256$10000$seasalt$" + strings.TrimRight(ab64.EncodeToString(key32), "="), errKey},
		{"django pbkdf2_sha1", "pbkdf2_sha1$10000$seasalt$" + djKey, errMalformed},
		{"django upper case", "PBKDF2_SHA256$10000$seasalt$" + djKey, errMalformed},
		{"django argon2", "argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHQ$" + djKey, errMalformed},
		{"django bcrypt_sha256", "bcrypt_sha256$" + bc, errMalformed},
		{"django with leading dollar", "$" + dj, errAlgorithm},
	}
	h := newCheapHasher()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheme, err := Identify(tt.encoded)
			if !errors.Is(err, tt.want) || scheme != "" {
				t.Errorf("Identify = %q, %v; want %v", scheme, err, tt.want)
			}
			ok, rehash, verr := h.Verify(t.Context(), "my password", tt.encoded)
			if verr != err || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false and Identify's error %v", ok, rehash, verr, err)
			}
			if err != nil && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("error %q contains the hash", err)
			}
		})
	}
}

// TestIdentifyAccepts lists well-formed hashes at the edges of the bounds,
// and well-formed hashes of other passwords.
func TestIdentifyAccepts(t *testing.T) {
	const bc = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
	salt16 := bytes.Repeat([]byte{7}, 16)
	tests := []struct {
		name    string
		encoded string
		scheme  Scheme
	}{
		{"bcrypt cost 04", "$2y$04" + bc[6:], SchemeBcrypt},
		{"bcrypt cost 16", "$2y$16" + bc[6:], SchemeBcrypt},
		{"aspnet v3 1 iteration", aspnetV3(0, 1, 16, append(salt16, make([]byte, 16)...)), SchemeASPNetV3},
		{"aspnet v3 10000000 iterations", aspnetV3(2, 10_000_000, 16, append(salt16, make([]byte, 64)...)), SchemeASPNetV3},
		{"aspnet v3 salt 1024", aspnetV3(1, 10000, 1024, make([]byte, 1024+32)), SchemeASPNetV3},
		{"passlib 1000 rounds 8-byte salt", "$pbkdf2-sha256$1000$" + ab64.EncodeToString(make([]byte, 8)) + "$" + ab64.EncodeToString(make([]byte, 32)), SchemePBKDF2SHA256},
		{"passlib 10000000 rounds", "$pbkdf2-sha512$10000000$" + ab64.EncodeToString(make([]byte, 16)) + "$" + ab64.EncodeToString(make([]byte, 64)), SchemePBKDF2SHA512},
		{"django one-character salt", "pbkdf2_sha256$1000$s$" + base64.StdEncoding.EncodeToString(make([]byte, 32)), SchemeDjangoPBKDF2SHA256},
		{"django punctuation salt", "pbkdf2_sha256$1000$!#%&()*+,-./:;<=>?@[]^_`{|}~$" + base64.StdEncoding.EncodeToString(make([]byte, 32)), SchemeDjangoPBKDF2SHA256},
	}
	for _, tt := range tests {
		if s, err := Identify(tt.encoded); err != nil || s != tt.scheme {
			t.Errorf("%s: Identify = %q, %v; want %q", tt.name, s, err, tt.scheme)
		}
	}
}

// TestVerifyLegacyWrongPassword checks hashes that are well formed but
// match no password we try: ASP.NET Core's own failure cases among them.
func TestVerifyLegacyWrongPassword(t *testing.T) {
	for _, encoded := range []string{
		// dotnet/aspnetcore PasswordHasherTest: "incorrect password" and
		// V3 "extra data at end", which stays well formed (a longer
		// subkey) and simply does not match.
		prefixASPNet + "AAABAgMEBQYHCAkKCwwNDg+uAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAALtH1uJg==",
		prefixASPNet + "AQAAAAAAAAD6AAAAEAhftMyfTJyAAAAAAAAAAAAAAAAAAAih5WsjXaR3PA9M",
		prefixASPNet + "AQAAAAIAAAAyAAAAEOMwvh3+FZxqkdMBz2ekgGhwQ4B6pZWND6zgESBuWiHwAAAAAAAAAAAA",
		// A password hashed under another scheme's prefix.
		"$umbraco-hmacsha1$" + "mRZX5RIKIlZujWhcF/J7S+9K/LI=",
	} {
		ok, rehash, err := newCheapHasher().Verify(t.Context(), "my password", encoded)
		if err != nil || ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", encoded, ok, rehash, err)
		}
	}
}

// TestLegacyNUL: a password with a NUL byte never matches a legacy hash,
// although PBKDF2 (an HMAC keyed with the password, padded with zeros)
// would accept "my password\x00" for "my password".
func TestLegacyNUL(t *testing.T) {
	h := newCheapHasher()
	for _, v := range legacyVectors {
		for _, pw := range []string{v.password + "\x00", v.password + "\x00\x00", v.password[:1] + "\x00" + v.password[1:], "\x00"} {
			if ok, rehash, err := h.Verify(t.Context(), pw, v.encoded); err != nil || ok || rehash {
				t.Errorf("%s: Verify(%q) = %v, %v, %v; want false, false, nil", v.name, pw, ok, rehash, err)
			}
		}
	}
	// argon2id hashes the password exactly as given, NUL included.
	encoded, err := h.Hash(t.Context(), "my password\x00")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(t.Context(), "my password\x00", encoded); err != nil || !ok {
		t.Errorf("argon2id with NUL: %v, %v", ok, err)
	}
}

// TestBcryptNonCanonicalSalt: the salt's last character carries 4 unused
// bits; like crypt_blowfish, Verify ignores them.
func TestBcryptNonCanonicalSalt(t *testing.T) {
	const bc = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
	odd := bc[:28] + "P" + bc[29:] // 'O' (16) becomes 'P' (17)
	ok, rehash, err := newCheapHasher().Verify(t.Context(), "rasmuslerdorf", odd)
	if err != nil || !ok || !rehash {
		t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

// TestLegacyBusy checks that legacy verification waits for a hashing slot
// like argon2id does.
func TestLegacyBusy(t *testing.T) {
	for _, name := range []string{"bcrypt php.net", "aspnet v2", "aspnet v3 sha256 10000 (.NET 6)", "umbraco hmacsha256", "umbraco hmacsha1", "pbkdf2-sha256", "pbkdf2-sha512", "django"} {
		v := vectorNamed(t, name)
		t.Run(name, func(t *testing.T) {
			h := NewHasher(cheapParams, 1, 20*time.Millisecond)
			if err := h.acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.Verify(t.Context(), v.password, v.encoded); !errors.Is(err, ErrBusy) {
				t.Errorf("Verify with no free slot = %v, want ErrBusy", err)
			}
			h.release()

			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, _, err := h.Verify(ctx, v.password, v.encoded); !errors.Is(err, ErrBusy) {
				t.Errorf("Verify with a done context = %v, want ErrBusy", err)
			}
			if ok, _, err := h.Verify(t.Context(), v.password, v.encoded); err != nil || !ok {
				t.Errorf("Verify with a free slot = %v, %v", ok, err)
			}
			if len(h.sem) != 0 {
				t.Errorf("%d slots still held", len(h.sem))
			}
			// A malformed hash never takes a slot.
			if err := h.acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.Verify(t.Context(), v.password, v.encoded+"$"); err == nil || errors.Is(err, ErrBusy) {
				t.Errorf("Verify(malformed) with no free slot = %v; want the format error", err)
			}
			h.release()
		})
	}
}

func TestUTF16LE(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
	}{
		{"", []byte{}},
		{"A", []byte{'A', 0}},
		{"é", []byte{0xe9, 0}},
		{"€", []byte{0xac, 0x20}},
		{"🔑", []byte{0x3d, 0xd8, 0x11, 0xdd}}, // U+1F511: surrogates D83D DD11
		{"\xff", []byte{0xfd, 0xff}},          // invalid UTF-8 becomes U+FFFD
	}
	for _, tt := range tests {
		if got := utf16LE(tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("utf16LE(%q) = % x, want % x", tt.in, got, tt.want)
		}
	}
}

// BenchmarkVerifyLegacy measures one successful Verify for each legacy
// scheme, with the parameters its system used by default.
func BenchmarkVerifyLegacy(b *testing.B) {
	benches := []struct {
		name     string
		password string
		encoded  string
	}{
		{"bcrypt-cost10", "correct horse battery staple", "$2y$10$XGvrHzXehJMrQpXtxTwn8ulH5ed050BS0eG1qAWD4GdTNkLmgUPsy"},
		{"aspnet-v2-sha1-1000", "correct horse battery staple", "$aspnet-identity$AI87WgweLU9gcYKTBKW2x9hGM8Ge4SPT/n7RMqi0xV1hpAsfaCn8fnZMIGVFOSMj2Q=="},
		{"aspnet-v3-sha256-10000", "correct horse battery staple", "$aspnet-identity$AQAAAAEAACcQAAAAEI87WgweLU9gcYKTBKW2x9iz2nVWL7xy3PoaiifE+rIddn1gRyoA4ytWEs13wqleiA=="},
		{"aspnet-v3-sha512-100000", "correct horse battery staple", "$aspnet-identity$AQAAAAIAAYagAAAAEI87WgweLU9gcYKTBKW2x9hIJ3L9xledlQ9kchALtw5HjpNUqV6iGxTG0PUtUuOyMw=="},
		{"umbraco-hmacsha256", "correct horse battery staple", "$umbraco-hmacsha256$jztaDB4tT2BxgpMEpbbH2A==z2g8ztATJ54PUXk8vKNGRmWucEdL0C1E3YnfFGy3cug="},
		{"umbraco-hmacsha1", "correct horse battery staple", "$umbraco-hmacsha1$mRZX5RIKIlZujWhcF/J7S+9K/LI="},
		{"pbkdf2-sha256-29000", "correct horse battery staple", "$pbkdf2-sha256$29000$jztaDB4tT2BxgpMEpbbH2A$Qf6YcYD4lb5q4bAhqmvaagQ5gscvjqCSsc6.maqGOVQ"},
		{"pbkdf2-sha512-25000", "correct horse battery staple", "$pbkdf2-sha512$25000$jztaDB4tT2BxgpMEpbbH2A$Q9PjgiJyPnWxsiMykl/6AK3BjrzM.eohMQrOLP5t7/CXXsrxAyXqfKuAt4sCEIec7PNKIBzFnPjjoSXlNMn23g"},
		{"django-pbkdf2-sha256-260000", "correct horse battery staple", "pbkdf2_sha256$260000$Xb3pQ9sLm2Rt7vWz4kNc8d$STrMIK/3CYDChNRrT8fohng6WOfzNZeIVnRXpwoGFxQ="},
	}
	h := newCheapHasher()
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if ok, _, err := h.Verify(ctx, bb.password, bb.encoded); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkIdentify measures format checking alone, as the import command
// does it for every row.
func BenchmarkIdentify(b *testing.B) {
	for b.Loop() {
		for _, v := range legacyVectors {
			if _, err := Identify(v.encoded); err != nil {
				b.Fatal(err)
			}
		}
	}
}

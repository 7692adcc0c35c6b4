package password

// Test vectors for the legacy schemes, and how each was made.
//
// Published vectors, each checked again with Python's hashlib before use:
//
//   - bcrypt "rasmuslerdorf": the pair from PHP's password_verify
//     documentation (and docs/security-notes.md); the $2a$ and $2b$
//     spellings of the same salt come from the system's libxcrypt
//     (crypt(3) through Python's ctypes; see the script below), which
//     prints the same 53 characters for all three prefixes.
//   - ASP.NET Identity, password "my password": the success cases of
//     dotnet/aspnetcore src/Identity/test/Identity.Test/PasswordHasherTest.cs
//     (VerifyHashedPassword_Version3CompatMode_SuccessCases and
//     HashPassword_Version2/Version3, salt 00 01 02 .. 0f).
//   - passlib pbkdf2-sha256, password "password": the examples of passlib's
//     pbkdf2_digest documentation (6400 rounds, and 8000 rounds with a
//     10-byte salt).
//   - passlib pbkdf2-sha512, password "insecure_secret": Authelia's
//     documentation of OpenID Connect client secrets.
//   - Django, password "lètmein", salt "seasalt", 10,000 iterations:
//     Django's own test of its PBKDF2 hasher (test_pkbdf2 in
//     django/contrib/auth/tests/hashers.py, Django 1.5).
//
// bcrypt vectors made with htpasswd from Debian 12's apache2-utils
// 2.4.71-1~deb12u1 (apt-get install -y apache2-utils), and checked with
// libxcrypt's crypt(3):
//
//	htpasswd -bnBC 10 user 'correct horse battery staple'
//	htpasswd -bnBC 5 user 'pässwörd 🔑'
//	htpasswd -bnBC 4 user "$P72"   # P72 as bcryptP72 below
//	htpasswd -bnBC 4 user "$P99"   # P99 = P72 + "+27 more bytes, all ignored"
//
// Every other vector was made by this script (python3 mkvectors.py, Python
// 3.11, standard library only), which follows the layouts documented on
// Identify:
//
//	# Generates the legacy test vectors in password/legacy_vectors_test.go.
//	# Python 3.11 standard library only (hashlib, hmac, base64, struct, ctypes);
//	# bcrypt $2a$/$2b$ come from the system libcrypt (libxcrypt) via ctypes.
//	import base64, ctypes, ctypes.util, hashlib, hmac, struct
//
//	PWS = ["correct horse battery staple", "pässwörd 🔑"]
//	SALT16 = bytes.fromhex("8f3b5a0c1e2d4f6071829304a5b6c7d8")
//	SALT32 = bytes.fromhex("00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0")
//
//	def b64(b): return base64.b64encode(b).decode()
//	def ab64(b): return b64(b).rstrip("=").replace("+", ".")  # passlib "adapted base64"
//	def utf16le(s): return s.encode("utf-16-le")
//
//	def aspnet_v2(pw, salt):
//	    sub = hashlib.pbkdf2_hmac("sha1", pw.encode(), salt, 1000, 32)
//	    return "$aspnet-identity$" + b64(b"\x00" + salt + sub)
//
//	def aspnet_v3(pw, prf, it, salt, n):
//	    sub = hashlib.pbkdf2_hmac(["sha1", "sha256", "sha512"][prf], pw.encode(), salt, it, n)
//	    return "$aspnet-identity$" + b64(b"\x01" + struct.pack(">III", prf, it, len(salt)) + salt + sub)
//
//	def umbraco_hmacsha256(pw, salt):
//	    key = (salt * 4)[:64]  # .NET HMACSHA256's key is 64 bytes: the salt repeated
//	    return "$umbraco-hmacsha256$" + b64(salt) + b64(hmac.new(key, utf16le(pw), hashlib.sha256).digest())
//
//	def umbraco_hmacsha1(pw):
//	    return "$umbraco-hmacsha1$" + b64(hmac.new(utf16le(pw), utf16le(pw), hashlib.sha1).digest())
//
//	def passlib(pw, alg, rounds, salt):
//	    dk = hashlib.pbkdf2_hmac(alg, pw.encode(), salt, rounds)
//	    return "$pbkdf2-%s$%d$%s$%s" % (alg, rounds, ab64(salt), ab64(dk))
//
//	def django(pw, it, salt):
//	    return "pbkdf2_sha256$%d$%s$%s" % (it, salt, b64(hashlib.pbkdf2_hmac("sha256", pw.encode(), salt.encode(), it)))
//
//	lib = ctypes.CDLL(ctypes.util.find_library("crypt"))
//	lib.crypt.restype, lib.crypt.argtypes = ctypes.c_char_p, [ctypes.c_char_p, ctypes.c_char_p]
//	def crypt(pw, setting): return lib.crypt(pw.encode(), setting.encode()).decode()
//
//	for pw in PWS:
//	    print(repr(pw))
//	    print(" ", aspnet_v2(pw, SALT16))
//	    print(" ", aspnet_v3(pw, 0, 1000, SALT16, 32))
//	    print(" ", aspnet_v3(pw, 1, 10000, SALT16, 32))
//	    print(" ", aspnet_v3(pw, 2, 100000, SALT16, 32))
//	    print(" ", aspnet_v3(pw, 2, 1000, SALT32, 64))
//	    print(" ", umbraco_hmacsha256(pw, SALT16))
//	    print(" ", umbraco_hmacsha1(pw))
//	    print(" ", passlib(pw, "sha256", 29000, SALT16))
//	    print(" ", passlib(pw, "sha512", 25000, SALT16))
//	    print(" ", django(pw, 260000, "Xb3pQ9sLm2Rt7vWz4kNc8d"))
//	    print(" ", crypt(pw, "$2a$05$abcdefghijklmnopqrstuu"))
//	    print(" ", crypt(pw, "$2b$05$abcdefghijklmnopqrstuu"))

// bcryptP72 is a 72-byte password, the most bcrypt uses; bcryptP99 extends
// it to 99 bytes.
const (
	bcryptP72 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefABCDEFGH"
	bcryptP99 = bcryptP72 + "+27 more bytes, all ignored"
)

type legacyVector struct {
	name     string
	scheme   Scheme
	password string
	encoded  string
}

var legacyVectors = []legacyVector{
	// bcrypt: published, htpasswd, libxcrypt.
	{"bcrypt php.net", SchemeBcrypt, "rasmuslerdorf", "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"},
	{"bcrypt php.net as 2a", SchemeBcrypt, "rasmuslerdorf", "$2a$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"},
	{"bcrypt php.net as 2b", SchemeBcrypt, "rasmuslerdorf", "$2b$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"},
	{"bcrypt htpasswd cost 10", SchemeBcrypt, "correct horse battery staple", "$2y$10$XGvrHzXehJMrQpXtxTwn8ulH5ed050BS0eG1qAWD4GdTNkLmgUPsy"},
	{"bcrypt htpasswd unicode", SchemeBcrypt, "pässwörd 🔑", "$2y$05$xKdERqCveCwsHsBHcy2p4e5ZScpQm6LxUewU45ol04WDl4eGS6e12"},
	{"bcrypt htpasswd 72 bytes", SchemeBcrypt, bcryptP72, "$2y$04$bhw4/sIy/zWxLj4AFLghAuV8hOJrxihgq4xdD3NpBC6.my8vo3NJq"},
	{"bcrypt htpasswd 99 bytes", SchemeBcrypt, bcryptP99, "$2y$04$kyXVF9IwDqfdMcNNL6ME/ORouXqal3tjDUhYPhQelDZtOjhe9reFu"},
	{"bcrypt libxcrypt 2a", SchemeBcrypt, "correct horse battery staple", "$2a$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS"},
	{"bcrypt libxcrypt 2b", SchemeBcrypt, "correct horse battery staple", "$2b$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS"},
	{"bcrypt libxcrypt 2a unicode", SchemeBcrypt, "pässwörd 🔑", "$2a$05$abcdefghijklmnopqrstuuJle.iZ0HydI0pt1p.fYQNcC2ygoDkde"},
	{"bcrypt libxcrypt 2b unicode", SchemeBcrypt, "pässwörd 🔑", "$2b$05$abcdefghijklmnopqrstuuJle.iZ0HydI0pt1p.fYQNcC2ygoDkde"},

	// ASP.NET Identity: dotnet/aspnetcore's own test vectors.
	{"aspnet v2 aspnetcore", SchemeASPNetV2, "my password", "$aspnet-identity$ANXrDknc7fGPpigibZXXZFMX4aoqz44JveK6jQuwY3eH/UyPhvr5xTPeGYEckLxz9A=="},
	{"aspnet v2 aspnetcore HashPassword_Version2", SchemeASPNetV2, "my password", "$aspnet-identity$AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggHIVY0sdEUfdyeM+E1LtH1uJg=="},
	{"aspnet v3 aspnetcore HashPassword_Version3", SchemeASPNetV3, "my password", "$aspnet-identity$AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg+yWU7rLgUwPZb1Itsmra7cbxw2EFpwpVFIEtP+JIuUEw=="},
	{"aspnet v3 aspnetcore sha512 50 16-byte subkey", SchemeASPNetV3, "my password", "$aspnet-identity$AQAAAAIAAAAyAAAAEOMwvh3+FZxqkdMBz2ekgGhwQ4B6pZWND6zgESBuWiHw"},
	{"aspnet v3 aspnetcore sha512 250 64-byte subkey", SchemeASPNetV3, "my password", "$aspnet-identity$AQAAAAIAAAD6AAAAIJbVi5wbMR+htSfFp8fTw8N8GOS/Sje+S/4YZcgBfU7EQuqv4OkVYmc4VJl9AGZzmRTxSkP7LtVi9IWyUxX8IAAfZ8v+ZfhjCcudtC1YERSqE1OEdXLW9VukPuJWBBjLuw=="},
	{"aspnet v3 aspnetcore sha1 250", SchemeASPNetV3, "my password", "$aspnet-identity$AQAAAAAAAAD6AAAAEAhftMyfTJylOlZT+eEotFXd1elee8ih5WsjXaR3PA9M"},
	{"aspnet v3 aspnetcore sha256 250000", SchemeASPNetV3, "my password", "$aspnet-identity$AQAAAAEAA9CQAAAAIESkQuj2Du8Y+kbc5lcN/W/3NiAZFEm11P27nrSN5/tId+bR1SwV8CO1Jd72r4C08OLvplNlCDc3oQZ8efcW+jQ="},
	// ASP.NET Identity: mkvectors.py.
	{"aspnet v2", SchemeASPNetV2, "correct horse battery staple", "$aspnet-identity$AI87WgweLU9gcYKTBKW2x9hGM8Ge4SPT/n7RMqi0xV1hpAsfaCn8fnZMIGVFOSMj2Q=="},
	{"aspnet v2 unicode", SchemeASPNetV2, "pässwörd 🔑", "$aspnet-identity$AI87WgweLU9gcYKTBKW2x9jDF+BIStnLJZW7L2tqBISoqC1Qn7G4pum2u7znLbmUNw=="},
	{"aspnet v3 sha1 1000", SchemeASPNetV3, "correct horse battery staple", "$aspnet-identity$AQAAAAAAAAPoAAAAEI87WgweLU9gcYKTBKW2x9hGM8Ge4SPT/n7RMqi0xV1hpAsfaCn8fnZMIGVFOSMj2Q=="},
	{"aspnet v3 sha256 10000 (.NET 6)", SchemeASPNetV3, "correct horse battery staple", "$aspnet-identity$AQAAAAEAACcQAAAAEI87WgweLU9gcYKTBKW2x9iz2nVWL7xy3PoaiifE+rIddn1gRyoA4ytWEs13wqleiA=="},
	{"aspnet v3 sha512 100000 (.NET 7)", SchemeASPNetV3, "correct horse battery staple", "$aspnet-identity$AQAAAAIAAYagAAAAEI87WgweLU9gcYKTBKW2x9hIJ3L9xledlQ9kchALtw5HjpNUqV6iGxTG0PUtUuOyMw=="},
	{"aspnet v3 sha512 32-byte salt 64-byte subkey", SchemeASPNetV3, "correct horse battery staple", "$aspnet-identity$AQAAAAIAAAPoAAAAIAARIjNEVWZ3iJmqu8zd7v8PHi08S1ppeIeWpbTD0uHwqHeLiggm5OdGjHx7mJhqAzO/gGPh5O3s4erjkt92Cqkl59EWlnx/Pfqb2hg66xhrsj8Wrx/UKlrS4axbWYZ/vQ=="},
	{"aspnet v3 sha1 unicode", SchemeASPNetV3, "pässwörd 🔑", "$aspnet-identity$AQAAAAAAAAPoAAAAEI87WgweLU9gcYKTBKW2x9jDF+BIStnLJZW7L2tqBISoqC1Qn7G4pum2u7znLbmUNw=="},
	{"aspnet v3 sha256 unicode", SchemeASPNetV3, "pässwörd 🔑", "$aspnet-identity$AQAAAAEAACcQAAAAEI87WgweLU9gcYKTBKW2x9hRsUwxSDRJ4wKuKCEwCuG/xAeqDgU0c9T0xC97hM3MRQ=="},
	{"aspnet v3 sha512 unicode", SchemeASPNetV3, "pässwörd 🔑", "$aspnet-identity$AQAAAAIAAYagAAAAEI87WgweLU9gcYKTBKW2x9gZF9n1QTAw2rTgnYnPXzPf3KthKWEd4z0M+aQoBJSd+w=="},
	{"aspnet v3 sha512 64-byte subkey unicode", SchemeASPNetV3, "pässwörd 🔑", "$aspnet-identity$AQAAAAIAAAPoAAAAIAARIjNEVWZ3iJmqu8zd7v8PHi08S1ppeIeWpbTD0uHwCZ6R7tszG+rplkA/aDVHA4U6BcbTfdetkQhEUD+SBbJS7NX+KS4j59earCET1SORvn1kYCDpRpHCvOjxNAAa/w=="},

	// Umbraco: mkvectors.py.
	{"umbraco hmacsha256", SchemeUmbracoHMACSHA256, "correct horse battery staple", "$umbraco-hmacsha256$jztaDB4tT2BxgpMEpbbH2A==z2g8ztATJ54PUXk8vKNGRmWucEdL0C1E3YnfFGy3cug="},
	{"umbraco hmacsha256 unicode", SchemeUmbracoHMACSHA256, "pässwörd 🔑", "$umbraco-hmacsha256$jztaDB4tT2BxgpMEpbbH2A==eGkdR7U7WrqjEsOEGCyk9mHZnGnPjpCpmQy9HjIPRYk="},
	{"umbraco hmacsha1", SchemeUmbracoHMACSHA1, "correct horse battery staple", "$umbraco-hmacsha1$mRZX5RIKIlZujWhcF/J7S+9K/LI="},
	{"umbraco hmacsha1 unicode", SchemeUmbracoHMACSHA1, "pässwörd 🔑", "$umbraco-hmacsha1$3futn/gdwzmtdbhRrYcJr8ojVrQ="},

	// passlib: published, and mkvectors.py.
	{"pbkdf2-sha256 passlib docs", SchemePBKDF2SHA256, "password", "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"},
	{"pbkdf2-sha256 passlib docs 10-byte salt", SchemePBKDF2SHA256, "password", "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE"},
	{"pbkdf2-sha512 authelia docs", SchemePBKDF2SHA512, "insecure_secret", "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng"},
	{"pbkdf2-sha256", SchemePBKDF2SHA256, "correct horse battery staple", "$pbkdf2-sha256$29000$jztaDB4tT2BxgpMEpbbH2A$Qf6YcYD4lb5q4bAhqmvaagQ5gscvjqCSsc6.maqGOVQ"},
	{"pbkdf2-sha256 unicode", SchemePBKDF2SHA256, "pässwörd 🔑", "$pbkdf2-sha256$29000$jztaDB4tT2BxgpMEpbbH2A$0e6Jb6nO6uaTz7bWwmnZtFy39Ye02P/p4ZTqSJNEUEw"},
	{"pbkdf2-sha512", SchemePBKDF2SHA512, "correct horse battery staple", "$pbkdf2-sha512$25000$jztaDB4tT2BxgpMEpbbH2A$Q9PjgiJyPnWxsiMykl/6AK3BjrzM.eohMQrOLP5t7/CXXsrxAyXqfKuAt4sCEIec7PNKIBzFnPjjoSXlNMn23g"},
	{"pbkdf2-sha512 unicode", SchemePBKDF2SHA512, "pässwörd 🔑", "$pbkdf2-sha512$25000$jztaDB4tT2BxgpMEpbbH2A$jIOQ756pRQUYhstgJ7rc8qMC4GLXq.bC88o7OqS7fMkelMEp.Cpppyq/xYF410AmG4erS2casPQQuUd2dO6dhw"},

	// Django: published, and mkvectors.py.
	{"django published", SchemeDjangoPBKDF2SHA256, "lètmein", "pbkdf2_sha256$10000$seasalt$CWWFdHOWwPnki7HvkcqN9iA2T3KLW1cf2uZ5kvArtVY="},
	{"django", SchemeDjangoPBKDF2SHA256, "correct horse battery staple", "pbkdf2_sha256$260000$Xb3pQ9sLm2Rt7vWz4kNc8d$STrMIK/3CYDChNRrT8fohng6WOfzNZeIVnRXpwoGFxQ="},
	{"django unicode", SchemeDjangoPBKDF2SHA256, "pässwörd 🔑", "pbkdf2_sha256$260000$Xb3pQ9sLm2Rt7vWz4kNc8d$sY9C3V4R2q/7xvdahnb2c+30SgoGQpHerClouVBtRMs="},
}

package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// FuzzDecodeLogin feeds arbitrary bodies and content types to the login body
// decoder: it must never panic and must only ever answer a client error.
func FuzzDecodeLogin(f *testing.F) {
	f.Add("application/json", `{"username":"admin","password":"secret","remember":true}`)
	f.Add("application/json", `{"username":"admin","password":"secret"} {}`)
	f.Add("application/json", `{"username":"\u0000","password":"\ud800"}`)
	f.Add("application/json; charset=utf-8", `{"username":1e999}`)
	f.Add("text/plain", `{}`)
	f.Add("application/problem+json", `[]`)
	f.Add("application/json", `{"username":"a","password":"b","extra":1}`)
	f.Add("application/json", strings.Repeat("[", 10000))
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest("POST", "/auth/session", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		var dst loginBody
		err := decodeJSON(httptest.NewRecorder(), r, &dst)
		if err == nil {
			return
		}
		switch gatehouse.ErrorCode(err) {
		case gatehouse.CodeBadRequest, gatehouse.CodeUnsupportedMediaType:
		default:
			t.Fatalf("decodeJSON(%q, %q) = %v: not a client error", contentType, body, err)
		}
		if status := statusOf(gatehouse.ErrorCode(err)); status >= 500 {
			t.Fatalf("status %d for bad input", status)
		}
		if len(body) > 8 && strings.Contains(gatehouse.ErrorMessage(err), body) {
			t.Fatalf("error echoes the body: %v", err)
		}
	})
}

// FuzzClientAddr checks that no X-Forwarded-For or RemoteAddr crashes the
// client address and scheme resolution, and that an untrusted peer's
// headers are never believed.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:1234", "1.2.3.4, 5.6.7.8", "https")
	f.Add("[::1]:80", "garbage,,", "HTTPS, http")
	f.Add("not an address", "", "")
	f.Add("192.0.2.1:1", "::ffff:10.0.0.1", "https")
	p := proxies{mustParsePrefix("10.0.0.0/8"), mustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff, proto string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Forwarded-Proto", proto)
		a := p.clientAddr(r)
		https := p.isHTTPS(r)
		if peer := remoteAddr(r); !p.trusts(peer) {
			if a != peer {
				t.Fatalf("untrusted peer %q: client %v believed from X-Forwarded-For", remote, a)
			}
			if https {
				t.Fatal("untrusted peer's X-Forwarded-Proto believed")
			}
		}
	})
}

// FuzzParseBasic feeds arbitrary Authorization credentials to the Basic
// parser: no panic, and whatever it accepts is exactly what was encoded.
func FuzzParseBasic(f *testing.F) {
	f.Add("YWRtaW46c2VjcmV0") // admin:secret
	f.Add("YTpiOmM=")         // a:b:c
	f.Add("OnB3")             // :pw
	f.Add("bm9jb2xvbg==")     // nocolon
	f.Add("!!!")
	f.Add(" YWRtaW46c2VjcmV0 ")
	f.Add(strings.Repeat("QUFB", 2000))
	f.Fuzz(func(t *testing.T, b64 string) {
		user, pw, ok := parseBasic(b64)
		if !ok {
			if user != "" || pw != "" {
				t.Fatal("refused credentials leak through")
			}
			return
		}
		if user == "" || strings.Contains(user, ":") {
			t.Fatalf("accepted user %q", user)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil || string(raw) != user+":"+pw {
			t.Fatalf("parseBasic(%q) = %q, %q", b64, user, pw)
		}
	})
}

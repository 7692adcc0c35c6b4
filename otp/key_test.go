package otp

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNewKey(t *testing.T) {
	a, b := NewKey(), NewKey()
	if len(a) != 20 || len(b) != 20 {
		t.Fatalf("key lengths %d, %d", len(a), len(b))
	}
	if bytes.Equal(a, b) {
		t.Fatal("two keys are equal")
	}
}

func TestEncodeDecodeKey(t *testing.T) {
	if got := EncodeKey(seedSHA1); got != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
		t.Errorf("EncodeKey = %s", got)
	}
	// 10 bytes need padding in standard base32; it must be left out.
	if got := EncodeKey([]byte("1234567890")); got != "GEZDGNBVGY3TQOJQ" {
		t.Errorf("EncodeKey(10 bytes) = %s", got)
	}
	if got := EncodeKey([]byte("12345")); got != "GEZDGNBV" {
		t.Errorf("EncodeKey(5 bytes) = %s", got)
	}
	if got := EncodeKey([]byte("123")); strings.Contains(got, "=") || got != "GEZDG" {
		t.Errorf("EncodeKey(3 bytes) = %s", got)
	}
	for _, s := range []string{
		"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
		"gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
		"gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
		"GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ\n",
	} {
		k, err := DecodeKey(s)
		if err != nil || !bytes.Equal(k, seedSHA1) {
			t.Errorf("DecodeKey(%q) = %q, %v", s, k, err)
		}
	}
	for _, s := range []string{"GEZDG", "GEZDG===", "gezdg"} {
		k, err := DecodeKey(s)
		if err != nil || string(k) != "123" {
			t.Errorf("DecodeKey(%q) = %q, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "   ", "====", "GEZDG1", "GEZ", "GEZDG=A", "ÄBCD"} {
		if k, err := DecodeKey(s); err == nil {
			t.Errorf("DecodeKey(%q) = %q, want error", s, k)
		}
	}
	for i := 0; i < 50; i++ {
		k := NewKey()[:1+i%20]
		got, err := DecodeKey(strings.ToLower(EncodeKey(k)))
		if err != nil || !bytes.Equal(got, k) {
			t.Fatalf("round trip of %x: %x, %v", k, got, err)
		}
	}
}

func TestURL(t *testing.T) {
	key := seedSHA1
	secret := EncodeKey(key)
	tests := []struct {
		issuer, account string
		tp              TOTP
		want            string
	}{
		{"Gatehouse", "alice", TOTP{},
			"otpauth://totp/Gatehouse:alice?secret=" + secret + "&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"},
		{"ACME Co", "john.doe@email.com", TOTP{},
			"otpauth://totp/ACME%20Co:john.doe%40email.com?secret=" + secret + "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"},
		{"A:B & C", "a:b?c=d/e#f+g%h", TOTP{Digits: 8, Algorithm: SHA512, Period: 60 * time.Second},
			"otpauth://totp/A%3AB%20%26%20C:a%3Ab%3Fc%3Dd%2Fe%23f%2Bg%25h?secret=" + secret + "&issuer=A%3AB%20%26%20C&algorithm=SHA512&digits=8&period=60"},
		{"", "bob", TOTP{Algorithm: SHA256},
			"otpauth://totp/bob?secret=" + secret + "&algorithm=SHA256&digits=6&period=30"},
		{"Café", "zoë", TOTP{},
			"otpauth://totp/Caf%C3%A9:zo%C3%AB?secret=" + secret + "&issuer=Caf%C3%A9&algorithm=SHA1&digits=6&period=30"},
	}
	for _, tc := range tests {
		got := URL(tc.issuer, tc.account, key, tc.tp)
		if got != tc.want {
			t.Errorf("URL(%q, %q)\n got %s\nwant %s", tc.issuer, tc.account, got, tc.want)
		}
		// A standard parser recovers issuer and account: the first literal
		// colon of the escaped label is the separator.
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("url.Parse(%s): %v", got, err)
		}
		if u.Scheme != "otpauth" || u.Host != "totp" {
			t.Errorf("%s: scheme %q host %q", got, u.Scheme, u.Host)
		}
		label := strings.TrimPrefix(u.EscapedPath(), "/")
		var iss, acc string
		if i := strings.IndexByte(label, ':'); i >= 0 {
			iss, acc = label[:i], label[i+1:]
		} else {
			acc = label
		}
		iss, _ = url.PathUnescape(iss)
		acc, _ = url.PathUnescape(acc)
		if iss != tc.issuer || acc != tc.account {
			t.Errorf("%s: label parsed as %q / %q", got, iss, acc)
		}
		q := u.Query()
		if q.Get("issuer") != tc.issuer || q.Get("secret") != secret {
			t.Errorf("%s: query issuer %q secret %q", got, q.Get("issuer"), q.Get("secret"))
		}
	}
	// A nil key means t.Key.
	if a, b := URL("I", "a", nil, TOTP{Key: key}), URL("I", "a", key, TOTP{}); a != b {
		t.Errorf("nil key: %s != %s", a, b)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("URL with no key did not panic")
			}
		}()
		URL("I", "a", nil, TOTP{})
	}()
}

package sms

import (
	"errors"
	"strings"
	"testing"
)

func TestValidPhone(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+4915112345678", true},
		{"+14155550123", true},
		{"+12345678", true},          // 8 digits
		{"+123456789012345", true},   // 15 digits
		{"+1234567", false},          // 7 digits
		{"+1234567890123456", false}, // 16 digits
		{"4915112345678", false},
		{"004915112345678", false},
		{"+49 151 12345678", false},
		{"+49-151-12345678", false},
		{"+015112345678", false},
		{"+4915112345678\n", false},
		{"+49151123456a8", false},
		{"++4915112345678", false},
		{"+", false},
		{"", false},
		{"+４915112345678", false}, // a full-width digit
	}
	for _, tt := range tests {
		if got := ValidPhone(tt.in); got != tt.want {
			t.Errorf("ValidPhone(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string // part of the error, "" when none
	}{
		{in: "+4915112345678", want: "+4915112345678"},
		{in: "+49 151 12345678", want: "+4915112345678"},
		{in: "+49 (151) 123-456.78", want: "+4915112345678"},
		{in: "0049 151 12345678", want: "+4915112345678"},
		{in: "00 49-151-1234-5678", want: "+4915112345678"},
		{in: "(+49) 151 12345678", want: "+4915112345678"},
		{in: "  +1 (415) 555-0123  ", want: "+14155550123"},
		{in: "+1\u00a0415\u00a0555\u20110123", want: "+14155550123"}, // no-break spaces, non-breaking hyphen
		{in: "+1\t415\n5550123", want: "+14155550123"},
		{in: "+44 20 7946 0958", want: "+442079460958"},
		{in: "+12345678", want: "+12345678"},
		{in: "+123456789012345", want: "+123456789012345"},

		{in: "", wantErr: "the number is empty"},
		{in: " - ", wantErr: "the number is empty"},
		{in: "015112345678", wantErr: "it must start with + or 00 and the country code"},
		{in: "4915112345678", wantErr: "it must start with + or 00"},
		{in: "0 151 12345678", wantErr: "it must start with + or 00"},
		{in: "+49 151 1234567x", wantErr: `'x' is not allowed`},
		{in: "+49/151/12345678", wantErr: `'/' is not allowed`},
		{in: "tel:+4915112345678", wantErr: `'t' is not allowed`},
		{in: "+4915112345678\x00", wantErr: `'\x00' is not allowed`},
		{in: "+49 151 １２345678", wantErr: `'１' is not an ASCII digit`},
		{in: "+49+15112345678", wantErr: "a + may only come first"},
		{in: "00+4915112345678", wantErr: "a + may only come first"},
		{in: "++4915112345678", wantErr: "a + may only come first"},
		{in: "+1234567", wantErr: "it has 7 digits after the +, and an international number has 8 to 15"},
		{in: "+1234567890123456", wantErr: "it has 16 digits"},
		{in: "+", wantErr: "it has 0 digits"},
		{in: "00", wantErr: "it has 0 digits"},
		{in: "+0151 12345678", wantErr: "the country code after the + cannot start with 0"},
		{in: "0004915112345678", wantErr: "cannot start with 0"},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if !ValidPhone(got) {
				t.Errorf("NormalizePhone(%q) = %q, which ValidPhone refuses", tt.in, got)
			}
			continue
		}
		if err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want an error containing %q", tt.in, got, tt.wantErr)
			continue
		}
		if !errors.Is(err, ErrInvalidPhone) {
			t.Errorf("NormalizePhone(%q): %v does not wrap ErrInvalidPhone", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("NormalizePhone(%q): %q, want it to contain %q", tt.in, err, tt.wantErr)
		}
		if got != "" {
			t.Errorf("NormalizePhone(%q) = %q with an error, want \"\"", tt.in, got)
		}
		if strings.Contains(err.Error(), "12345678") {
			t.Errorf("NormalizePhone(%q): error %q repeats the number", tt.in, err)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+4915112345678", "+**********678"},
		{"+14155550123", "+********123"},
		{"+12345678", "+*****678"},
		{"4915112345678", "**********678"},
		{"+49 151 12345678", "+**********678"},                 // separators are not shown
		{"+4915112345678\r\nX-Injected: 1", "+***********781"}, // every digit counts
		{"+1234567", "+*******"},                               // too short to show the end
		{"12345", "*****"},
		{"abc", "***"},
		{"", ""},
		{"+" + strings.Repeat("9", 100) + "123", "+********************123"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

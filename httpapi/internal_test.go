package httpapi

import (
	"maps"
	"net/netip"
	"reflect"
	"testing"
)

func mustParsePrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestJSONFieldNames(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B string
	}
	type outer struct {
		inner
		C       string `json:"c,omitempty"`
		D       string `json:"-"`
		*Nested `json:"nested"`
	}
	got := jsonFieldNames(reflect.TypeOf(&outer{}))
	want := map[string]bool{"a": true, "B": true, "c": true, "nested": true}
	if !maps.Equal(got, want) {
		t.Errorf("jsonFieldNames = %v, want %v", got, want)
	}
	if jsonFieldNames(reflect.TypeOf(outer{})) != nil || jsonFieldNames(reflect.TypeOf(&[]int{})) != nil {
		t.Error("jsonFieldNames of a non-pointer or a non-struct is not nil")
	}
}

// Nested is a struct embedded under a name of its own.
type Nested struct{ X string }

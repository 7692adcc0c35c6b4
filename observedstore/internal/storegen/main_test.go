package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/account"
)

// TestGenerated fails when observedstore's zz_generated.go is not what the
// store interfaces of package gatehouse make of it, so that the wrappers
// cannot drift from the interfaces.
func TestGenerated(t *testing.T) {
	const file = "../../zz_generated.go"
	want, err := generate("../../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v; generate it with: go generate ./observedstore", err)
	}
	if string(got) != string(want) {
		gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gotLines), len(wantLines)) {
			if gotLines[i] != wantLines[i] {
				t.Fatalf("zz_generated.go is out of date (line %d is\n%s\nbut the interfaces make\n%s\n); regenerate it with: go generate ./observedstore", i+1, gotLines[i], wantLines[i])
			}
		}
		t.Fatalf("zz_generated.go is out of date (%d lines, the interfaces make %d); regenerate it with: go generate ./observedstore", len(gotLines), len(wantLines))
	}
}

// TestAreasCoverStores fails when account.Stores has a field that areas
// does not wrap, or areas one it does not have.
func TestAreasCoverStores(t *testing.T) {
	st := reflect.TypeFor[account.Stores]()
	var fields []string
	for f := range st.Fields() {
		fields = append(fields, f.Name+" "+f.Type.String())
	}
	var wrapped []string
	for _, a := range areas {
		wrapped = append(wrapped, a.field+" gatehouse."+a.iface)
	}
	if !reflect.DeepEqual(fields, wrapped) {
		t.Errorf("account.Stores has\n%s\nbut storegen wraps\n%s", strings.Join(fields, "\n"), strings.Join(wrapped, "\n"))
	}
}

package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestAuditKindsComplete: the audit page's kind filter offers every kind
// the root package declares (a kind added there and not here could not be
// filtered on), each once.
func TestAuditKindsComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../audit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []gatehouse.AuditKind
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Type == nil || len(vs.Values) != 1 {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "AuditKind" {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok {
			t.Fatalf("%s is not a string literal", vs.Names[0])
		}
		v, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		declared = append(declared, gatehouse.AuditKind(v))
		return true
	})
	if len(declared) < 30 {
		t.Fatalf("found only %d kinds in audit.go: %v", len(declared), declared)
	}
	for _, k := range declared {
		if !slices.Contains(auditKinds, k) {
			t.Errorf("the audit page does not offer %s", k)
		}
	}
	seen := map[gatehouse.AuditKind]bool{}
	for _, k := range auditKinds {
		if seen[k] || !slices.Contains(declared, k) {
			t.Errorf("auditKinds lists %s twice, or a kind audit.go does not declare", k)
		}
		seen[k] = true
	}
}

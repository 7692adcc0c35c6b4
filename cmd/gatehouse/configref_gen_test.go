package main

// The configuration reference (docs/configuration.md) is generated here,
// in a test file, rather than by a separate program: the config struct and
// defaultConfig live in package main, which no other program can import,
// and the generator needs nothing at run time, so the server binary carries
// neither the generator nor any description text beyond its doc comments.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// configKey is one row of the reference: a setting, a section or a list of
// entries.
type configKey struct {
	path    string // session.idle_timeout; oidc[].client_id inside a list
	kind    string // duration, string, list of strings, section, …
	def     string // the default, as written in the file; "" for none
	env     string // the environment variable; "" when file only
	doc     string // the field's doc comment, on one line
	section bool   // a mapping of further keys (or a list of them)
}

// typeDocs are the struct types the configuration is made of, by name as
// written in the config struct ("oidcProvider", "policy.Rule"), parsed
// from the source so that their fields' doc comments can be read.
type typeDocs map[string]*ast.StructType

// configSources are the directories whose Go files declare the config
// struct's types, with the qualifier their names are written with in
// config.go.
var configSources = map[string]string{
	".":            "",
	"../../policy": "policy.",
}

// parseTypeDocs parses the non-test Go files of configSources.
func parseTypeDocs() (typeDocs, error) {
	docs := typeDocs{}
	fset := token.NewFileSet()
	for dir, qualifier := range configSources {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			return nil, err
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if ts, ok := n.(*ast.TypeSpec); ok {
					if st, ok := ts.Type.(*ast.StructType); ok {
						docs[qualifier+ts.Name.Name] = st
					}
				}
				return true
			})
		}
	}
	return docs, nil
}

// structOf finds the struct declaration behind a field's type expression:
// written in place, named, behind a pointer or the element of a list.
func (d typeDocs) structOf(e ast.Expr) *ast.StructType {
	switch e := e.(type) {
	case *ast.StructType:
		return e
	case *ast.StarExpr:
		return d.structOf(e.X)
	case *ast.ArrayType:
		return d.structOf(e.Elt)
	case *ast.Ident:
		return d[e.Name]
	case *ast.SelectorExpr:
		if pkg, ok := e.X.(*ast.Ident); ok {
			return d[pkg.Name+"."+e.Sel.Name]
		}
	}
	return nil
}

// fieldNamed returns the declaration of the field name in st, or nil.
func fieldNamed(st *ast.StructType, name string) *ast.Field {
	if st == nil {
		return nil
	}
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			if n.Name == name {
				return f
			}
		}
	}
	return nil
}

// configKeys lists every key of the configuration in the order of the
// config struct, with its default from defaultConfig and its variable by
// the rule of applyEnv.
func configKeys() ([]configKey, error) {
	docs, err := parseTypeDocs()
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	envSettings(reflect.ValueOf(defaultConfig()).Elem(), "", func(name, path string, fv reflect.Value) error {
		if envSettable(fv.Type()) {
			env[path] = name
		}
		return nil
	})
	var keys []configKey
	walkConfig(reflect.ValueOf(defaultConfig()).Elem(), docs["config"], "", docs, func(k configKey) {
		k.env = env[k.path]
		keys = append(keys, k)
	})
	return keys, nil
}

// walkConfig calls emit for every key of the struct value v, declared by
// st, depth first.
func walkConfig(v reflect.Value, st *ast.StructType, prefix string, docs typeDocs, emit func(configKey)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		decl := fieldNamed(st, sf.Name)
		k := configKey{path: path, kind: kindOf(sf.Type), def: defaultOf(v.Field(i))}
		if decl != nil {
			k.doc = keyDoc(decl, sf.Name, name)
		}
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != yamlNodeType:
			k.section = true
			emit(k)
			sub := reflect.Zero(ft) // behind a pointer: unset by default
			if sf.Type.Kind() == reflect.Struct {
				sub = v.Field(i)
			}
			walkConfig(sub, structOrNil(docs, decl), path, docs, emit)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			k.section = true
			emit(k)
			walkConfig(reflect.Zero(ft.Elem()), structOrNil(docs, decl), path+"[]", docs, emit)
		default:
			emit(k)
		}
	}
}

// keyDoc is the description of the key name from the doc comment of its
// field decl, on one line. A comment starting with the Go field's name, as
// Go comments do ("IdleTimeout ends a session…"), starts with the key
// instead.
func keyDoc(decl *ast.Field, field, name string) string {
	doc := strings.Join(strings.Fields(decl.Doc.Text()+" "+decl.Comment.Text()), " ")
	rest, ok := strings.CutPrefix(doc, field)
	if ok && (rest == "" || !unicode.IsLetter(rune(rest[0])) && !unicode.IsDigit(rune(rest[0]))) {
		return "`" + name + "`" + rest
	}
	return doc
}

func structOrNil(docs typeDocs, decl *ast.Field) *ast.StructType {
	if decl == nil {
		return nil
	}
	return docs.structOf(decl.Type)
}

// kindOf names a setting's type as a configuration writer sees it.
func kindOf(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == yamlNodeType:
		return "mapping"
	case t.Kind() == reflect.Pointer:
		return kindOf(t.Elem())
	case t.Kind() == reflect.Struct:
		return "section"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "list of entries"
	case t.Kind() == reflect.Slice && reflect.PointerTo(t).Implements(unmarshalerType):
		// Such as groupNames: one value or a list of them.
		return kindOf(t.Elem()) + " or list of " + kindOf(t.Elem()) + "s"
	case t.Kind() == reflect.Slice:
		return "list of " + kindOf(t.Elem()) + "s"
	case t.Kind() == reflect.Map:
		return "map of " + kindOf(t.Key()) + " to " + kindOf(t.Elem())
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Int:
		return "int"
	case t.Kind() == reflect.String:
		return "string"
	}
	panic("configuration reference: no name for the type " + t.String())
}

// defaultOf writes the default value v as it would be written in the
// file; "" when there is none (empty, or no entries).
func defaultOf(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return shortDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String || v.Len() == 0 {
			return ""
		}
		items := make([]string, v.Len())
		for i := range items {
			items[i] = v.Index(i).String()
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return "" // sections, maps, lists of entries, unset pointers
}

// shortDuration writes d as one would in the file: 12h rather than
// 12h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// configReference writes docs/configuration.md from keys.
func configReference(keys []configKey) string {
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated from cmd/gatehouse/config.go by
     go test ./cmd/gatehouse/ -run TestConfigReference -update
     (or go generate ./cmd/gatehouse/); do not edit by hand. -->

Every key of the YAML configuration file (` + "`--config`" + ` or ` + "`GATEHOUSE_CONFIG`" + `),
with its type, its default and the environment variable that overrides it.
Every key is optional. A variable is named after the key's path in upper
case, with ` + "`_`" + ` for ` + "`.`" + ` (` + "`session.idle_timeout`" + ` is
` + "`GATEHOUSE_SESSION_IDLE_TIMEOUT`" + `); a list is given comma-separated.
Keys marked *file only* (lists of entries, maps, and everything inside
them) can only be set in the file. Flags beat the environment, which beats
the file. Durations are written as ` + "`20m`, `12h`, `720h`" + `.
The README's Configuration section explains how the settings work together.
`)
	// The top-level settings first, in one table; then each section, and
	// each list of entries, under its own heading.
	var general []configKey
	var sections [][]configKey
	for _, k := range keys {
		switch top := !strings.ContainsAny(k.path, ".["); {
		case top && k.section:
			sections = append(sections, []configKey{k})
		case top:
			general = append(general, k)
		default:
			sections[len(sections)-1] = append(sections[len(sections)-1], k)
		}
	}
	b.WriteString("\n## General\n" + tableHead)
	for _, k := range general {
		writeRow(&b, k)
	}
	for _, s := range sections {
		head := s[0]
		fmt.Fprintf(&b, "\n## `%s`\n\n%s\n", head.path, markdownText(head.doc))
		if head.kind == "list of entries" {
			b.WriteString("\nA list (file only) of entries with these keys:\n")
		}
		b.WriteString(tableHead)
		for _, k := range s[1:] {
			writeRow(&b, k)
		}
	}
	return b.String()
}

func writeRow(b *strings.Builder, k configKey) {
	fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", k.path, k.kind, cell(k.def), envCell(k), markdownText(k.doc))
}

const tableHead = "\n| Key | Type | Default | Environment variable | Description |\n|---|---|---|---|---|\n"

// cell writes a default value in code style, or a dash for none.
func cell(def string) string {
	if def == "" {
		return "—"
	}
	return "`" + strings.ReplaceAll(def, "|", `\|`) + "`"
}

func envCell(k configKey) string {
	if k.section {
		return "—"
	}
	if k.env == "" {
		return "file only"
	}
	return "`" + k.env + "`"
}

// markdownText keeps a description's text from being read as Markdown
// table syntax, emphasis ("/api/**", "__Host-") or HTML; the key that
// starts it stays code.
func markdownText(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "__", `\_\_`).Replace(s)
}

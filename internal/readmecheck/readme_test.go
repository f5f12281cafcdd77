// Package readmecheck_test checks that the Go identifiers the READMEs name
// exist: a reader who copies `retry.MemoryConfig` from the documentation
// must find it in the package.
package readmecheck_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const root = "../.."

// api is the exported surface of one package: top-level names, and for
// each type its fields and methods (nil when it embeds another type, whose
// promoted names are not followed).
type api struct {
	names   map[string]bool
	members map[string]map[string]bool
}

// packages maps a package name to its API, for every package of the
// module (the root package is "bulwark"), and adds to "auth" the go-sdk's
// auth package, which the docs name the same way (auth.RequireBearerToken).
func packages(t *testing.T) map[string]*api {
	t.Helper()
	out := make(map[string]*api)
	walk(t, root, out)
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/modelcontextprotocol/go-sdk").Output()
	if err != nil {
		t.Fatalf("locating go-sdk: %v", err)
	}
	walk(t, filepath.Join(strings.TrimSpace(string(dir)), "auth"), out)
	return out
}

func walk(t *testing.T, root string, out map[string]*api) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(path, name), nil, parser.SkipObjectResolution)
			if err != nil || f.Name.Name == "main" {
				continue
			}
			a := out[f.Name.Name]
			if a == nil {
				a = &api{names: map[string]bool{}, members: map[string]map[string]bool{}}
				out[f.Name.Name] = a
			}
			collect(a, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func collect(a *api, f *ast.File) {
	member := func(typ, name string) {
		m, ok := a.members[typ]
		if !ok {
			m = map[string]bool{}
			a.members[typ] = m
		}
		if m != nil {
			m[name] = true
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				a.names[d.Name.Name] = true
				continue
			}
			rt := d.Recv.List[0].Type
			if s, ok := rt.(*ast.StarExpr); ok {
				rt = s.X
			}
			if ix, ok := rt.(*ast.IndexExpr); ok {
				rt = ix.X
			}
			if id, ok := rt.(*ast.Ident); ok {
				member(id.Name, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						a.names[n.Name] = true
					}
				case *ast.TypeSpec:
					a.names[s.Name.Name] = true
					fields := func(fl *ast.FieldList) {
						for _, fd := range fl.List {
							if len(fd.Names) == 0 {
								a.members[s.Name.Name] = nil // embeds: promoted names not followed
								return
							}
							for _, n := range fd.Names {
								member(s.Name.Name, n.Name)
							}
						}
					}
					switch ty := s.Type.(type) {
					case *ast.StructType:
						fields(ty.Fields)
					case *ast.InterfaceType:
						fields(ty.Methods)
					}
				}
			}
		}
	}
}

// docFiles returns the doc.go of every package of the module and of the
// otel module, nested ones (audit/pgaudit, cache/rediscache…) included.
func docFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "doc.go" {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 25 {
		t.Fatalf("only %d doc.go files found from %s", len(out), root)
	}
	return out
}

// TestReadmeIdentifiers: every `pkg.Name` or `pkg.Type.Member` that a
// README, SECURITY.md or a package's doc.go writes for a package of this
// module exists in it.
func TestReadmeIdentifiers(t *testing.T) {
	pkgs := packages(t)
	if pkgs["bulwark"] == nil || pkgs["edge"] == nil {
		t.Fatalf("packages not found from %s", root)
	}
	files, _ := filepath.Glob(filepath.Join(root, "examples", "*", "README.md"))
	files = append(files, filepath.Join(root, "README.md"), filepath.Join(root, "SECURITY.md"))
	files = append(files, docFiles(t)...)
	// In Markdown a reference is code (`retry.MemoryConfig`); in a doc
	// comment, a link ([retry.MemoryConfig]) or plain text.
	ref := regexp.MustCompile("[`\\[ (]([a-z][a-z0-9]*)\\.([A-Z][A-Za-z0-9_]*)(?:\\.([A-Z][A-Za-z0-9_]*))?")
	checked := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(raw), -1) {
			a := pkgs[m[1]]
			if a == nil {
				continue // another module's package (mcp, http, …)
			}
			checked++
			if !a.names[m[2]] {
				t.Errorf("%s: %s.%s does not exist", file, m[1], m[2])
				continue
			}
			if m[3] == "" {
				continue
			}
			if members, ok := a.members[m[2]]; ok && members != nil && !members[m[3]] {
				t.Errorf("%s: %s.%s has no field or method %s", file, m[1], m[2], m[3])
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d references checked: the pattern no longer matches the READMEs", checked)
	}
}

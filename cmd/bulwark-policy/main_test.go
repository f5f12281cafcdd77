package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const manifest = `{"tools": [
 {"name": "get_customer", "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}}},
 {"name": "update_customer_email", "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}}
]}`

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tools := write("tools.json", manifest)
	good := write("good.yaml", "version: 1\ntools:\n  - name: get_customer\n    timeout: 2s\n")
	rule := write("rule.yaml", "version: 1\ntools:\n  - name: update_customer_email\n    rule: 'args.new_email.endsWith(\"@example.com\")'\n")
	bad := write("bad.yaml", "version: 1\ntools:\n  - name: get_customer\n    concurrency: -1\n  - name: delete_customer\n")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"valid", []string{"check", "-tools", tools, good}, 0, good + ": ok (sha256:", nil},
		{"invalid", []string{"check", "-tools", tools, bad}, 1, "", []string{
			bad + ":4: concurrency must not be negative (got -1)",
			bad + `:5: tool "delete_customer" is not served (known: get_customer, update_customer_email)`}},
		{"unknown argument in a rule", []string{"check", "-tools", tools, rule}, 1, "", []string{
			rule + `:4: rule for tool "update_customer_email": 1:5: undefined field 'new_email'`}},
		{"no manifest", []string{"check", good}, 2, "", []string{"usage:"}},
		{"not check", []string{"lint", good}, 2, "", []string{"usage:"}},
		{"bad manifest", []string{"check", "-tools", good, good}, 2, "", []string{"not a tools manifest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
			}
			if !strings.HasPrefix(out.String(), tc.stdout) {
				t.Errorf("stdout %q, want prefix %q", out.String(), tc.stdout)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr %q lacks %q", errb.String(), w)
				}
			}
		})
	}
}

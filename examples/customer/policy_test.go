package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/policy/celrule"
)

// TestPolicyFile runs the server with a policy file and changes it while
// the server runs: a tightened rate applies to the next calls, a broken
// file is refused and audited with its digest, and the policy's scopes
// are enforced on top of the server's own.
func TestPolicyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	write(demoPolicyText(120))
	f := newFixture(t, func(env map[string]string) { env["POLICY_FILE"] = path })
	eng := f.srv.layers.policy
	reader := f.connect(f.keys.reader)
	search := func() string {
		_, err, ref := call(t, reader, toolSearchCustomers, map[string]any{"query": "a", "page_size": 1})
		if ref != nil {
			return string(ref.Code)
		}
		if err != nil {
			t.Fatal(err)
		}
		return "ok"
	}
	wait := func(cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("the policy change was not picked up: %+v", eng.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := search() + search() + search(); got != "okokok" {
		t.Fatalf("before: %s", got)
	}

	write("version: 1\ntools:\n  - name: search_customer\n")
	wait(func() bool { return eng.Stats().Refused == 1 })
	if got := search(); got != "ok" {
		t.Fatalf("a refused file changed the policy: %s", got)
	}
	// Tightened: the caller's bucket shrinks to the new burst of 2.
	write(strings.Replace(demoPolicyText(2), "customers:read]", "customers:read, customers:write]", 1))
	wait(func() bool { return eng.Stats().Generation == 2 })
	if got := search() + " " + search() + " " + search(); got != "ok ok "+string(bulwark.CodeRateLimited) {
		t.Errorf("after tightening: %s", got)
	}
	// The policy's scopes add to the server's: get_customer now needs
	// customers:write too, which the reader lacks.
	_, _, ref := call(t, reader, toolGetCustomer, map[string]any{"customer_id": "C-000001"})
	if ref == nil || ref.Code != bulwark.CodePermissionDenied || !strings.Contains(ref.Message, "customers:write") {
		t.Errorf("get_customer under the new policy: %+v", ref)
	}
	admin := f.connect(f.keys.admin)
	mustOK(t, admin, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)

	// Every load is an audit record with the file's digest.
	var kinds []string
	for _, line := range strings.Split(f.audit.String(), "\n") {
		if strings.Contains(line, `"kind":"policy"`) {
			kinds = append(kinds, line)
		}
	}
	if len(kinds) != 3 || !strings.Contains(kinds[1], `"outcome":"refused"`) || !strings.Contains(kinds[1], `search_customer\" is not served`) ||
		!strings.Contains(kinds[2], `"digest":"`+eng.Snapshot().Digest+`"`) {
		t.Errorf("policy audit records:\n%s", strings.Join(kinds, "\n"))
	}
}

func TestPolicyFileInvalidAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("version: 1\ntools:\n  - name: get_customer\n    concurrency: -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnvMap(testenv.NewDatabase(t), writeKeys(t))
	env["POLICY_FILE"] = path
	cfg, err := LoadConfig(getenvFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := NewServer(ctx, cfg, Options{AuditOut: &lockedBuffer{}})
	if err == nil {
		srv.Close(context.Background())
		t.Fatal("started with an invalid policy")
	}
	if want := "configuration: POLICY_FILE: " + path + ":4: concurrency must not be negative (got -1)"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// The sample policy shipped with the server is valid for its tools.
func TestSamplePolicy(t *testing.T) {
	if _, err := policy.Load("policy.yaml", toolDefsList(), celrule.New(celrule.Config{})); err != nil {
		t.Fatal(err)
	}
}

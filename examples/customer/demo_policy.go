package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// demoPolicy is the demo's policy file: the sample's rules with a roomy
// limit on searches, which the policy step tightens while the server runs.
func demoPolicy(dir string) string {
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(demoPolicyText(120)), 0o600); err != nil {
		return ""
	}
	return path
}

func demoPolicyText(searchesPerMinute int) string {
	return fmt.Sprintf(`version: 1
tools:
  - name: search_customers
    rate: {calls: %d, per: 1m, burst: %d}
  - name: "get_customer*"
    scopes: [customers:read]
  - name: update_customer_email
    scopes: [customers:write]
    sensitive: [new_email]
`, searchesPerMinute, min(searchesPerMinute, 20))
}

// policyReload tightens the search limit in the policy file while the
// server runs: the watcher picks the change up and the next calls are
// held to it; a broken edit is refused and changes nothing.
func (d *demo) policyReload() (string, error) {
	var sb strings.Builder
	eng := d.srv.layers.policy
	if eng == nil {
		return "", errors.New("the demo server has no policy")
	}
	path := d.srv.cfg.PolicyFile
	search := func(cs *mcp.ClientSession) string {
		res, err, ref, _ := d.call(cs, toolSearchCustomers, map[string]any{"query": "a", "page_size": 1})
		if ref != nil && ref.Code == bulwark.CodeRateLimited {
			return "rate-limited"
		}
		if err != nil || res.IsError {
			return "error: " + describe(res, err, ref)
		}
		return "ok"
	}
	var before []string
	for i := 0; i < 4; i++ {
		before = append(before, search(d.support))
	}
	fmt.Fprintf(&sb, "policy generation %d (%s…): 4 searches -> %s\n", eng.Stats().Generation, eng.Snapshot().Digest[:15], strings.Join(before, ", "))

	waitFor := func(gen, refused uint64) error {
		deadline := time.Now().Add(10 * time.Second)
		for st := eng.Stats(); st.Generation < gen && st.Refused < refused; st = eng.Stats() {
			if time.Now().After(deadline) {
				return errors.New("the policy file change was not picked up in 10s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	gen, refused := eng.Stats().Generation, eng.Stats().Refused
	if err := os.WriteFile(path, []byte(strings.Replace(demoPolicyText(2), "search_customers", "search_customer", 1)), 0o600); err != nil {
		return sb.String(), err
	}
	if err := waitFor(gen+1, refused+1); err != nil {
		return sb.String(), err
	}
	fmt.Fprintf(&sb, "a typo in the file is refused, generation %d stays (refused reloads: %d)\n", eng.Stats().Generation, eng.Stats().Refused)

	start := time.Now()
	if err := os.WriteFile(path, []byte(demoPolicyText(2)), 0o600); err != nil {
		return sb.String(), err
	}
	if err := waitFor(gen+1, ^uint64(0)); err != nil {
		return sb.String(), err
	}
	took := time.Since(start)
	var after []string
	for i := 0; i < 4; i++ {
		after = append(after, search(d.ops))
	}
	fmt.Fprintf(&sb, "searches tightened to 2/min, no restart: in force %v after the write (generation %d)\n", took.Round(time.Millisecond), eng.Stats().Generation)
	fmt.Fprintf(&sb, "4 searches by ops -> %s\n", strings.Join(after, ", "))
	if strings.Join(before, ",") != "ok,ok,ok,ok" || strings.Join(after, ",") != "ok,ok,rate-limited,rate-limited" {
		return sb.String(), errors.New("expected 4 searches served before, and 2 served then 2 refused after the reload")
	}
	return sb.String(), nil
}

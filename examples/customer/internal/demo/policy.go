package demo

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// policyText is the demo's policy file: the sample's rules with a limit on
// searches, roomy at start, which the policy step tightens while the
// server runs.
func policyText(searchesPerMinute int) string {
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

// policyLoads returns the loads of the policy file recorded in the audit
// trail so far (records of kind "policy").
func (d *demo) policyLoads() ([]auditRecord, error) {
	recs, err := d.auditRecords()
	var loads []auditRecord
	for _, r := range recs {
		if r.Kind == "policy" {
			loads = append(loads, r)
		}
	}
	return loads, err
}

// waitLoad waits for a load of the policy file after the first n recorded,
// accepted or refused as asked.
func (d *demo) waitLoad(n int, accepted bool) (auditRecord, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		loads, err := d.policyLoads()
		if err != nil {
			return auditRecord{}, err
		}
		for _, r := range loads[min(n, len(loads)):] {
			if (r.Outcome == "ok") == accepted {
				return r, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return auditRecord{}, errors.New("the policy file change was not picked up in 10s")
}

// policyReload tightens the search limit in the policy file while the
// server runs: the watcher picks the change up (the audit trail records
// each load) and the next calls are held to it; a broken edit is refused
// and changes nothing.
func (d *demo) policyReload() (string, error) {
	var sb strings.Builder
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
	first, err := d.waitLoad(0, true)
	if err != nil {
		return sb.String(), errors.New("no load of the policy file in the audit trail")
	}
	gen := first.Fields["generation"]
	fmt.Fprintf(&sb, "policy generation %s (%s): 4 searches -> %s\n", gen, short(first.Fields["digest"]), strings.Join(before, ", "))

	loads, err := d.policyLoads()
	if err != nil {
		return sb.String(), err
	}
	if err := os.WriteFile(d.policyFile, []byte(strings.Replace(policyText(2), "search_customers", "search_customer", 1)), 0o600); err != nil {
		return sb.String(), err
	}
	refused, err := d.waitLoad(len(loads), false)
	if err != nil {
		return sb.String(), err
	}
	fmt.Fprintf(&sb, "a typo in the file is refused (audit: %s %s), generation %s stays\n", refused.Outcome, short(refused.Fields["digest"]), refused.Fields["generation"])
	if refused.Fields["generation"] != gen {
		return sb.String(), errors.New("the refused file changed the policy in force")
	}

	if loads, err = d.policyLoads(); err != nil {
		return sb.String(), err
	}
	start := time.Now()
	if err := os.WriteFile(d.policyFile, []byte(policyText(2)), 0o600); err != nil {
		return sb.String(), err
	}
	accepted, err := d.waitLoad(len(loads), true)
	if err != nil {
		return sb.String(), err
	}
	took := time.Since(start)
	var after []string
	for i := 0; i < 4; i++ {
		after = append(after, search(d.ops))
	}
	fmt.Fprintf(&sb, "searches tightened to 2/min, no restart: in force (audit: trigger %s) %v after the write (generation %s)\n", accepted.Fields["trigger"], took.Round(time.Millisecond), accepted.Fields["generation"])
	fmt.Fprintf(&sb, "4 searches by ops -> %s\n", strings.Join(after, ", "))
	if strings.Join(before, ",") != "ok,ok,ok,ok" || strings.Join(after, ",") != "ok,ok,rate-limited,rate-limited" {
		return sb.String(), errors.New("expected 4 searches served before, and 2 served then 2 refused after the reload")
	}
	return sb.String(), nil
}

// short abbreviates a digest ("sha256:…") for display.
func short(digest string) string {
	if len(digest) > 15 {
		return digest[:15] + "…"
	}
	return digest
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Results maps "scenario/check" to the status the suite gave the check:
// SUCCESS, FAILURE or WARNING. INFO entries describe what happened (their
// number depends on timing) and are left out.
type Results map[string]string

// Passed returns the checks that passed, sorted.
func (r Results) Passed() []string { return r.with(func(s string) bool { return s == "SUCCESS" }) }

// NotPassed returns the other checks as "check: STATUS", sorted.
func (r Results) NotPassed() []string {
	var out []string
	for _, k := range r.with(func(s string) bool { return s != "SUCCESS" }) {
		out = append(out, k+": "+r[k])
	}
	return out
}

func (r Results) with(keep func(string) bool) []string {
	var out []string
	for k, s := range r {
		if keep(s) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// scenarioDir matches the directories the suite writes with -o:
// server-<scenario>-<timestamp>.
var scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d\d-\d\dT[0-9-]+Z$`)

// readResults reads every checks.json the suite wrote under dir. A check
// reported more than once keeps its worst status.
func readResults(dir string) (Results, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	r := Results{}
	for _, e := range entries {
		m := scenarioDir.FindStringSubmatch(e.Name())
		if !e.IsDir() || m == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "checks.json"))
		if err != nil {
			return nil, err
		}
		var checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(b, &checks); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for _, c := range checks {
			if c.Status == "INFO" || c.ID == "" {
				continue
			}
			k := m[1] + "/" + c.ID
			if rank(c.Status) > rank(r[k]) {
				r[k] = c.Status
			}
		}
	}
	if len(r) == 0 {
		return nil, fmt.Errorf("no check results under %s", dir)
	}
	return r, nil
}

func rank(status string) int {
	switch status {
	case "":
		return 0
	case "SUCCESS":
		return 1
	case "WARNING":
		return 2
	default:
		return 3
	}
}

// diff lists every check whose status differs between want and got, as
// "check: want -> got", sorted; a check missing from one side shows as
// "missing".
func diff(want, got Results) []string {
	var out []string
	for k, w := range want {
		if g := got[k]; g != w {
			out = append(out, fmt.Sprintf("%s: %s -> %s", k, w, orMissing(g)))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: missing -> %s", k, g))
		}
	}
	slices.Sort(out)
	return out
}

func orMissing(s string) string {
	if s == "" {
		return "missing"
	}
	return s
}

// summary is one line of counts for a variant.
func summary(name string, r Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %d of %d checks passed", name+":", len(r.Passed()), len(r))
	if np := r.NotPassed(); len(np) > 0 {
		fmt.Fprintf(&b, " (not passed: %s)", strings.Join(np, "; "))
	}
	return b.String()
}

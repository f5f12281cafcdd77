package ratelimit_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
)

func keyOf(principal, tool string) string {
	req := bulwarktest.Request(tool, nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	if principal != "" {
		call.SetPrincipal(&bulwark.Principal{ID: principal})
	}
	k, _ := ratelimit.ByPrincipalAndTool(ctx, req)
	return k
}

// FuzzByPrincipalAndTool checks that the tool name, which the client
// chooses, can never make one caller's key equal another caller's: keys are
// equal exactly when both the principal and the tool are.
func FuzzByPrincipalAndTool(f *testing.F) {
	f.Add("alice", "search", "alice", "search")
	f.Add("a", ":b", "a:", "b")
	f.Add("1:a", "x", "1", ":ax")
	f.Add("", "1::x", "1:", "x")
	f.Add("a\x00b", "c", "a", "b\x00c")
	f.Fuzz(func(t *testing.T, p1, t1, p2, t2 string) {
		k1, k2 := keyOf(p1, t1), keyOf(p2, t2)
		same := p1 == p2 && t1 == t2
		if (k1 == k2) != same {
			t.Fatalf("(%q,%q) -> %q and (%q,%q) -> %q", p1, t1, k1, p2, t2, k2)
		}
	})
}

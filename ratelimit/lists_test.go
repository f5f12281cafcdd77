package ratelimit_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Lists run through the chain under bulwark.Use and draw on the caller's
// limit like calls; a limit keyed by tool names them by method, so they can
// have a bucket of their own or be exempt.
func TestListsDrawOnTheLimit(t *testing.T) {
	tests := []struct {
		name string
		cfg  ratelimit.Config
		// outcomes of three tools/list requests, then one tools/call
		lists [3]bool
		call  bool
	}{
		{"one bucket for lists and calls", ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerMinute(2))},
			[3]bool{true, true, false}, false},
		{"lists have a bucket of their own", ratelimit.Config{Key: ratelimit.ByPrincipalAndTool,
			Limit: bulwark.ByTool(ratelimit.PerMinute(2), map[string]ratelimit.Limit{"tools/list": ratelimit.PerMinute(1)})},
			[3]bool{true, false, false}, true},
		{"lists exempt", ratelimit.Config{Key: ratelimit.ByPrincipalAndTool,
			Limit: bulwark.ByTool(ratelimit.PerMinute(1), map[string]ratelimit.Limit{"tools/list": {}})},
			[3]bool{true, true, true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
			if err != nil {
				t.Fatal(err)
			}
			l, err := ratelimit.NewLimiter(store, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v1"}, nil)
			bulwark.AddToolHandler(s, &mcp.Tool{Name: "echo", InputSchema: map[string]any{"type": "object"}}, (&bulwarktest.Recorder{}).Handle)
			caller := func(next mcp.ToolHandler) mcp.ToolHandler {
				return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					bulwark.CallFrom(ctx).SetPrincipal(&bulwark.Principal{ID: "alice"})
					return next(ctx, req)
				}
			}
			bulwark.Use(s, caller, ratelimit.Middleware(l))
			cs := bulwarktest.Connect(t, s, nil)
			ctx := context.Background()
			for i, want := range tt.lists {
				_, err := cs.ListTools(ctx, nil)
				if want != (err == nil) {
					t.Fatalf("tools/list %d: %v, want allowed %v", i+1, err, want)
				}
				if !want {
					if r := bulwark.RefusalOf(nil, err); r == nil || r.Code != bulwark.CodeRateLimited {
						t.Fatalf("tools/list %d: %v, want rate_limited", i+1, err)
					}
				}
			}
			res, err := bulwarktest.CallTool(ctx, cs, "echo", map[string]any{})
			if got := err == nil && !res.IsError; got != tt.call {
				t.Fatalf("tools/call allowed %v, want %v (%v %v)", got, tt.call, res, err)
			}
		})
	}
}

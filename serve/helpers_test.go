package serve_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/health"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type empty struct{}

// slowServer serves "slow", which waits for release, and "fast", behind
// mon's Middleware. started receives once per slow call in its handler.
func slowServer(t testing.TB) (s *mcp.Server, mon *health.Monitor, started chan struct{}, release chan struct{}) {
	t.Helper()
	mon, err := health.New(health.Config{})
	if err != nil {
		t.Fatal(err)
	}
	started, release = make(chan struct{}, 8), make(chan struct{})
	s = mcp.NewServer(&mcp.Implementation{Name: "serve-test", Version: "v0"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "slow"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
		started <- struct{}{}
		select {
		case <-release:
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "slow done"}}}, nil, nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	})
	bulwark.AddTool(s, &mcp.Tool{Name: "fast"}, func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "fast done"}}}, nil, nil
	})
	bulwark.Use(s, mon.Middleware())
	return s, mon, started, release
}

func callTool(ctx context.Context, cs *mcp.ClientSession, name string) (*mcp.CallToolResult, error) {
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: map[string]any{}})
}

func text(res *mcp.CallToolResult) string {
	if res == nil || len(res.Content) == 0 {
		return ""
	}
	if tc, ok := res.Content[0].(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func status(t testing.TB, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond for up to 5s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

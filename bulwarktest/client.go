package bulwarktest

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Connect serves s over in-memory transports and returns a connected,
// initialized client session. Both ends are closed when the test ends.
// opts may be nil.
func Connect(tb testing.TB, s *mcp.Server, opts *mcp.ClientOptions) *mcp.ClientSession {
	tb.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		tb.Fatalf("bulwarktest.Connect: server: %v", err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "bulwarktest", Version: "v0.0.1"}, opts)
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		ss.Close()
		tb.Fatalf("bulwarktest.Connect: client: %v", err)
	}
	tb.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	return cs
}

// CallTool invokes tool through cs with args and returns what the client
// received.
func CallTool(ctx context.Context, cs *mcp.ClientSession, tool string, args any) (*mcp.CallToolResult, error) {
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
}

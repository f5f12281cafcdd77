package retry_test

import (
	"context"
	"fmt"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A tool-level retry around a handler that retries its own dependency
// call: the dependency is called 3 times, not 3 × 3, and the call record
// says which level retried.
func ExampleMiddleware_oneLevel() {
	policy := retry.Config{MaxAttempts: 3, Rand: func(int64) int64 { return 0 }}
	toolLevel, _ := retry.New(policy)
	dbLevel, _ := retry.New(policy)
	queries := 0
	handler := func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return nil, dbLevel.Do(ctx, func(context.Context) error {
			queries++
			return bulwark.Unavailable("the database is unavailable", 0, nil)
		})
	}
	h := retry.Middleware(toolLevel)(handler)
	req := bulwarktest.Request("get_customer", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "get_customer",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}})
	_, err := h(ctx, req)
	fmt.Println(err)
	fmt.Println("queries:", queries, "handler attempts:", call.Attempts())
	fmt.Println(call.Fields())
	// Output:
	// the database is unavailable
	// queries: 3 handler attempts: 1
	// map[dependency_attempts:3 retry_stop:inner]
}

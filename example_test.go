package bulwark_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// trace returns a middleware that prints when a call enters and leaves it.
func trace(name string) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			fmt.Println("enter", name)
			defer fmt.Println("leave", name)
			return next(ctx, req)
		}
	}
}

// serveInMemory connects a client to s over in-memory transports.
func serveInMemory(s *mcp.Server) (*mcp.ClientSession, func()) {
	st, ct := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, _ := s.Connect(ctx, st, nil)
	cs, _ := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v1"}, nil).Connect(ctx, ct, nil)
	return cs, func() { cs.Close(); ss.Close() }
}

func ExampleChain() {
	h := bulwark.Chain(trace("a"), nil, trace("b"), trace("c"))(
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			fmt.Println("handler")
			return &mcp.CallToolResult{}, nil
		})
	h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "t"}})
	// Output:
	// enter a
	// enter b
	// enter c
	// handler
	// leave c
	// leave b
	// leave a
}

type greetIn struct {
	Name string `json:"name"`
}

type greetOut struct {
	Greeting string `json:"greeting"`
}

func ExampleUse() {
	s := mcp.NewServer(&mcp.Implementation{Name: "greeter", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{
		Name:        "greet",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, func(ctx context.Context, req *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, greetOut, error) {
		return nil, greetOut{Greeting: "hello, " + in.Name}, nil
	})
	bulwark.Use(s,
		bulwark.Recover(nil),
		bulwark.Timeout(bulwark.Fixed(5*time.Second)),
	)

	ctx := context.Background()
	cs, done := serveInMemory(s) // any transport works the same way
	defer done()

	res, _ := cs.CallTool(ctx, &mcp.CallToolParams{Name: "greet", Arguments: map[string]any{"name": "Ada"}})
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)
	// Output: {"greeting":"hello, Ada"}
}

func ExampleWrap() {
	s := mcp.NewServer(&mcp.Implementation{Name: "raw", Version: "v1"}, nil)
	slow := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		<-ctx.Done() // a handler that takes too long
		return nil, ctx.Err()
	}
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "slow", InputSchema: map[string]any{"type": "object"}},
		bulwark.Wrap(slow, bulwark.Timeout(bulwark.Fixed(10*time.Millisecond))))

	ctx := context.Background()
	cs, done := serveInMemory(s) // any transport works the same way
	defer done()

	res, _ := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow"})
	fmt.Println(res.IsError, bulwark.RefusalOf(res, nil).Code)
	// Output: true deadline_exceeded
}

func ExampleOnly() {
	onlyWrites := bulwark.Only(bulwark.ToolNames("update"), trace("audit-writes"))
	h := onlyWrites(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{}, nil
	})
	for _, name := range []string{"read", "update"} {
		fmt.Println("call", name)
		h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: name}})
	}
	// Output:
	// call read
	// call update
	// enter audit-writes
	// leave audit-writes
}

func ExampleRecover() {
	h := bulwark.Chain(bulwark.Recover(nil))(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		panic("boom")
	})
	_, err := h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "t"}})
	fmt.Println(bulwark.ErrorOf(err).Code)
	// Output: internal
}

func ExampleTimeout() {
	mw := bulwark.Timeout(bulwark.ByTool(2*time.Second, map[string]time.Duration{
		"export_report": 30 * time.Second, // a slow tool gets longer
	}))
	h := mw(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		deadline, _ := ctx.Deadline()
		fmt.Println(time.Until(deadline).Round(time.Second))
		return &mcp.CallToolResult{}, nil
	})
	h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "export_report"}})
	// Output: 30s
}

func ExampleRateLimited() {
	err := error(bulwark.RateLimited("rate limit exceeded", 1500*time.Millisecond))
	fmt.Println(err)
	fmt.Println(errors.Is(err, bulwark.CodeRateLimited))
	// Output:
	// rate limit exceeded; retry after 2s
	// true
}

func ExampleWrapFor() {
	s := mcp.NewServer(&mcp.Implementation{Name: "greeter", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "greet"}, bulwark.WrapFor(
		func(ctx context.Context, req *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, greetOut, error) {
			return nil, greetOut{Greeting: "hello, " + in.Name}, nil
		},
		trace("only-greet"),
	))
	bulwark.Use(s)

	ctx := context.Background()
	cs, done := serveInMemory(s) // any transport works the same way
	defer done()

	res, _ := cs.CallTool(ctx, &mcp.CallToolParams{Name: "greet", Arguments: map[string]any{"name": "Ada"}})
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)
	// Output:
	// enter only-greet
	// leave only-greet
	// {"greeting":"hello, Ada"}
}

package bulwark_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleInvalidArgument() {
	err := bulwark.InvalidArgument("email", "must contain exactly one @")
	fmt.Println(err)
	fmt.Println(errors.Is(err, bulwark.CodeInvalidArgument), err.Field)
	// Output:
	// argument "email": must contain exactly one @
	// true email
}

func ExamplePermissionDenied() {
	err := bulwark.PermissionDenied("missing scope customers:write")
	fmt.Println(err, err.Code)
	// Output: missing scope customers:write permission_denied
}

func ExampleUnauthenticated() {
	// The cause is for operators; the client sees only the message.
	err := bulwark.Unauthenticated("invalid API key", errors.New("no key with digest 9f86…"))
	fmt.Println(err)
	fmt.Println(err.Cause)
	// Output:
	// invalid API key
	// no key with digest 9f86…
}

func ExampleUnavailable() {
	err := bulwark.Unavailable("the customer database is unavailable", 30*time.Second, errors.New("dial tcp: connection refused"))
	fmt.Println(err, err.RetryAfterSeconds())
	// Output: the customer database is unavailable; retry after 30s 30
}

// A context error is a deadline or cancellation refusal.
func ExampleErrorOf_context() {
	err := bulwark.ErrorOf(context.Canceled)
	fmt.Println(err, err.Code, errors.Is(err, context.Canceled))
	// Output: request cancelled canceled true
}

func ExampleInternal() {
	err := bulwark.Internal(errors.New("nil map write in handler"))
	fmt.Println(err)
	// Output: internal error
}

func ExampleErrorOf() {
	e := bulwark.ErrorOf(fmt.Errorf("query: %w", context.DeadlineExceeded))
	fmt.Println(e.Code)
	// Output: deadline_exceeded
}

func ExampleCallFrom() {
	req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "get_customer"}}
	ctx, c := bulwarktest.Context(context.Background(), req, nil)
	bulwark.CallFrom(ctx).SetPrincipal(&bulwark.Principal{ID: "alice"})
	fmt.Println(c.Tool, c.PrincipalID(), c.Transport)
	// Output: get_customer alice stdio
}

func ExampleToolNames() {
	m := bulwark.ToolNames("update_customer_email", "add_customer_note")
	req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "add_customer_note"}}
	fmt.Println(m(context.Background(), req))
	// Output: true
}

func ExampleAddToolHandler() {
	s := mcp.NewServer(&mcp.Implementation{Name: "svc", Version: "v1"}, nil)
	f := false
	bulwark.AddToolHandler(s, &mcp.Tool{
		Name:        "set_flag",
		InputSchema: map[string]any{"type": "object"},
		Annotations: &mcp.ToolAnnotations{IdempotentHint: true, DestructiveHint: &f},
	}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{}, nil
	})
	t, _ := bulwark.LookupTool(s, "set_flag")
	fmt.Println(bulwark.IsReadOnly(t), bulwark.IsIdempotent(t), bulwark.IsDestructive(t))
	// Output: false true false
}

func ExampleAddTool() {
	s := mcp.NewServer(&mcp.Implementation{Name: "svc", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "greet", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, greetOut, error) {
			return nil, greetOut{Greeting: "hi " + in.Name}, nil
		})
	t, _ := bulwark.LookupTool(s, "greet")
	fmt.Println(bulwark.IsReadOnly(t))
	// Output: true
}

func ExampleRegister() {
	// Tools added with the SDK directly can be described afterwards.
	s := mcp.NewServer(&mcp.Implementation{Name: "svc", Version: "v1"}, nil)
	tool := &mcp.Tool{Name: "report", InputSchema: map[string]any{"type": "object"}, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	s.AddTool(tool, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{}, nil
	})
	bulwark.Register(s, tool)
	_, ok := bulwark.LookupTool(s, "report")
	fmt.Println(ok)
	// Output: true
}

func ExampleToWire() {
	_, c := bulwarktest.Context(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "t"}}, nil)
	res, err := bulwark.ToWire(c, nil, bulwark.RateLimited("rate limit exceeded", 2*time.Second), nil)
	r := bulwark.RefusalOf(res, err)
	fmt.Println(res.IsError, r.Code, r.RetryAfterSeconds)
	// Output: true rate_limited 2
}

func ExampleRefusalOf() {
	// What a client does with a call's outcome.
	handle := func(res *mcp.CallToolResult, err error) {
		if r := bulwark.RefusalOf(res, err); r != nil {
			fmt.Printf("refused: %s (retry in %ds)\n", r.Code, r.RetryAfterSeconds)
			return
		}
		fmt.Println("ok")
	}
	_, c := bulwarktest.Context(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "t"}}, nil)
	handle(bulwark.ToWire(c, nil, bulwark.Unavailable("loyalty service down", 5*time.Second, nil), nil))
	handle(&mcp.CallToolResult{}, nil)
	// Output:
	// refused: unavailable (retry in 5s)
	// ok
}

func ExampleTimeout_byTool() {
	mw := bulwark.Timeout(bulwark.ByTool(time.Second, map[string]time.Duration{"export": time.Minute}))
	h := mw(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		d, _ := ctx.Deadline()
		fmt.Println(req.Params.Name, time.Until(d).Round(time.Second))
		return &mcp.CallToolResult{}, nil
	})
	h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "export"}})
	h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "get"}})
	// Output:
	// export 1m0s
	// get 1s
}

func ExampleTimeout_perCall() {
	// Longer deadlines for calls that ask for many rows.
	mw := bulwark.Timeout(func(ctx context.Context, req *mcp.CallToolRequest) time.Duration {
		if len(req.Params.Arguments) > 1000 {
			return 10 * time.Second
		}
		return time.Second
	})
	h := mw(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		d, _ := ctx.Deadline()
		fmt.Println(time.Until(d).Round(time.Second))
		return &mcp.CallToolResult{}, nil
	})
	h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "search"}})
	// Output: 1s
}

// OutcomeOf names how a call ended in the vocabulary audit and metrics
// share: a refusal by its code, whichever shape it took.
func ExampleOutcomeOf() {
	ctx := context.Background()
	fmt.Println(bulwark.OutcomeOf(ctx, &mcp.CallToolResult{}, nil))
	fmt.Println(bulwark.OutcomeOf(ctx, nil, bulwark.RateLimited("slow down", time.Second)))
	wire, _ := bulwark.ToWire(nil, nil, bulwark.RateLimited("slow down", time.Second), nil)
	fmt.Println(bulwark.OutcomeOf(ctx, wire, nil))
	fmt.Println(bulwark.OutcomeOf(ctx, nil, errors.New("boom")))
	// Output:
	// ok
	// rate_limited
	// rate_limited
	// internal
}

// ByTool picks a value by tool name, with a default for every other tool.
func ExampleByTool() {
	ttl := bulwark.ByTool(time.Minute, map[string]time.Duration{"search": 5 * time.Second})
	req := func(name string) *mcp.CallToolRequest {
		return &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: name}}
	}
	fmt.Println(ttl(context.Background(), req("search")), ttl(context.Background(), req("get_customer")))
	fmt.Println(bulwark.Fixed(3)(context.Background(), req("any")))
	// Output:
	// 5s 1m0s
	// 3
}

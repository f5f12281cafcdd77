package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A breaker around a dependency inside a handler, driven by a fake clock.
func ExampleNew() {
	clk := bulwarktest.NewFakeClock(time.Time{})
	pg, err := breaker.New("postgres", breaker.Config{OpenFor: 10 * time.Second, Clock: clk})
	if err != nil {
		panic(err)
	}
	query := func(context.Context) error { return errors.New("connection refused") }
	for i := 0; i < 5; i++ {
		_ = pg.Execute(context.Background(), query)
	}
	err = pg.Execute(context.Background(), query)
	fmt.Println(pg.State(), err)
	clk.Advance(10 * time.Second)
	fmt.Println(pg.State())
	// Output:
	// open postgres is unavailable; retry after 10s
	// half-open
}

func ExampleBreaker_Execute() {
	upstream, _ := breaker.New("billing-api", breaker.Config{})
	var balance int
	err := upstream.Execute(context.Background(), func(ctx context.Context) error {
		balance = 42 // an HTTP request with ctx, in real code
		return nil
	})
	fmt.Println(balance, err)
	// Output: 42 <nil>
}

func ExampleNewSet() {
	pg, _ := breaker.New("postgres", breaker.Config{})
	api, _ := breaker.New("billing-api", breaker.Config{})
	set, _ := breaker.NewSet(pg, api)
	set.OnStateChange(func(_ context.Context, e breaker.StateChange) {
		fmt.Printf("%s: %s -> %s\n", e.Name, e.From, e.To) // metrics, audit, logs
	})
	api.ForceOpen()
	fmt.Println("open:", set.OpenBreakers()) // readiness
	// Output:
	// billing-api: closed -> open
	// open: [billing-api]
}

func ExampleMiddleware() {
	b, _ := breaker.New("get_customer", breaker.Config{})
	b.ForceOpen()
	handler := breaker.Middleware(b)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("never reached"), nil
	})
	_, err := handler(context.Background(), bulwarktest.Request("get_customer", nil))
	fmt.Println(errors.Is(err, bulwark.CodeUnavailable), err)
	// Output: true get_customer is unavailable
}

func ExampleSet_PerTool() {
	set, _ := breaker.NewSet()
	perTool, err := set.PerTool(breaker.Config{OpenFor: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "1"}, nil)
	bulwark.Use(s, perTool)
	fmt.Println(len(set.States())) // breakers appear as registered tools are called
	// Output: 0
}

func ExampleSet_New() {
	set, _ := breaker.NewSet()
	pg, _ := set.New("postgres", breaker.Config{Probes: 3})
	fmt.Println(set.States()[pg.Name()])
	// Output: closed
}

// DefaultIsFailure is the starting point of a Config.IsFailure of one's
// own: here a tool's error answers count too, so two of them trip a
// breaker that opens after two failures.
func ExampleDefaultIsFailure() {
	fmt.Println(breaker.DefaultIsFailure(bulwark.Outcome(bulwark.CodeInvalidArgument)))
	fmt.Println(breaker.DefaultIsFailure(bulwark.Outcome(bulwark.CodeDeadlineExceeded)))
	b, _ := breaker.New("search", breaker.Config{TripAfter: 2, IsFailure: func(o bulwark.Outcome) bool {
		return o == bulwark.OutcomeToolError || breaker.DefaultIsFailure(o)
	}})
	handler := breaker.Middleware(b)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "index unreachable"}}}, nil
	})
	for i := 0; i < 2; i++ {
		_, _ = handler(context.Background(), bulwarktest.Request("search", nil))
	}
	fmt.Println(b.State())
	// Output:
	// false
	// true
	// open
}

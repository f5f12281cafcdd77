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
	pg, err := breaker.New("postgres", breaker.Settings{Timeout: 10 * time.Second, Clock: clk})
	if err != nil {
		panic(err)
	}
	query := func(context.Context) error { return errors.New("connection refused") }
	for i := 0; i < breaker.DefaultTripAfter; i++ {
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
	upstream, _ := breaker.New("billing-api", breaker.Settings{})
	var balance int
	err := upstream.Execute(context.Background(), func(ctx context.Context) error {
		balance = 42 // an HTTP request with ctx, in real code
		return nil
	})
	fmt.Println(balance, err)
	// Output: 42 <nil>
}

func ExampleNewSet() {
	pg, _ := breaker.New("postgres", breaker.Settings{})
	api, _ := breaker.New("billing-api", breaker.Settings{})
	set, _ := breaker.NewSet(pg, api)
	set.OnStateChange(func(_ context.Context, e breaker.Event) {
		fmt.Printf("%s: %s -> %s\n", e.Name, e.From, e.To) // metrics, audit, logs
	})
	api.ForceOpen()
	fmt.Println("open:", set.OpenBreakers()) // readiness
	// Output:
	// billing-api: closed -> open
	// open: [billing-api]
}

func ExampleMiddleware() {
	b, _ := breaker.New("get_customer", breaker.Settings{})
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
	perTool, err := set.PerTool(breaker.Settings{Timeout: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "1"}, nil)
	bulwark.Use(s, breaker.Middleware(perTool, breaker.CountErrorResults()))
	fmt.Println(len(set.Breakers())) // breakers appear as registered tools are called
	// Output: 0
}

func ExampleSet_New() {
	set, _ := breaker.NewSet()
	pg, _ := set.New("postgres", breaker.Settings{MaxRequests: 3})
	fmt.Println(set.Get("postgres") == pg, pg.State())
	// Output: true closed
}

func ExampleClassify() {
	ctx := context.Background()
	fmt.Println(breaker.Classify(ctx, bulwark.InvalidArgument("id", "unknown format")))
	fmt.Println(breaker.Classify(ctx, bulwark.DeadlineExceeded(nil)))
	fmt.Println(breaker.Classify(ctx, nil))
	// Output:
	// ignored
	// failure
	// success
}

// With CountErrorResults, IsError results count as failures: two error
// answers trip a breaker that opens after two failures.
func ExampleCountErrorResults() {
	b, _ := breaker.New("search", breaker.Settings{ReadyToTrip: func(c breaker.Counts) bool { return c.ConsecutiveFailures >= 2 }})
	handler := breaker.Middleware(b, breaker.CountErrorResults())(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "index unreachable"}}}, nil
	})
	for i := 0; i < 2; i++ {
		_, _ = handler(context.Background(), bulwarktest.Request("search", nil))
	}
	fmt.Println(b.State())
	// Output: open
}

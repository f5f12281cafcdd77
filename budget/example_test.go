package budget_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/budget"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A model stuck in a loop makes the same call again and again; the fourth
// identical call within a minute is refused with a message it can act on.
// Other arguments are another call.
func ExampleNew() {
	ledger, err := budget.New(budget.Config{Repeats: 3})
	if err != nil {
		panic(err)
	}
	h := budget.Middleware(ledger)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("no orders"), nil
	})
	call := func(args map[string]any) {
		req := bulwarktest.Request("list_orders", args)
		ctx, c := bulwarktest.Context(context.Background(), req, nil)
		c.SetPrincipal(&bulwark.Principal{ID: "agent-7"})
		if _, err := h(ctx, req); err != nil {
			fmt.Println("refused:", err)
			return
		}
		fmt.Println("served")
	}
	for range 4 {
		call(map[string]any{"customer": "c-1"})
	}
	call(map[string]any{"customer": "c-2"})
	// Output:
	// served
	// served
	// served
	// refused: this exact call was made 3 times in the last minute; change the arguments or stop; retry after 60s
	// served
}

// A session's budget of calls: the refusal says what is left and when it
// resets. The memory store runs on the clock it is given.
func ExampleNewMemoryStore() {
	clock := bulwarktest.NewFakeClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	store, _ := budget.NewMemoryStore(budget.MemoryConfig{Capacity: 10_000, Clock: clock})
	ledger, _ := budget.New(budget.Config{Store: store, Session: budget.Allowance{Calls: 2, Window: 10 * time.Minute}})
	h := budget.Middleware(ledger)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("ok"), nil
	})
	for i := range 3 {
		req := bulwarktest.Request("get_customer", map[string]any{"id": i})
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		_, err := h(ctx, req)
		fmt.Println(err)
		clock.Advance(time.Minute)
	}
	fmt.Println(ledger.Stats().Budget)
	// Output:
	// <nil>
	// <nil>
	// the call budget of this session is used up: 0 of 2 calls per 10m left; retry after 480s
	// 1
}

package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// exampleCall runs one call through h as alice and returns the result and record.
func exampleCall(h mcp.ToolHandler, def *mcp.Tool, args any) (*mcp.CallToolResult, *bulwark.Call) {
	req := bulwarktest.Request(def.Name, args)
	ctx, c := bulwarktest.Context(context.Background(), req, def)
	c.SetPrincipal(&bulwark.Principal{ID: "alice"})
	res, err := h(ctx, req)
	if err != nil {
		fmt.Println("error:", err)
	}
	return res, c
}

func ExampleNew() {
	clock := bulwarktest.NewFakeClock(time.Time{})
	c, err := cache.New(nil, cache.Config{Clock: clock, TTL: bulwark.Fixed(time.Minute)})
	if err != nil {
		panic(err)
	}
	h := cache.Middleware(c)(new(bulwarktest.Recorder).Handle)
	def := &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}

	_, first := exampleCall(h, def, map[string]any{"id": "c-1"})
	_, second := exampleCall(h, def, map[string]any{"id": "c-1"})
	clock.Advance(time.Minute)
	_, third := exampleCall(h, def, map[string]any{"id": "c-1"})
	fmt.Println(first.Field("cache"), second.Field("cache"), third.Field("cache"))
	fmt.Printf("%+v\n", c.Stats())
	// Output:
	// miss hit miss
	// {Hits:1 Misses:2 Shared:0 StaleServed:0 Bypassed:0 Skipped:0 Evictions:0 ShareEvictions:0 Invalidated:0 Errors:0}
}

func ExampleMiddleware() {
	c, _ := cache.New(nil, cache.Config{
		// Entries of get_customer carry the customer's tag...
		Tags: map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")},
		// ...which update_customer_email invalidates before it returns.
		Invalidates: map[string]cache.TagFunc{"update_customer_email": cache.ArgTag("customer", "id")},
		// Clients see how each call was answered.
		ReportStatus: true,
	})
	rec := new(bulwarktest.Recorder)
	h := cache.Middleware(c)(rec.Handle)
	read := &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	write := &mcp.Tool{Name: "update_customer_email"}

	for _, step := range []struct {
		def  *mcp.Tool
		args map[string]any
	}{
		{read, map[string]any{"id": "c-1"}},
		{read, map[string]any{"id": "c-1"}},
		{write, map[string]any{"id": "c-1", "email": "new@example.com"}},
		{read, map[string]any{"id": "c-1"}},
	} {
		res, call := exampleCall(h, step.def, step.args)
		fmt.Println(step.def.Name, call.Field("cache"), res.Meta[cache.MetaKey])
	}
	fmt.Println("handler runs:", len(rec.Calls()))
	// Output:
	// get_customer miss map[status:miss]
	// get_customer hit map[status:hit]
	// update_customer_email bypass <nil>
	// get_customer miss map[status:miss]
	// handler runs: 3
}

func ExampleNewMemoryStore() {
	clock := bulwarktest.NewFakeClock(time.Time{})
	store, err := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 10_000, Clock: clock})
	if err != nil {
		panic(err)
	}
	c, err := cache.New(store, cache.Config{Clock: clock, StaleFor: 10 * time.Minute, TTL: bulwark.Fixed(time.Minute)})
	if err != nil {
		panic(err)
	}
	var down bool
	rec := &bulwarktest.Recorder{Func: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if down {
			return nil, bulwark.Unavailable("customer database unavailable", 0, errors.New("dial tcp: connection refused"))
		}
		return bulwarktest.TextResult("Ada Lovelace"), nil
	}}
	h := cache.Middleware(c)(rec.Handle)
	def := &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}

	exampleCall(h, def, map[string]any{"id": "c-1"})
	down = true
	clock.Advance(3 * time.Minute)
	res, call := exampleCall(h, def, map[string]any{"id": "c-1"})
	fmt.Println(call.Field("cache"), bulwarktest.ResultText(res), res.Meta[cache.MetaKey])
	// Output:
	// stale Ada Lovelace map[ageSeconds:180 status:stale]
}

func ExampleArgTag() {
	tags := cache.ArgTag("customer", "id")
	fmt.Println(tags(context.Background(), bulwarktest.Request("get_customer", map[string]any{"id": "c-42"})))
	fmt.Println(tags(context.Background(), bulwarktest.Request("get_customer", json.RawMessage(`{"id":"c-1","id":"c-2"}`))))
	fmt.Println(tags(context.Background(), bulwarktest.Request("get_customer", map[string]any{"id": nil})))
	// Output:
	// [customer:c-42 customer*]
	// [customer:c-1 customer:c-2 customer*]
	// [customer* customer?]
}

func ExampleCache_Invalidate() {
	c, _ := cache.New(nil, cache.Config{Tags: map[string]cache.TagFunc{"list_customers": func(context.Context, *mcp.CallToolRequest) []string {
		return []string{"customers"}
	}}})
	h := cache.Middleware(c)(new(bulwarktest.Recorder).Handle)
	def := &mcp.Tool{Name: "list_customers", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}

	exampleCall(h, def, nil)
	// Data changed outside any tool call (an import job, say).
	if err := c.Invalidate(context.Background(), "customers"); err != nil {
		panic(err)
	}
	_, call := exampleCall(h, def, nil)
	fmt.Println(call.Field("cache"))
	// Output:
	// miss
}

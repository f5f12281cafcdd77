package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ExampleNewLimiter limits each caller to 2 calls per second and shows
// the refusal a third call gets.
func ExampleNewLimiter() {
	store, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 10_000})
	clock := bulwarktest.NewFakeClock(time.Time{})
	limiter, err := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(2)), Clock: clock})
	if err != nil {
		panic(err)
	}
	req := bulwarktest.Request("search_customers", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	for i := 0; i < 3; i++ {
		d, err := limiter.Allow(ctx, req)
		fmt.Println(d.Allowed, d.Remaining, err)
	}
	// Output:
	// true 1 <nil>
	// true 0 <nil>
	// false 0 rate limit exceeded for this caller; retry after 500ms
}

// ExampleMiddleware installs two limits that every call must pass: 10 calls
// per second per caller and tool, with a lower limit for one expensive
// tool, and 1,000 calls per minute for the whole server.
func ExampleMiddleware() {
	store, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	perTool, err := ratelimit.NewLimiter(store, ratelimit.Config{Key: ratelimit.ByPrincipalAndTool, Limit: bulwark.ByTool(ratelimit.PerSecond(10), map[string]ratelimit.Limit{
		"export_customers": ratelimit.PerMinute(2),
	})})
	if err != nil {
		panic(err)
	}
	global, err := ratelimit.NewLimiter(store, ratelimit.Config{Key: ratelimit.Global, Limit: bulwark.Fixed(ratelimit.PerMinute(1000))})
	if err != nil {
		panic(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "v1"}, nil)
	bulwark.Use(server, ratelimit.Middleware(perTool, global))
	fmt.Println(perTool.Name(), global.Name())
	// Output: principal+tool global
}

// ExampleNewMemoryStore shows that the store stays within its capacity.
func ExampleNewMemoryStore() {
	store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 100})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 1000; i++ {
		b := ratelimit.Bucket{Limiter: "principal", Key: fmt.Sprint("user-", i)}
		store.Allow(context.Background(), b, ratelimit.PerSecond(5), now.Add(time.Duration(i)*time.Second))
	}
	st := store.Stats()
	fmt.Println(st.Buckets, st.Evictions, st.ForcedEvictions)
	// Output: 100 900 0
}

// ExampleNewConcurrency caps one tool at a single call in flight; a second
// call waits up to MaxWait for the slot.
func ExampleNewConcurrency() {
	bulkhead, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{
		PerTool:      20,
		Tools:        map[string]int{"export_customers": 1},
		PerPrincipal: 4,
		MaxWait:      100 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	first, _ := bulkhead.Acquire(ctx, "export_customers", "alice")
	_, err = bulkhead.Acquire(ctx, "export_customers", "bob")
	fmt.Println(err)
	first()
	second, err := bulkhead.Acquire(ctx, "export_customers", "bob")
	fmt.Println(err)
	second()
	// Output:
	// too many concurrent calls of this tool; retry after 1s
	// <nil>
}

// ExampleConcurrencyMiddleware installs a bulkhead server-wide, after rate
// limiting in the default order.
func ExampleConcurrencyMiddleware() {
	bulkhead, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{PerPrincipal: 4})
	if err != nil {
		panic(err)
	}
	store, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	limiter, err := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(10))})
	if err != nil {
		panic(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "v1"}, nil)
	bulwark.Use(server, ratelimit.Middleware(limiter), ratelimit.ConcurrencyMiddleware(bulkhead))
	fmt.Println("installed")
	// Output: installed
}

// ExamplePerMinute shows the limit constructors.
func ExamplePerMinute() {
	fmt.Println(ratelimit.PerSecond(10))
	fmt.Println(ratelimit.PerMinute(30))
	fmt.Println(ratelimit.PerHour(7200))
	fmt.Println(ratelimit.Every(250*time.Millisecond, 8))
	// Output:
	// 10/s burst 10
	// 0.5/s burst 30
	// 2/s burst 7200
	// 4/s burst 8
}

// ExampleLimiter_Allow decides calls one by one, as the middleware does:
// the third call within a second is refused with the time until a token is
// back.
func ExampleLimiter_Allow() {
	store, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	clock := bulwarktest.NewFakeClock(time.Time{})
	limiter, _ := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(2)), Clock: clock})
	for i := 0; i < 3; i++ {
		req := bulwarktest.Request("search_customers", nil)
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		d, err := limiter.Allow(ctx, req)
		fmt.Println(d.Allowed, d.Remaining, err)
	}
	// Output:
	// true 1 <nil>
	// true 0 <nil>
	// false 0 rate limit exceeded for this caller; retry after 500ms
}

// ExampleDistinct finds two limiters that would share buckets before
// Middleware is built, so a server can report the mistake as an error.
func ExampleDistinct() {
	store, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	perSecond, _ := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(5))})
	perHour, _ := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerHour(1000))})
	fmt.Println(ratelimit.Distinct(perSecond, perHour))

	perHour, _ = ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerHour(1000)), Name: "per-hour"})
	fmt.Println(ratelimit.Distinct(perSecond, perHour))
	// Output:
	// ratelimit: two limiters named "principal" share a store; give them distinct names with Config.Name
	// <nil>
}

// ExampleConfig gives callers a limit by tier: callers with the
// "premium" role get a bigger bucket than everyone else.
func ExampleConfig() {
	clock := bulwarktest.NewFakeClock(time.Time{})
	// A nil store: the limiter keeps its buckets in a memory store of its own.
	limiter, err := ratelimit.NewLimiter(nil, ratelimit.Config{Clock: clock, Scope: "your plan", Limit: func(ctx context.Context, _ *mcp.CallToolRequest) ratelimit.Limit {
		if p := bulwark.CallFrom(ctx).Principal(); p.HasRole("premium") {
			return ratelimit.PerMinute(3)
		}
		return ratelimit.PerMinute(1)
	}})
	if err != nil {
		panic(err)
	}
	for _, p := range []*bulwark.Principal{{ID: "free-user"}, {ID: "paying-user", Roles: []string{"premium"}}} {
		req := bulwarktest.Request("search_customers", nil)
		ctx, call := bulwarktest.Context(context.Background(), req, nil)
		call.SetPrincipal(p)
		allowed := 0
		var last error
		for i := 0; i < 5; i++ {
			if _, err := limiter.Allow(ctx, req); err == nil {
				allowed++
			} else {
				last = err
			}
		}
		fmt.Println(p.ID, allowed, last)
	}
	// Output:
	// free-user 1 rate limit exceeded for your plan; retry after 60s
	// paying-user 3 rate limit exceeded for your plan; retry after 20s
}

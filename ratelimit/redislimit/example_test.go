package redislimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/ratelimit/redislimit"
	"github.com/redis/go-redis/v9"
)

// ExampleNew shares limits between instances through Redis and fails
// closed (refuses calls) when Redis cannot be reached. Two limiters on two
// clients stand for two instances: together they allow the burst once.
func ExampleNew() {
	prefix := fmt.Sprintf("example:%d:", time.Now().UnixNano())
	var handlers []func() error
	for range 2 {
		client := redis.NewClient(&redis.Options{
			Addr:                  "127.0.0.1:6379",
			ReadTimeout:           100 * time.Millisecond,
			WriteTimeout:          100 * time.Millisecond,
			ContextTimeoutEnabled: true,
		})
		defer client.Close()
		store, err := redislimit.New(client, redislimit.Config{Prefix: prefix, Timeout: 50 * time.Millisecond})
		if err != nil {
			panic(err)
		}
		limiter, err := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerMinute(2))})
		if err != nil {
			panic(err)
		}
		h := ratelimit.Middleware(limiter)((&bulwarktest.Recorder{}).Handle)
		handlers = append(handlers, func() error {
			req := bulwarktest.Request("search_customers", nil)
			ctx, call := bulwarktest.Context(context.Background(), req, nil)
			call.SetPrincipal(&bulwark.Principal{ID: "alice"})
			_, err := h(ctx, req)
			return err
		})
	}
	fmt.Println(handlers[0]())
	fmt.Println(handlers[1]())
	fmt.Println(bulwark.ErrorOf(handlers[0]()).Code)
	// Output:
	// <nil>
	// <nil>
	// rate_limited
}

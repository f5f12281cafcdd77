package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleNew() {
	r, err := retry.New(retry.Config{
		MaxAttempts:       3,
		Base:              20 * time.Millisecond,
		Cap:               500 * time.Millisecond,
		PerAttemptTimeout: 2 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	attempts := 0
	err = r.Do(context.Background(), func(ctx context.Context) error {
		attempts++
		if attempts == 1 {
			return retry.Safe(errors.New("connection reset before the query was sent"))
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output: 2 <nil>
}

func ExampleRetrier_Do() {
	r, _ := retry.New(retry.Config{})
	attempts := 0
	err := r.Do(context.Background(), func(ctx context.Context) error {
		attempts++
		return bulwark.InvalidArgument("id", "no such customer") // never retried
	})
	fmt.Println(attempts, err)
	// Output: 1 argument "id": no such customer
}

func ExampleNewBudget() {
	// One budget for every Retrier that calls the same dependency.
	b, err := retry.NewBudget(retry.BudgetConfig{Ratio: 0.1, MaxTokens: 1, MinPerSecond: -1})
	if err != nil {
		panic(err)
	}
	r, _ := retry.New(retry.Config{Budget: b, Base: time.Nanosecond, Cap: time.Nanosecond})
	attempts := 0
	for i := 0; i < 100; i++ {
		_ = r.Do(context.Background(), func(context.Context) error {
			attempts++
			return bulwark.Unavailable("db is unavailable", 0, nil)
		})
	}
	fmt.Println(attempts) // 100 calls, 10 retries
	// Output: 110
}

func ExampleMiddleware() {
	r, _ := retry.New(retry.Config{Base: time.Nanosecond, Cap: time.Nanosecond})
	tries := 0
	h := retry.Middleware(r)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		tries++
		if tries < 3 {
			return nil, bulwark.Unavailable("db is unavailable", 0, nil)
		}
		return bulwarktest.TextResult("found"), nil
	})
	getCustomer := &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
	ctx, call := bulwarktest.Context(context.Background(), req, getCustomer)
	res, err := h(ctx, req)
	fmt.Println(bulwarktest.ResultText(res), err, call.Attempts())
	// Output: found <nil> 3
}

func ExampleTransient() {
	fmt.Println(retry.Transient(bulwark.Unavailable("db is unavailable", 0, nil)))
	fmt.Println(retry.Transient(context.DeadlineExceeded))
	fmt.Println(retry.Transient(bulwark.RateLimited("slow down", time.Second)))
	fmt.Println(retry.Transient(errors.New("duplicate key value")))
	// Output:
	// true
	// true
	// false
	// false
}

func ExampleSafe() {
	err := retry.Safe(errors.New("dial tcp: connection refused"))
	fmt.Println(retry.Transient(err), err)
	// Output: true dial tcp: connection refused
}

func ExamplePermanent() {
	err := retry.Permanent(bulwark.Unavailable("quota exhausted for today", 0, nil))
	fmt.Println(retry.Transient(err))
	// Output: false
}

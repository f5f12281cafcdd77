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
	"github.com/redis/go-redis/v9"
)

func ExampleNew() {
	r, err := retry.New(retry.Policy{
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
	r, _ := retry.New(retry.Policy{})
	attempts := 0
	err := r.Do(context.Background(), func(ctx context.Context) error {
		attempts++
		return bulwark.InvalidArgument("id", "no such customer") // never retried
	})
	fmt.Println(attempts, err)
	// Output: 1 argument "id": no such customer
}

func ExampleDo() {
	err := retry.Do(context.Background(), retry.Policy{MaxAttempts: 2, Base: time.Millisecond}, func(ctx context.Context) error {
		return nil
	})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleNewBudget() {
	// One budget for every Retrier that calls the same dependency.
	b, err := retry.NewBudget(retry.BudgetSettings{Ratio: 0.1, MaxTokens: 1, MinPerSecond: -1})
	if err != nil {
		panic(err)
	}
	r, _ := retry.New(retry.Policy{Budget: b, Base: time.Nanosecond, Cap: time.Nanosecond})
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
	r, _ := retry.New(retry.Policy{Base: time.Nanosecond, Cap: time.Nanosecond})
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

func ExampleIdempotency() {
	store, _ := retry.NewMemoryStore(retry.MemoryConfig{})
	writes := 0
	h := retry.Idempotency(store)(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		writes++
		return bulwarktest.TextResult("email updated (key " + retry.KeyFrom(ctx) + ")"), nil
	})
	args := map[string]any{"id": "c-1", "email": "a@example.com", "idempotency_key": "7f3c"}
	for i := 0; i < 2; i++ {
		req := bulwarktest.Request("update_customer_email", args)
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		res, _ := h(ctx, req)
		fmt.Println(bulwarktest.ResultText(res), res.Meta[retry.ReplayMetaKey] == true)
	}
	fmt.Println("writes:", writes)
	// Output:
	// email updated (key 7f3c) false
	// email updated (key 7f3c) true
	// writes: 1
}

func ExampleNewMemoryStore() {
	// 50,000 keys in all, at most 500 of them one principal's.
	store, err := retry.NewMemoryStore(retry.MemoryConfig{MaxEntries: 50000, MaxEntriesPerPrincipal: 500})
	if err != nil {
		panic(err)
	}
	_, claimed, _ := store.Claim(context.Background(), "key", "token", "fingerprint", time.Minute)
	fmt.Println(claimed)
	// A second claim finds the first, pending, with the time it has left.
	e, claimed, _ := store.Claim(context.Background(), "key", "token-2", "fingerprint", time.Minute)
	fmt.Println(claimed, e.Done, e.Remaining <= time.Minute)
	// Output:
	// true
	// false false true
}

func ExampleNewRedisStore() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	store, err := retry.NewRedisStore(rdb, "customers:idempotency:")
	if err != nil {
		panic(err)
	}
	_ = retry.Idempotency(store, retry.WithTTL(24*time.Hour), retry.RequireKey())
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

// RequireKey, applied to the tools whose writes must never repeat, refuses
// their calls without a key; WithKeys reads the key from _meta only.
func ExampleRequireKey() {
	store, _ := retry.NewMemoryStore(retry.MemoryConfig{})
	idem := retry.Idempotency(store, retry.RequireKey(), retry.WithKeys(retry.KeySource{Argument: "-", Meta: "io.example/idempotency-key"}))
	h := idem(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("refund issued"), nil
	})
	req := bulwarktest.Request("issue_refund", map[string]any{"order": "o-1"})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	_, err := h(ctx, req)
	fmt.Println(errors.Is(err, bulwark.CodeInvalidArgument), bulwark.ErrorOf(err).Field)
	req = bulwarktest.Request("issue_refund", map[string]any{"order": "o-1"}, bulwarktest.WithMeta("io.example/idempotency-key", "r-77"))
	ctx, _ = bulwarktest.Context(context.Background(), req, nil)
	res, _ := h(ctx, req)
	fmt.Println(bulwarktest.ResultText(res))
	// Output:
	// true _meta.io.example/idempotency-key
	// refund issued
}

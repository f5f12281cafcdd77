package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleNew() {
	store, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	writes := 0
	once, err := idempotency.New(store, idempotency.Config{})
	if err != nil {
		panic(err)
	}
	h := once(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		writes++
		return bulwarktest.TextResult("email updated (key " + idempotency.KeyFrom(ctx) + ")"), nil
	})
	args := map[string]any{"id": "c-1", "email": "a@example.com", "idempotency_key": "7f3c"}
	for i := 0; i < 2; i++ {
		req := bulwarktest.Request("update_customer_email", args)
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		res, _ := h(ctx, req)
		fmt.Println(bulwarktest.ResultText(res), res.Meta[idempotency.ReplayMetaKey] == true)
	}
	fmt.Println("writes:", writes)
	// Output:
	// email updated (key 7f3c) false
	// email updated (key 7f3c) true
	// writes: 1
}

// RequireKey, applied to the tools whose writes must never repeat, refuses
// their calls without a key; Keys here reads the key from _meta only.
func ExampleNew_requireKey() {
	store, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	idem, _ := idempotency.New(store, idempotency.Config{
		RequireKey: true,
		Keys:       idempotency.KeySource{Argument: "-", Meta: "io.example/idempotency-key"},
	})
	h := idem(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("refund issued"), nil
	})
	req := bulwarktest.Request("issue_refund", map[string]any{"order": "o-1"})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	_, err := h(ctx, req)
	fmt.Println(errors.Is(err, bulwark.CodeInvalidArgument), bulwark.ErrorOf(err).Field)
	req = bulwarktest.Request("issue_refund", map[string]any{"order": "o-1"})
	req.Params.Meta = mcp.Meta{"io.example/idempotency-key": "r-77"}
	ctx, _ = bulwarktest.Context(context.Background(), req, nil)
	res, _ := h(ctx, req)
	fmt.Println(bulwarktest.ResultText(res))
	// Output:
	// true _meta.io.example/idempotency-key
	// refund issued
}

func ExampleNewMemoryStore() {
	// 50,000 keys in all, at most 500 of them one principal's.
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 50000, MaxEntriesPerPrincipal: 500})
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

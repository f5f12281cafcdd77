package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
)

// The layers in the documented order, through a real client: timeout →
// breaker → idempotency → retry → handler.
func TestChainEndToEnd(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Now())
	b, err := breaker.New("notes", breaker.Settings{Clock: clk, Timeout: time.Minute,
		ReadyToTrip: func(c breaker.Counts) bool { return c.ConsecutiveFailures >= 2 }})
	if err != nil {
		t.Fatal(err)
	}
	r := mustNew(t, retry.Policy{Clock: clk, Rand: noJitter})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	var writes, attempts int
	failNext := 1 // the first attempt loses its connection before sending
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "add_note", InputSchema: map[string]any{"type": "object"}, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true)}},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			attempts++
			if failNext > 0 {
				failNext--
				return nil, retry.Safe(errors.New("connection reset before write"))
			}
			writes++
			return bulwarktest.TextResult("note added with key " + retry.KeyFrom(ctx)), nil
		})
	bulwark.Use(s, bulwark.Timeout(bulwark.Fixed(time.Minute)), breaker.Middleware(b), retry.Idempotency(mustMemory(t, clk), retry.WithClock(clk)), retry.Middleware(r))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	args := map[string]any{"text": "hello", "idempotency_key": "n-1"}

	res, err := bulwarktest.CallTool(ctx, cs, "add_note", args)
	if err != nil || res.IsError || bulwarktest.ResultText(res) != "note added with key n-1" || attempts != 2 || writes != 1 {
		t.Fatalf("first call: %q %v (attempts %d, writes %d)", bulwarktest.ResultText(res), err, attempts, writes)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "add_note", args)
	if err != nil || bulwarktest.ResultText(res) != "note added with key n-1" || writes != 1 || res.Meta[retry.ReplayMetaKey] != true {
		t.Fatalf("duplicate: %q %v %v (writes %d)", bulwarktest.ResultText(res), err, res.Meta, writes)
	}
	// Without a key the destructive tool is not retried: one attempt, and
	// its failure reaches the breaker once.
	failNext = 10
	attempts = 0
	for i := 0; i < 2; i++ {
		if _, err := bulwarktest.CallTool(ctx, cs, "add_note", map[string]any{"text": "x"}); err == nil {
			t.Fatal("failure not reported")
		}
	}
	if attempts != 2 || b.State() != breaker.StateOpen {
		t.Fatalf("attempts %d (want 2, no retries), breaker %s", attempts, b.State())
	}
	// Open: refused at once, even for a keyed call that would be retried.
	res, err = bulwarktest.CallTool(ctx, cs, "add_note", map[string]any{"text": "y", "idempotency_key": "n-2"})
	if ref := bulwark.RefusalOf(res, err); ref == nil || ref.Code != bulwark.CodeUnavailable || ref.RetryAfterSeconds != 60 || attempts != 2 {
		t.Fatalf("open breaker: %+v %v, attempts %d", ref, err, attempts)
	}
}

// When Redis is cut off, Idempotency refuses keyed calls (it fails
// closed) instead of running them unprotected, and recovers with Redis.
func TestIdempotencyRedisCut(t *testing.T) {
	proxy := bulwarktest.NewProxy(t, testenv.RedisAddr(t))
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	store, err := retry.NewRedisStore(rdb, testenv.RedisPrefix(t))
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	h := retry.Idempotency(store)(c.handle)
	args := map[string]any{"idempotency_key": "k"}
	if _, err, _ := call(t, h, "alice", args); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	_, err, _ = call(t, h, "alice", map[string]any{"idempotency_key": "k2"})
	if !errors.Is(err, bulwark.CodeUnavailable) || c.n.Load() != 1 {
		t.Fatalf("store cut: %v, runs %d", err, c.n.Load())
	}
	proxy.Restore()
	res, err, _ := call(t, h, "alice", args)
	if err != nil || !replayed(res) || c.n.Load() != 1 {
		t.Fatalf("after restore: %v %v, runs %d", res, err, c.n.Load())
	}
}

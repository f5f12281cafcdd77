package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/redisidem"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
)

// A replay from the memory store of a ~1 KiB result.
func BenchmarkIdempotencyReplay(b *testing.B) {
	store := mustMemory(b, nil)
	res := bulwarktest.TextResult(strings.Repeat("x", 1024))
	h := layer(b, store, idempotency.Config{})(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return res, nil })
	req := bulwarktest.Request("update", map[string]any{"id": "c-1", "email": "a@example.com", "idempotency_key": "k-1"})
	ctx, _ := bulwarktest.Context(context.Background(), req, destructive)
	_, _ = h(ctx, req)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h(ctx, req)
	}
}

// Many goroutines, few keys, a small bounded store: each key's handler
// runs exactly once while its entry lives.
func TestIdempotencyStress(t *testing.T) {
	store, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 64, MaxEntriesPerPrincipal: 64})
	var mu sync.Mutex
	runs := map[string]int{}
	h := layer(t, store, idempotency.Config{PollInterval: time.Microsecond})(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		mu.Lock()
		runs[idempotency.KeyFrom(ctx)]++
		mu.Unlock()
		return bulwarktest.TextResult(idempotency.KeyFrom(ctx)), nil
	})
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				key := fmt.Sprintf("k%d", (g+i)%20)
				res, err, _ := call(t, h, "alice", map[string]any{"idempotency_key": key, "v": key})
				if err != nil || bulwarktest.ResultText(res) != key {
					t.Errorf("key %s: %v %v", key, bulwarktest.ResultText(res), err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	for k, n := range runs {
		if n != 1 {
			t.Errorf("key %s ran %d times", k, n)
		}
	}
	if len(runs) != 20 {
		t.Errorf("%d keys ran, want 20", len(runs))
	}
}

// When Redis is cut off, Idempotency refuses keyed calls (it fails
// closed) instead of running them unprotected, and recovers with Redis.
func TestIdempotencyRedisCut(t *testing.T) {
	proxy, err := bulwarktest.StartProxy("127.0.0.1:0", testenv.RedisAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	store, err := redisidem.New(rdb, redisidem.Config{Prefix: testenv.RedisPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	h := layer(t, store, idempotency.Config{})(c.handle)
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

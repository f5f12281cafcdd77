package retry_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The retry layer's overhead when the first attempt succeeds, against
// BenchmarkBareHandler.
func BenchmarkMiddlewareNoRetry(b *testing.B) {
	r, _ := retry.New(retry.Policy{})
	bulwarktest.BenchLayer(b, retry.Middleware(r), bulwarktest.Request("get", nil), readOnly)
}

func BenchmarkBareHandler(b *testing.B) {
	bulwarktest.BenchLayer(b, nil, bulwarktest.Request("get", nil), readOnly)
}

func BenchmarkDoNoRetry(b *testing.B) {
	r, _ := retry.New(retry.Policy{})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Do(ctx, fn)
	}
}

// A replay from the memory store of a ~1 KiB result.
func BenchmarkIdempotencyReplay(b *testing.B) {
	store := mustMemory(b, nil)
	res := bulwarktest.TextResult(strings.Repeat("x", 1024))
	h := retry.Idempotency(store)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return res, nil })
	req := bulwarktest.Request("update", map[string]any{"id": "c-1", "email": "a@example.com", "idempotency_key": "k-1"})
	ctx, _ := bulwarktest.Context(context.Background(), req, destructive)
	_, _ = h(ctx, req)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h(ctx, req)
	}
}

// Many goroutines share one Retrier and budget with mixed outcomes: no
// race, and the budget bound holds under concurrency.
func TestStress(t *testing.T) {
	r := mustNew(t, retry.Policy{Rand: noJitter, Clock: instantClock{}})
	var calls, attempts atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				calls.Add(1)
				_ = r.Do(context.Background(), func(context.Context) error {
					attempts.Add(1)
					return errUnavailable
				})
			}
		}()
	}
	wg.Wait()
	if a, c := attempts.Load(), calls.Load(); a > c*11/10 {
		t.Fatalf("%d attempts for %d calls under concurrency", a, c)
	}
}

// Many goroutines, few keys, a small bounded store: each key's handler
// runs exactly once while its entry lives.
func TestIdempotencyStress(t *testing.T) {
	store, _ := retry.NewMemoryStore(retry.MemoryConfig{MaxEntries: 64, MaxEntriesPerPrincipal: 64})
	var mu sync.Mutex
	runs := map[string]int{}
	h := retry.Idempotency(store, retry.WithPollInterval(time.Microsecond))(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		mu.Lock()
		runs[retry.KeyFrom(ctx)]++
		mu.Unlock()
		return bulwarktest.TextResult(retry.KeyFrom(ctx)), nil
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

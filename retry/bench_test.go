package retry_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/retry"
)

// The retry layer's overhead when the first attempt succeeds, against
// BenchmarkBareHandler.
func BenchmarkMiddlewareNoRetry(b *testing.B) {
	r, _ := retry.New(retry.Config{})
	bulwarktest.BenchLayer(b, retry.Middleware(r), bulwarktest.Request("get", nil), readOnly)
}

func BenchmarkBareHandler(b *testing.B) {
	bulwarktest.BenchLayer(b, nil, bulwarktest.Request("get", nil), readOnly)
}

func BenchmarkDoNoRetry(b *testing.B) {
	r, _ := retry.New(retry.Config{})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Do(ctx, fn)
	}
}

// Many goroutines share one Retrier and budget with mixed outcomes: no
// race, and the budget bound holds under concurrency.
func TestStress(t *testing.T) {
	r := mustNew(t, retry.Config{Rand: noJitter, Clock: instantClock{}})
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

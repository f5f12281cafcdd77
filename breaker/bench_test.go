package breaker_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/sony/gobreaker/v2"
)

func BenchmarkExecuteClosed(b *testing.B) {
	br, _ := breaker.New("db", breaker.Config{})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Execute(ctx, fn)
	}
}

// The middleware's overhead: a closed breaker around a trivial handler,
// against the bare handler in BenchmarkBareHandler.
func BenchmarkMiddlewareClosed(b *testing.B) {
	br, _ := breaker.New("db", breaker.Config{})
	bulwarktest.BenchLayer(b, breaker.Middleware(br), bulwarktest.Request("t", nil), nil)
}

func BenchmarkBareHandler(b *testing.B) {
	bulwarktest.BenchLayer(b, nil, bulwarktest.Request("t", nil), nil)
}

func BenchmarkExecuteOpen(b *testing.B) {
	br, _ := breaker.New("db", breaker.Config{})
	br.ForceOpen()
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Execute(ctx, fn)
	}
}

func BenchmarkExecuteClosedParallel(b *testing.B) {
	br, _ := breaker.New("db", breaker.Config{})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = br.Execute(ctx, fn)
		}
	})
}

// gobreaker's own two-step cost, for comparison: what Breaker adds is the
// difference to BenchmarkExecuteClosed. gobreaker reads time.Now twice per
// call, which dominates on machines with a slow clock source.
func BenchmarkGobreakerTwoStep(b *testing.B) {
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{Name: "db"})
	b.ReportAllocs()
	for b.Loop() {
		done, err := cb.Allow()
		if err == nil {
			done(nil)
		}
	}
}

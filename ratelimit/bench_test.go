package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// generous never refuses within a benchmark's run.
var generous = ratelimit.Limit{Rate: 1e6, Burst: 1 << 30}

func BenchmarkMemoryStoreAllow(b *testing.B) {
	s := memStore(b)
	ctx := context.Background()
	bk := ratelimit.Bucket{Limiter: "principal", Key: "alice"}
	now := time.Now()
	s.Allow(ctx, bk, generous, now)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Allow(ctx, bk, generous, now)
	}
}

func BenchmarkMemoryStoreAllowParallel(b *testing.B) {
	s := memStore(b)
	ctx := context.Background()
	keys := make([]ratelimit.Bucket, 1024)
	for i := range keys {
		keys[i] = ratelimit.Bucket{Limiter: "principal", Key: "user-" + strconv.Itoa(i)}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Allow(ctx, keys[i&1023], generous, time.Now())
			i++
		}
	})
}

// BenchmarkLimiterAllow is the in-process decision as the middleware makes
// it: key from the call record, limit, clock, memory store.
func BenchmarkLimiterAllow(b *testing.B) {
	l := newLimiter(b, memStore(b), ratelimit.Config{Limit: bulwark.Fixed(generous)})
	req := bulwarktest.Request("search", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	l.Allow(ctx, req)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Allow(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLimiterAllowPrincipalAndTool(b *testing.B) {
	l := newLimiter(b, memStore(b), ratelimit.Config{Limit: bulwark.Fixed(generous), Key: ratelimit.ByPrincipalAndTool})
	req := bulwarktest.Request("search", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Allow(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMiddleware(b *testing.B) {
	l := newLimiter(b, memStore(b), ratelimit.Config{Limit: bulwark.Fixed(generous)})
	ok := bulwarktest.TextResult("ok")
	h := ratelimit.Middleware(l)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return ok, nil })
	req := bulwarktest.Request("search", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConcurrencyAcquireRelease(b *testing.B) {
	c, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{PerTool: 100, PerPrincipal: 10})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := c.Acquire(ctx, "search", "alice")
		if err != nil {
			b.Fatal(err)
		}
		p()
	}
}

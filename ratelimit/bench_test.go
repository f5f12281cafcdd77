package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/go-redis/redis_rate/v10"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// generous never refuses within a benchmark's run.
var generous = ratelimit.Limit{Rate: ratelimit.MaxRate, Burst: 1 << 30}

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
	l := newLimiter(b, memStore(b), ratelimit.WithLimit(generous))
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
	l := newLimiter(b, memStore(b), ratelimit.WithLimit(generous), ratelimit.WithKey(ratelimit.ByPrincipalAndTool))
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
	l := newLimiter(b, memStore(b), ratelimit.WithLimit(generous))
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
	c, err := ratelimit.NewConcurrency(ratelimit.ConcurrencySettings{PerTool: 100, PerPrincipal: 10})
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
		p.Release()
	}
}

// BenchmarkRedis compares this package's script with redis_rate on the same
// Redis in the same run; each decision is one round trip.
func BenchmarkRedis(b *testing.B) {
	client := testenv.NewRedis(b)
	prefix := testenv.RedisPrefix(b)
	ctx := context.Background()
	b.Run("store", func(b *testing.B) {
		s, err := ratelimit.NewRedisStore(client, ratelimit.RedisOptions{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		bk := ratelimit.Bucket{Limiter: "bench", Key: "alice"}
		lim := ratelimit.Limit{Rate: 1e6, Burst: 1 << 20}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := s.Allow(ctx, bk, lim, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/decision")
	})
	b.Run("redis_rate", func(b *testing.B) {
		rl := redis_rate.NewLimiter(client)
		lim := redis_rate.Limit{Rate: 1e6, Burst: 1 << 20, Period: time.Second}
		key := prefix + "redis_rate:alice"
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := rl.Allow(ctx, key, lim); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/decision")
		client.Del(ctx, "rate:"+key)
	})
}

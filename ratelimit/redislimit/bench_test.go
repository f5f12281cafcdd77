package redislimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/ratelimit/redislimit"
	"github.com/go-redis/redis_rate/v10"
)

// BenchmarkRedis compares this package's script with redis_rate on the same
// Redis in the same run; each decision is one round trip.
func BenchmarkRedis(b *testing.B) {
	client := testenv.NewRedis(b)
	prefix := testenv.RedisPrefix(b)
	ctx := context.Background()
	b.Run("store", func(b *testing.B) {
		s, err := redislimit.New(client, redislimit.Config{Prefix: prefix})
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

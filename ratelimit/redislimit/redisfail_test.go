package redislimit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/ratelimit/redislimit"
	"github.com/redis/go-redis/v9"
)

// proxiedRedis returns a client that reaches the local Redis through a
// fault proxy the test owns, with timeouts short enough for a unit test.
func proxiedRedis(t *testing.T) (*redis.Client, *bulwarktest.Proxy) {
	t.Helper()
	p, err := bulwarktest.StartProxy("127.0.0.1:0", testenv.RedisAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := redis.NewClient(&redis.Options{
		Addr:                  p.Addr(),
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           200 * time.Millisecond,
		WriteTimeout:          200 * time.Millisecond,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // one attempt: the limiter decides what a failure means
	})
	t.Cleanup(func() { c.Close() })
	return c, p
}

func TestRedisUnreachable(t *testing.T) {
	faults := []struct {
		name   string
		inject func(*bulwarktest.Proxy)
	}{
		{"cut", (*bulwarktest.Proxy).Cut},
		{"blackhole", (*bulwarktest.Proxy).Blackhole},
	}
	modes := []struct {
		name string
		open bool
	}{
		{"closed", false},
		{"open", true},
	}
	for _, f := range faults {
		for _, m := range modes {
			t.Run(f.name+"/"+m.name, func(t *testing.T) {
				client, proxy := proxiedRedis(t)
				store, err := redislimit.New(client, redislimit.Config{
					Prefix:   testenv.RedisPrefix(t),
					FailOpen: m.open,
					Timeout:  300 * time.Millisecond,
				})
				if err != nil {
					t.Fatal(err)
				}
				l := newLimiter(t, store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: 1})})
				h := ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle)

				// Healthy: the limit holds.
				if _, err := callAs(h, "a", "t"); err != nil {
					t.Fatalf("healthy first call: %v", err)
				}
				if _, err := callAs(h, "a", "t"); !errors.Is(err, bulwark.CodeRateLimited) {
					t.Fatalf("healthy second call: %v", err)
				}

				f.inject(proxy)
				began := time.Now()
				_, err = callAs(h, "b", "t")
				if took := time.Since(began); took > 2*time.Second {
					t.Errorf("decision took %v with Redis unreachable", took)
				}
				st := store.Stats()
				if st.Failures != 1 {
					t.Fatalf("store stats %+v, want one failure", st)
				}
				switch m.open {
				case false:
					if !errors.Is(err, bulwark.CodeUnavailable) {
						t.Fatalf("fail closed: %v, want unavailable", err)
					}
					if strings.Contains(err.Error(), "redis") || strings.Contains(err.Error(), "127.0.0.1") {
						t.Fatalf("client text %q leaks detail", err.Error())
					}
					if l.Stats().Failed != 1 || st.FailedOpen != 0 {
						t.Fatalf("limiter %+v store %+v", l.Stats(), st)
					}
				case true:
					if err != nil {
						t.Fatalf("fail open: %v, want the call through", err)
					}
					if st.FailedOpen != 1 {
						t.Fatalf("store stats %+v, want one failed-open decision", st)
					}
				}

				// Recovery: the limit holds again, and the bucket that was
				// drained before the outage is still drained.
				proxy.Restore()
				deadline := time.Now().Add(5 * time.Second)
				for {
					_, err = callAs(h, "a", "t")
					if errors.Is(err, bulwark.CodeRateLimited) || time.Now().After(deadline) {
						break
					}
				}
				if !errors.Is(err, bulwark.CodeRateLimited) {
					t.Fatalf("after restore: %v, want a's bucket still drained", err)
				}
			})
		}
	}
}

// A call whose own deadline passes while Redis decides is refused as out
// of time under either failure mode: it is neither a Redis failure nor a reason to
// let the call through.
func TestRedisCancelledCallIsNotAFailure(t *testing.T) {
	for _, open := range []bool{false, true} {
		client, proxy := proxiedRedis(t)
		store, err := redislimit.New(client, redislimit.Config{Prefix: testenv.RedisPrefix(t), FailOpen: open})
		if err != nil {
			t.Fatal(err)
		}
		l := newLimiter(t, store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(1))})
		rec := &bulwarktest.Recorder{}
		h := ratelimit.Middleware(l)(rec.Handle)
		proxy.Blackhole()
		req := bulwarktest.Request("t", map[string]any{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		ctx, call := bulwarktest.Context(ctx, req, nil)
		call.SetPrincipal(&bulwark.Principal{ID: "a"})
		_, err = h(ctx, req)
		cancel()
		if !errors.Is(err, bulwark.CodeDeadlineExceeded) || len(rec.Calls()) != 0 {
			t.Fatalf("FailOpen %v: err %v, handler ran %d times; want a deadline-exceeded refusal", open, err, len(rec.Calls()))
		}
		if st := store.Stats(); st.Failures != 0 || st.FailedOpen != 0 {
			t.Fatalf("FailOpen %v: store stats %+v, want no failure", open, st)
		}
		if st := l.Stats(); st.Failed != 0 {
			t.Fatalf("FailOpen %v: limiter stats %+v", open, st)
		}
	}
}

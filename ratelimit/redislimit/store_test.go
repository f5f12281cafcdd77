package redislimit_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/ratelimit/ratelimittest"
	"github.com/bulwark-mcp/bulwark/ratelimit/redislimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-redis keeps a pool reaper per client until Close, and the
		// shared test client lives for the whole run.
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/maintnotifications.(*CircuitBreakerManager).cleanupLoop"),
	)
}

func newLimiter(t testing.TB, store ratelimit.Store, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.NewLimiter(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// callAs runs one call of tool as principal (empty: anonymous) through h.
func callAs(h mcp.ToolHandler, principal, tool string) (*mcp.CallToolResult, error) {
	req := bulwarktest.Request(tool, map[string]any{})
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	if principal != "" {
		call.SetPrincipal(&bulwark.Principal{ID: principal})
	}
	return h(ctx, req)
}

func TestConformance(t *testing.T) {
	client := testenv.NewRedis(t)
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := redislimit.New(client, redislimit.Config{
			Prefix:         testenv.RedisPrefix(t),
			UseCallerClock: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestRedisSharedGlobalCount runs two limiters, as two instances would,
// each with its own Redis client, against one Redis and 64 goroutines:
// together they allow exactly the burst, as one limiter would.
func TestRedisSharedGlobalCount(t *testing.T) {
	prefix := testenv.RedisPrefix(t)
	addr := testenv.RedisAddr(t)
	const burst = 200
	var handlers [2]mcp.ToolHandler
	rec := &bulwarktest.Recorder{}
	for i := range handlers {
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
		t.Cleanup(func() { c.Close() })
		s, err := redislimit.New(c, redislimit.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		l := newLimiter(t, s, ratelimit.Config{Key: ratelimit.Global, Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: burst})})
		handlers[i] = ratelimit.Middleware(l)(rec.Handle)
	}
	var refused atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				_, err := callAs(handlers[g%2], "p"+strconv.Itoa(g), "t")
				if err != nil {
					if !errors.Is(err, bulwark.CodeRateLimited) {
						t.Error(err)
					}
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if len(rec.Calls()) != burst || refused.Load() != 512-burst {
		t.Fatalf("two instances let %d of 512 calls through (refused %d), want exactly %d", len(rec.Calls()), refused.Load(), burst)
	}
}

// TestRedisServerClock checks the default mode, where the script reads the
// time from Redis: the limiter's own time is ignored.
func TestRedisServerClock(t *testing.T) {
	client := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, err := redislimit.New(client, redislimit.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	b := ratelimit.Bucket{Limiter: "server-clock", Key: "dave"}
	for i := 0; i < 2; i++ {
		if d, err := s.Allow(ctx, b, l, time.Time{}); err != nil || !d.Allowed {
			t.Fatalf("call %d: %+v %v", i+1, d, err)
		}
	}
	// A caller clock far in the future does not refill the bucket.
	d, err := s.Allow(ctx, b, l, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("third call: %+v, want refused with RetryAfter in (0, 1s]", d)
	}
	// The key expires once the bucket would be full again (2s from now).
	ttl, err := client.PTTL(ctx, prefix+"server-clock:dave").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 2100*time.Millisecond {
		t.Fatalf("bucket key TTL %v, want in (0, 2.1s]", ttl)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := redislimit.New(nil, redislimit.Config{}); err == nil {
		t.Error("nil client accepted")
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []redislimit.Config{{Timeout: -1}} {
		if _, err := redislimit.New(c, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// countingHook counts the commands a client sends.
type countingHook struct {
	mu   sync.Mutex
	cmds []string
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.cmds = append(h.cmds, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.cmds = append(h.cmds, "pipeline")
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestRedisOneRoundTrip checks that a decision is a single command once
// the script is cached on the server.
func TestRedisOneRoundTrip(t *testing.T) {
	client := testenv.NewRedis(t)
	s, err := redislimit.New(client, redislimit.Config{Prefix: testenv.RedisPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := ratelimit.Bucket{Limiter: "rt", Key: "erin"}
	l := ratelimit.PerSecond(100)
	if _, err := s.Allow(ctx, b, l, time.Time{}); err != nil { // loads the script if needed
		t.Fatal(err)
	}
	hook := &countingHook{}
	client.AddHook(hook)
	for i := 0; i < 5; i++ {
		if _, err := s.Allow(ctx, b, l, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(hook.cmds) != 5 {
		t.Fatalf("5 decisions sent %d commands %v, want 5", len(hook.cmds), hook.cmds)
	}
	for _, c := range hook.cmds {
		if c != "evalsha" {
			t.Fatalf("decision sent %q, want evalsha", c)
		}
	}
}

package ratelimit_test

import (
	"context"
	"errors"
	"runtime"
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
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
)

func TestMemoryStoreConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := ratelimit.NewMemoryStore(0)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMemoryStoreSmallCapacityConformance(t *testing.T) {
	// A store far smaller than the suite's key count still conforms:
	// evicting buckets must never give a caller more than its limit
	// beyond what forced evictions report.
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := ratelimit.NewMemoryStore(64)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRedisStoreConformance(t *testing.T) {
	client := testenv.NewRedis(t)
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := ratelimit.NewRedisStore(client, ratelimit.RedisOptions{
			Prefix:         testenv.RedisPrefix(t),
			UseCallerClock: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewMemoryStoreRejectsNegativeCapacity(t *testing.T) {
	if _, err := ratelimit.NewMemoryStore(-1); err == nil {
		t.Fatal("NewMemoryStore(-1) succeeded")
	}
}

// TestMemoryStoreBounded sends a million distinct principals through a
// store of capacity 10,000: the bucket count never exceeds the capacity,
// and neither does the heap grow with the number of keys.
func TestMemoryStoreBounded(t *testing.T) {
	const capacity = 10_000
	keys := 1_000_000
	if raceEnabled {
		keys = 250_000 // the same code paths; the full million runs without -race
	}
	s, err := ratelimit.NewMemoryStore(capacity)
	if err != nil {
		t.Fatal(err)
	}
	l := ratelimit.PerSecond(10)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	var seq atomic.Int64
	fill := func(from, to int) {
		var buf [24]byte
		for i := from; i < to; i++ {
			key := string(strconv.AppendInt(append(buf[:0], 'p'), int64(i), 10))
			// Time moves on a second every 1,000 keys, so a bucket is
			// about ten seconds old, and long full again, when it is
			// evicted: no eviction should be forced.
			at := now.Add(time.Duration(seq.Add(1)/1000) * time.Second)
			if _, err := s.Allow(ctx, ratelimit.Bucket{Limiter: "p", Key: key}, l, at); err != nil {
				panic(err)
			}
		}
	}
	fill(0, 2*capacity)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var wg sync.WaitGroup
	const workers = 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per := (keys - 2*capacity) / workers
			fill(2*capacity+w*per, 2*capacity+(w+1)*per)
		}()
	}
	wg.Wait()

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := s.Stats()
	if st.Buckets > capacity {
		t.Fatalf("store holds %d buckets, capacity %d", st.Buckets, capacity)
	}
	if st.Evictions < uint64(keys-capacity) {
		t.Errorf("evictions = %d, want at least %d", st.Evictions, keys-capacity)
	}
	if st.ForcedEvictions != 0 {
		t.Errorf("%d forced evictions of buckets that had time to refill", st.ForcedEvictions)
	}
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	// A full store of 10,000 buckets takes a few MB; a store that kept
	// every key would take hundreds.
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d bytes over %d keys beyond a full store", growth, keys)
	}
	t.Logf("buckets %d, evictions %d, forced %d, heap growth %d bytes", st.Buckets, st.Evictions, st.ForcedEvictions, growth)
}

// TestMemoryStoreForcedEvictions fills a small store with drained buckets
// and checks that pushing them out is counted, and that dropping full ones
// is not.
func TestMemoryStoreForcedEvictions(t *testing.T) {
	s, err := ratelimit.NewMemoryStore(4)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ {
		s.Allow(ctx, ratelimit.Bucket{Key: strconv.Itoa(i)}, l, now) // each drained
	}
	// Two more keys at the same instant push out two drained buckets.
	s.Allow(ctx, ratelimit.Bucket{Key: "x"}, l, now)
	s.Allow(ctx, ratelimit.Bucket{Key: "y"}, l, now)
	if st := s.Stats(); st.Evictions != 2 || st.ForcedEvictions != 2 {
		t.Fatalf("stats %+v, want 2 evictions, both forced", st)
	}
	// Ten seconds later every bucket is full: evicting them is free.
	later := now.Add(10 * time.Second)
	s.Allow(ctx, ratelimit.Bucket{Key: "z1"}, l, later)
	s.Allow(ctx, ratelimit.Bucket{Key: "z2"}, l, later)
	if st := s.Stats(); st.Evictions != 4 || st.ForcedEvictions != 2 {
		t.Fatalf("stats %+v, want 4 evictions, 2 forced", st)
	}
	if st := s.Stats(); st.Buckets != 4 || st.Capacity != 4 {
		t.Fatalf("stats %+v, want 4 buckets of capacity 4", st)
	}
}

func TestMemoryStorePrune(t *testing.T) {
	s, _ := ratelimit.NewMemoryStore(100)
	ctx := context.Background()
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Allow(ctx, ratelimit.Bucket{Key: "old"}, l, now)
	s.Allow(ctx, ratelimit.Bucket{Key: "new"}, l, now.Add(5*time.Second))
	// At now+5.5s "old" is full again (one token back after 1s), "new" is not.
	if n := s.Prune(now.Add(5500 * time.Millisecond)); n != 1 {
		t.Fatalf("Prune dropped %d, want 1", n)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d after prune, want 1", s.Len())
	}
	if st := s.Stats(); st.ForcedEvictions != 0 {
		t.Fatalf("pruning full buckets counted as forced: %+v", st)
	}
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
		s, err := ratelimit.NewRedisStore(c, ratelimit.RedisOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		l := newLimiter(t, s, ratelimit.WithKey(ratelimit.Global), ratelimit.WithLimit(ratelimit.Limit{Rate: 0.001, Burst: burst}))
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
	if rec.Count() != burst || refused.Load() != 512-burst {
		t.Fatalf("two instances let %d of 512 calls through (refused %d), want exactly %d", rec.Count(), refused.Load(), burst)
	}
}

// TestRedisServerClock checks the default mode, where the script reads the
// time from Redis: the limiter's own time is ignored.
func TestRedisServerClock(t *testing.T) {
	client := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, err := ratelimit.NewRedisStore(client, ratelimit.RedisOptions{Prefix: prefix})
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

func TestNewRedisStoreValidates(t *testing.T) {
	if _, err := ratelimit.NewRedisStore(nil, ratelimit.RedisOptions{}); err == nil {
		t.Error("nil client accepted")
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []ratelimit.RedisOptions{{OnFailure: 7}, {Timeout: -1}} {
		if _, err := ratelimit.NewRedisStore(c, o); err == nil {
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
	s, err := ratelimit.NewRedisStore(client, ratelimit.RedisOptions{Prefix: testenv.RedisPrefix(t)})
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

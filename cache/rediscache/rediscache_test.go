package rediscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/rediscache"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
)

// instance is one server process: its own Redis client, cache and handler.
type instance struct {
	c   *cache.Cache
	rec *bulwarktest.Recorder
	h   mcp.ToolHandler
}

func newInstance(t *testing.T, client redis.UniversalClient, prefix, answer string) *instance {
	t.Helper()
	store, err := rediscache.New(client, rediscache.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(store, cache.Config{
		Tags:        map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")},
		Invalidates: map[string]cache.TagFunc{"update_customer": cache.ArgTag("customer", "id")},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &bulwarktest.Recorder{Result: bulwarktest.TextResult(answer)}
	h := cache.Middleware(c)(rec.Handle)
	return &instance{c: c, rec: rec, h: h}
}

func (in *instance) call(t *testing.T, tool, id string) (string, *bulwark.Call, error) {
	t.Helper()
	req := bulwarktest.Request(tool, map[string]any{"id": id})
	def := readOnly(tool)
	if tool == "update_customer" {
		def = writeTool(tool)
	}
	ctx, c := bulwarktest.Context(context.Background(), req, def)
	c.SetPrincipal(alice)
	res, err := in.h(ctx, req)
	return bulwarktest.ResultText(res), c, err
}

func TestRedisSharedBetweenInstances(t *testing.T) {
	prefix := testenv.RedisPrefix(t)
	a := newInstance(t, testenv.NewRedis(t), prefix, "from A")
	b := newInstance(t, testenv.NewRedis(t), prefix, "from B")

	if got, _, _ := a.call(t, "get_customer", "c-1"); got != "from A" {
		t.Fatalf("A: %q", got)
	}
	got, c, err := b.call(t, "get_customer", "c-1")
	if err != nil || got != "from A" || c.Field("cache") != "hit" || len(b.rec.Calls()) != 0 {
		t.Fatalf("B did not share A's entry: %q, %v, %q, B ran %d", got, err, c.Field("cache"), len(b.rec.Calls()))
	}
	// A write on B invalidates for A too, before B's write returns.
	if _, _, err := b.call(t, "update_customer", "c-1"); err != nil {
		t.Fatal(err)
	}
	if got, c, _ := a.call(t, "get_customer", "c-1"); got != "from A" || c.Field("cache") != "miss" || len(a.rec.Calls()) != 2 {
		t.Fatalf("A after B's write: %q, %q, A ran %d", got, c.Field("cache"), len(a.rec.Calls()))
	}
	// Another record is untouched.
	a.call(t, "get_customer", "c-2")
	if _, c, _ := b.call(t, "get_customer", "c-2"); c.Field("cache") != "hit" {
		t.Fatalf("c-2 on B: %q", c.Field("cache"))
	}
}

func TestRedisKeysHoldNoArgumentsOrPrincipals(t *testing.T) {
	prefix := testenv.RedisPrefix(t)
	client := testenv.NewRedis(t)
	in := newInstance(t, client, prefix, "x")
	in.call(t, "get_customer", "secret-customer-id")
	in.call(t, "update_customer", "secret-customer-id")
	keys, err := client.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 2 {
		t.Fatalf("keys %v: want an entry and a generation", keys)
	}
	for _, k := range keys {
		for _, secret := range []string{"secret", "alice", "customer", "get_customer"} {
			if contains(k[len(prefix):], secret) {
				t.Fatalf("key %q holds %q in clear", k, secret)
			}
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestRedisFailOpenThroughProxy(t *testing.T) {
	addr := testenv.RedisAddr(t)
	prefix := testenv.RedisPrefix(t)
	proxy, err := bulwarktest.StartProxy("127.0.0.1:0", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	client := redis.NewClient(&redis.Options{
		// A cut fails at once; the timeouts only have to outlast a busy
		// machine, so that a slow healthy round trip is not a failure.
		Addr: proxy.Addr(), DialTimeout: 5 * time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxRetries: -1,
	})
	t.Cleanup(func() { client.Close() })
	in := newInstance(t, client, prefix, "answer")

	in.call(t, "get_customer", "c-1")
	if _, c, _ := in.call(t, "get_customer", "c-1"); c.Field("cache") != "hit" {
		t.Fatalf("healthy Redis: %q", c.Field("cache"))
	}

	proxy.Cut()
	for i := 0; i < 3; i++ {
		got, c, err := in.call(t, "get_customer", "c-1")
		if err != nil || got != "answer" || c.Field("cache") != "miss" {
			t.Fatalf("Redis down, call %d: %q, %v, %q", i, got, err, c.Field("cache"))
		}
	}
	// A write still returns its result; the failed invalidation is recorded.
	got, c, err := in.call(t, "update_customer", "c-1")
	if err != nil || got != "answer" || c.Fields()["cache_invalidation"] != "failed" {
		t.Fatalf("write with Redis down: %q, %v, %v", got, err, c.Fields())
	}
	if st := in.c.Stats(); st.Errors < 4 || st.Misses < 3 {
		t.Fatalf("stats %+v", st)
	}

	proxy.Restore()
	in.call(t, "get_customer", "c-1")
	if _, c, _ := in.call(t, "get_customer", "c-1"); c.Field("cache") != "hit" {
		t.Fatalf("after restore: %q", c.Field("cache"))
	}
}

func TestRedisCorruptEntryIsAMiss(t *testing.T) {
	prefix := testenv.RedisPrefix(t)
	client := testenv.NewRedis(t)
	in := newInstance(t, client, prefix, "answer")
	in.call(t, "get_customer", "c-1")
	ctx := context.Background()
	keys, err := client.Keys(ctx, prefix+"e:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	fresh, _ := cache.Entry{Value: []byte("{not json"), Stored: time.Now(), Expires: time.Now().Add(time.Hour)}.MarshalBinary()
	for _, garbage := range []string{"x", string(fresh)} {
		client.Set(ctx, keys[0], garbage, time.Minute)
		got, c, err := in.call(t, "get_customer", "c-1")
		if err != nil || got != "answer" || c.Field("cache") != "miss" {
			t.Fatalf("corrupt entry %q: %q, %v, %q", garbage, got, err, c.Field("cache"))
		}
	}
	if in.c.Stats().Errors != 2 {
		t.Fatalf("stats %+v", in.c.Stats())
	}
}

// TestRedisGenerationsNeverRepeatAfterLostKeys loses every key of the store
// but the tag's own generation key between bumps, as a cluster does when
// the node holding those keys restarts empty or fails over to a replica
// that lagged. The tag must still never return to a generation it had:
// that would bring back the entries stored under it. (A generation drawn
// from a shared counter key repeats once the counter is lost.)
func TestRedisGenerationsNeverRepeatAfterLostKeys(t *testing.T) {
	prefix := testenv.RedisPrefix(t)
	client := testenv.NewRedis(t)
	s, err := rediscache.New(client, rediscache.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tag := []string{"customer:1"}
	gkey := genKey(prefix, tag[0])
	seen := map[uint64]bool{}
	for i := 0; i < 20; i++ {
		if err := s.Bump(ctx, tag, time.Hour); err != nil {
			t.Fatal(err)
		}
		g, err := s.Generations(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		if seen[g[0]] {
			t.Fatalf("bump %d: generation %d came back after the store's other keys were lost", i, g[0])
		}
		seen[g[0]] = true
		keys, err := client.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k != gkey {
				client.Del(ctx, k)
			}
		}
	}
}

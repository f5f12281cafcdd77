package rediscache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/cachetest"
	"github.com/bulwark-mcp/bulwark/cache/rediscache"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// TestClusterConformance runs the conformance suite against a
// Redis Cluster of three masters, with and without the per-principal cap:
// entries, generations and owner sets spread over the nodes.
func TestClusterConformance(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	client := cluster.Client(t, nil)
	for _, tc := range []struct {
		name string
		per  int
	}{
		{"Plain", 0},
		{"PerPrincipal", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cachetest.Run(t, func(t *testing.T) cache.Store {
				s, err := rediscache.New(client, rediscache.Config{Prefix: cluster.Prefix(t), PerPrincipal: tc.per})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// TestRedisClusterSharedBetweenInstances is TestRedisSharedBetweenInstances
// on the cluster: a write on one instance invalidates the other's cached
// read (its tags' generations may live on different nodes) before the
// write returns.
func TestRedisClusterSharedBetweenInstances(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	prefix := cluster.Prefix(t)
	a := newInstance(t, cluster.Client(t, nil), prefix, "from A")
	b := newInstance(t, cluster.Client(t, nil), prefix, "from B")
	for i := 0; i < 10; i++ { // records whose tags land on every node
		id := fmt.Sprintf("c-%d", i)
		if got, _, _ := a.call(t, "get_customer", id); got != "from A" {
			t.Fatalf("%s on A: %q", id, got)
		}
		if got, c, err := b.call(t, "get_customer", id); err != nil || got != "from A" || c.Field("cache") != "hit" {
			t.Fatalf("%s: B did not share A's entry: %q, %v, %q", id, got, err, c.Field("cache"))
		}
		if _, _, err := b.call(t, "update_customer", id); err != nil {
			t.Fatal(err)
		}
		if got, c, _ := a.call(t, "get_customer", id); got != "from A" || c.Field("cache") != "miss" {
			t.Fatalf("%s on A after B's write: %q, %q", id, got, c.Field("cache"))
		}
	}
	if len(a.rec.Calls()) != 20 || len(b.rec.Calls()) != 10 {
		t.Fatalf("A ran %d, B ran %d; want 20 and 10", len(a.rec.Calls()), len(b.rec.Calls()))
	}
}

// TestRedisClusterPerPrincipalCap checks Config.PerPrincipal on the cluster,
// where one principal's entries live on every node and its owner set on
// one: the cap holds, and the entries that expire soonest go.
func TestRedisClusterPerPrincipalCap(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	s, err := rediscache.New(cluster.Client(t, nil), rediscache.Config{Prefix: cluster.Prefix(t), PerPrincipal: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 12
	for i := 0; i < n; i++ {
		// Later entries are kept longer, so the first ones expire soonest.
		e := cache.Entry{Value: []byte(`{}`), Owner: "o1", Stored: time.Now(), Expires: time.Now()}
		if err := s.Set(ctx, fmt.Sprintf("%064x", i), e, time.Duration(i+1)*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var kept []int
	for i := 0; i < n; i++ {
		if _, ok, err := s.Get(ctx, fmt.Sprintf("%064x", i)); err != nil {
			t.Fatal(err)
		} else if ok {
			kept = append(kept, i)
		}
	}
	if fmt.Sprint(kept) != "[9 10 11]" || s.ShareEvictions() != n-3 {
		t.Fatalf("kept %v with %d share evictions; want [9 10 11] and %d", kept, s.ShareEvictions(), n-3)
	}
}

// genKey is the Redis key of a tag's generation (see RedisStore).
func genKey(prefix, tag string) string {
	sum := sha256.Sum256([]byte(tag))
	return prefix + "g:" + hex.EncodeToString(sum[:16])
}

// TestRedisClusterNodeDown stops the node that holds one record's tag
// generation while two instances use the cache. While it is down, reads of
// that record are misses that run the handler (the cache fails open) and
// are counted as store errors; a record whose keys are all on other nodes
// is still served from the cache and still invalidated by its writes; a
// write of the record on the down node returns its result with
// cache_invalidation=failed, its entry living on as documented until a
// write after the node is back invalidates it.
func TestRedisClusterNodeDown(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	opts := &redis.ClusterOptions{
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond,
		MaxRetries:   -1,
		MaxRedirects: 1,
	}
	prefix := cluster.Prefix(t)
	a := newInstance(t, cluster.Client(t, opts), prefix, "answer")
	ctx := context.Background()

	// The down node holds neither the family tag's generation (which every
	// read carries), nor that of the "no record" tag (which every write
	// naming a record invalidates), nor, below, any key of the record
	// "other".
	family := cluster.NodeOf(t, genKey(prefix, "customer*"))
	unnamed := cluster.NodeOf(t, genKey(prefix, "customer?"))
	down := (family + 1) % testenv.ClusterSize
	if down == unnamed {
		down = (down + 1) % testenv.ClusterSize
	}
	if down == family {
		t.Fatalf("the family and no-record tags occupy every node of %d", testenv.ClusterSize)
	}
	downClient := redis.NewClient(&redis.Options{Addr: cluster.Addrs()[down]})
	defer downClient.Close()
	var victim, other string
	for i := 0; victim == "" || other == ""; i++ {
		id := fmt.Sprintf("c-%d", i)
		switch cluster.NodeOf(t, genKey(prefix, "customer:"+id)) {
		case down:
			if victim == "" {
				victim = id
			}
		default:
			if other != "" {
				continue
			}
			before := downClient.DBSize(ctx).Val()
			a.call(t, "get_customer", id) // stores its entry
			if downClient.DBSize(ctx).Val() == before {
				other = id // its entry is not on the down node either
			}
		}
	}
	expect := func(id, status string) {
		t.Helper()
		got, c, err := a.call(t, "get_customer", id)
		if err != nil || got != "answer" || c.Field("cache") != status {
			t.Fatalf("get %s: %q, %v, status %q; want %q", id, got, err, c.Field("cache"), status)
		}
	}
	write := func(id, invalidation string) {
		t.Helper()
		got, c, err := a.call(t, "update_customer", id)
		if err != nil || got != "answer" || c.Fields()["cache_invalidation"] != invalidation {
			t.Fatalf("update %s: %q, %v, fields %v; want cache_invalidation=%q", id, got, err, c.Fields(), invalidation)
		}
	}
	// Healthy; the victim's generation key exists on its node.
	write(victim, "")
	expect(victim, "miss")
	expect(victim, "hit")
	expect(other, "hit")

	cluster.Stop(t, down)
	errs := a.c.Stats().Errors
	ran := len(a.rec.Calls())
	expect(victim, "miss") // fails open: the handler runs
	if a.c.Stats().Errors <= errs || len(a.rec.Calls()) != ran+1 {
		t.Fatalf("read with the node down: errors %d -> %d, handler ran %d more", errs, a.c.Stats().Errors, len(a.rec.Calls())-ran)
	}
	expect(other, "hit")
	write(other, "")
	expect(other, "miss") // its new entry may land on any node
	write(victim, "failed")

	cluster.Start(t, down)
	// The node is back with its keys, and the failed invalidation left the
	// victim's entry in place until its TTL (documented); the next write
	// invalidates it. A pooled connection to the stopped process fails
	// once when next used: read until a read meets no store error.
	deadline := time.Now().Add(5 * time.Second)
	for {
		errs := a.c.Stats().Errors
		_, c, _ := a.call(t, "get_customer", victim)
		if a.c.Stats().Errors == errs {
			if c.Field("cache") != "hit" {
				t.Fatalf("first clean read of %s after the restart: %q, want hit", victim, c.Field("cache"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store errors go on after the node is back")
		}
	}
	write(victim, "")
	expect(victim, "miss")
	expect(victim, "hit")
}

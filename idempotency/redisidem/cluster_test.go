package redisidem_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/idempotencytest"
	"github.com/bulwark-mcp/bulwark/idempotency/redisidem"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// TestRedisStoreClusterConformance runs the conformance suite against a
// Redis Cluster of three masters: a claim, its renewal, completion and
// release are each one script on the key's own slot.
func TestRedisStoreClusterConformance(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	client := cluster.Client(t, nil)
	idempotencytest.Run(t, idempotencytest.Harness{
		New: func(t *testing.T) idempotency.Store {
			s, err := redisidem.New(client, redisidem.Config{Prefix: cluster.Prefix(t)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}

// TestRedisClusterNodeDown stops the node holding one idempotency key.
// While it is down, a call with that key is refused as unavailable without
// running (Idempotency fails closed), while a key held on another node
// still replays its result; once the node is back (with its keys, from its
// append-only file) the key replays instead of running again.
func TestRedisClusterNodeDown(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	client := cluster.Client(t, &redis.ClusterOptions{
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond,
		MaxRetries:   -1,
		MaxRedirects: 1,
	})
	store, err := redisidem.New(client, redisidem.Config{Prefix: cluster.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	h := layer(t, store)(c.handle)
	const down = 2
	downClient := redis.NewClient(&redis.Options{Addr: cluster.Addrs()[down]})
	defer downClient.Close()
	ctx := context.Background()

	// Store keys are hashes of (principal, tool, key): run keys until one
	// lands on the node to stop and one elsewhere.
	var victim, other map[string]any
	for i := 0; victim == nil || other == nil; i++ {
		args := map[string]any{"idempotency_key": fmt.Sprintf("op-%d", i)}
		before := downClient.DBSize(ctx).Val()
		if _, err, _ := call(t, h, "alice", args); err != nil {
			t.Fatal(err)
		}
		if downClient.DBSize(ctx).Val() > before {
			if victim == nil {
				victim = args
			}
		} else if other == nil {
			other = args
		}
	}
	ran := c.n.Load()

	cluster.Stop(t, down)
	res, err, _ := call(t, h, "alice", victim)
	if !errors.Is(err, bulwark.CodeUnavailable) || c.n.Load() != ran {
		t.Fatalf("key on the stopped node: %v %v, handler ran %d more; want unavailable, not run", res, err, c.n.Load()-ran)
	}
	if res, err, _ := call(t, h, "alice", other); err != nil || !replayed(res) {
		t.Fatalf("key on a live node: %v %v, want a replay", res, err)
	}

	cluster.Start(t, down)
	// A pooled connection to the stopped process fails once when next
	// used; the call is refused again, never run.
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err, _ = call(t, h, "alice", victim)
		if !errors.Is(err, bulwark.CodeUnavailable) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !replayed(res) || c.n.Load() != ran {
		t.Fatalf("after the node is back: %v %v, handler ran %d more; want a replay", res, err, c.n.Load()-ran)
	}
}

// TestRedisClusterSlotMigration races two instances' claims for a stream
// of idempotency keys while the slot holding them moves to another node.
// The keys share one slot through a hash tag in the key itself, so the
// whole stream meets the migration: before it, while keys are still on
// the old node, once they are moved (ASK redirections) and after. Every
// key is claimed exactly once, and every completed result survives the
// move.
func TestRedisClusterSlotMigration(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	prefix := cluster.Prefix(t)
	var asks atomic.Int64
	var stores [2]idempotency.Store
	for i := range stores {
		client := cluster.Client(t, nil)
		client.OnNewNode(func(n *redis.Client) { n.AddHook(askHook{&asks}) })
		s, err := redisidem.New(client, redisidem.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	key := func(i int) string { return "{m}" + strconv.Itoa(i) }
	from := cluster.NodeOf(t, prefix+key(0))
	to := (from + 1) % testenv.ClusterSize
	ctx := context.Background()

	var mu sync.Mutex
	winners := map[int]int{} // key -> claims won
	var last atomic.Int64    // highest key any goroutine reached
	done := make(chan struct{})
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[g%2]
			token := "t" + strconv.Itoa(g)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				_, ok, err := s.Claim(ctx, key(i), token, "fp", time.Minute)
				if err == nil && ok {
					mu.Lock()
					winners[i]++
					mu.Unlock()
					err = s.Complete(ctx, key(i), token, idempotency.Entry{Fingerprint: "fp", Done: true, Result: []byte(`"` + token + `"`)}, time.Hour)
				}
				if err != nil {
					errs <- fmt.Errorf("key %d: %w", i, err)
					return
				}
				for {
					n := last.Load()
					if int64(i) <= n || last.CompareAndSwap(n, int64(i)) {
						break
					}
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	cluster.MigrateSlot(t, prefix+key(0), to, 200*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := int(last.Load())
	for i := 0; i <= n; i++ {
		if winners[i] != 1 {
			t.Fatalf("key %d claimed %d times", i, winners[i])
		}
		e, ok, err := stores[0].Claim(ctx, key(i), "late", "fp", time.Minute)
		if err != nil || ok || !e.Done || len(e.Result) == 0 {
			t.Fatalf("key %d after the migration: %+v ok=%v err=%v; want its completed result", i, e, ok, err)
		}
	}
	if asks.Load() == 0 {
		t.Fatal("no ASK redirection: the traffic missed the migration")
	}
	t.Logf("%d keys, each claimed once, across the migration of their slot from node %d to %d (%d ASK redirections)", n+1, from, to, asks.Load())
}

// askHook counts ASK redirections answered by a node.
type askHook struct{ n *atomic.Int64 }

func (h askHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h askHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && strings.HasPrefix(err.Error(), "ASK ") {
			h.n.Add(1)
		}
		return err
	}
}
func (h askHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

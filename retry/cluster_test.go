package retry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/retry/retrytest"
	"github.com/redis/go-redis/v9"
)

// TestRedisStoreClusterConformance runs the conformance suite against a
// Redis Cluster of three masters: a claim, its renewal, completion and
// release are each one script on the key's own slot.
func TestRedisStoreClusterConformance(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	client := cluster.Client(t, nil)
	retrytest.TestStore(t, retrytest.Harness{
		New: func(t *testing.T) retry.Store {
			s, err := retry.NewRedisStore(client, cluster.Prefix(t))
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
	store, err := retry.NewRedisStore(client, cluster.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	h := retry.Idempotency(store)(c.handle)
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
	if !errors.Is(err, bulwark.ErrUnavailable) || c.n.Load() != ran {
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
		if !errors.Is(err, bulwark.ErrUnavailable) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !replayed(res) || c.n.Load() != ran {
		t.Fatalf("after the node is back: %v %v, handler ran %d more; want a replay", res, err, c.n.Load()-ran)
	}
}

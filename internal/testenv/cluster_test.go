package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/testenv"
)

// TestRedisCluster starts a cluster, writes a key, restarts the node that
// holds it and reads the key back through the same cluster client.
func TestRedisCluster(t *testing.T) {
	began := time.Now()
	c := testenv.NewRedisCluster(t)
	t.Logf("cluster of %d up in %v", len(c.Addrs()), time.Since(began))
	ctx := context.Background()
	cl := c.Client(t, nil)
	key := c.Prefix(t) + "k"
	if err := cl.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	n := c.NodeOf(t, key)
	c.Stop(t, n)
	if err := cl.Get(ctx, key).Err(); err == nil {
		t.Fatal("read a key of a stopped node")
	}
	began = time.Now()
	c.Start(t, n)
	t.Logf("node %d back in %v", n, time.Since(began))
	if v, err := cl.Get(ctx, key).Result(); err != nil || v != "v" {
		t.Fatalf("after restart: %q %v", v, err)
	}
}

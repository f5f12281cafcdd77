package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterSize is the number of masters NewRedisCluster starts.
const ClusterSize = 3

// RedisCluster is a Redis Cluster of ClusterSize masters (no replicas) that
// a test started on free loopback ports, each node a redis-server process
// with its own directory under the test's temporary directory. The nodes
// keep an append-only file, so a node stopped with [RedisCluster.Stop] and
// started again with [RedisCluster.Start] comes back with its keys, its
// slots and its place in the cluster. Every process is stopped when the
// test ends.
//
// The nodes run with cluster-node-timeout 1000 ms and
// cluster-require-full-coverage no: while one node is down the others keep
// serving their own slots.
type RedisCluster struct {
	tb    testing.TB
	nodes []*clusterNode
}

type clusterNode struct {
	dir       string
	port, bus int
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
}

func (n *clusterNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// NewRedisCluster starts a cluster for the test, creates it (slots split
// evenly, every node introduced to the others) and waits until every node
// reports cluster_state:ok. It needs redis-server (7.0 or later) on PATH;
// without it the test is skipped, or fails under BULWARK_REQUIRE_SERVICES=1.
// Starting takes about a second.
func NewRedisCluster(tb testing.TB) *RedisCluster {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := fmt.Sprintf("redis-server is not installed (%v); install Redis 7 or later to run the Redis Cluster tests", err)
		if Required() {
			tb.Fatalf("BULWARK_REQUIRE_SERVICES=1: %s", msg)
		}
		tb.Skip(msg)
		return nil
	}
	c := &RedisCluster{tb: tb}
	root := tb.TempDir()
	tb.Cleanup(c.stopAll)
	for i := 0; i < ClusterSize; i++ {
		n := &clusterNode{dir: filepath.Join(root, "node"+strconv.Itoa(i))}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			tb.Fatalf("testenv: %v", err)
		}
		if err := n.startFresh(bin); err != nil {
			tb.Fatalf("testenv: start cluster node %d: %v", i, err)
		}
		c.nodes = append(c.nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.create(ctx); err != nil {
		tb.Fatalf("testenv: create cluster: %v", err)
	}
	c.WaitOK(tb)
	return c
}

// startFresh starts the node on new free ports, trying again when another
// process took a port between choosing and binding it.
func (n *clusterNode) startFresh(bin string) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if n.port, err = freePort(); err != nil {
			return err
		}
		if n.bus, err = freePort(); err != nil {
			return err
		}
		if n.port == n.bus {
			continue
		}
		if err = n.start(bin); err == nil {
			return nil
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server for the node and waits until it answers PING.
func (n *clusterNode) start(bin string) error {
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(n.port),
		"--cluster-port", strconv.Itoa(n.bus),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--dir", n.dir,
		"--logfile", "redis.log",
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "1000",
		"--cluster-require-full-coverage", "no",
		"--save", "",
		"--appendonly", "yes",
		"--appendfsync", "always",
	)
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()

	c := redis.NewClient(&redis.Options{Addr: n.addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %s", n.port, lastLines(string(log), 5))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			n.kill()
			return fmt.Errorf("redis-server on port %d does not answer: %v", n.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop asks redis-server to shut down (SIGTERM: it flushes its append-only
// file first) and waits for it, killing it after five seconds.
func (n *clusterNode) stop() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

func (n *clusterNode) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		<-exited
	}
}

func (c *RedisCluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
}

// create splits the 16384 slots evenly among the nodes, gives each a
// distinct config epoch and introduces every node to the first.
func (c *RedisCluster) create(ctx context.Context) error {
	const slots = 16384
	for i, n := range c.nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.addr()})
		lo, hi := i*slots/len(c.nodes), (i+1)*slots/len(c.nodes)-1
		err := cl.ClusterAddSlotsRange(ctx, lo, hi).Err()
		if err == nil {
			err = cl.Do(ctx, "cluster", "set-config-epoch", i+1).Err()
		}
		if err == nil && i > 0 {
			first := c.nodes[0]
			err = cl.Do(ctx, "cluster", "meet", "127.0.0.1", first.port, first.bus).Err()
		}
		cl.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.addr(), err)
		}
	}
	return nil
}

// Addrs returns the nodes' addresses, node 0 first.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr()
	}
	return out
}

// Client returns a cluster client of the cluster, closed when the test
// ends. opts (nil for the defaults) may set timeouts and retries; its Addrs
// are replaced.
func (c *RedisCluster) Client(tb testing.TB, opts *redis.ClusterOptions) *redis.ClusterClient {
	tb.Helper()
	o := redis.ClusterOptions{}
	if opts != nil {
		o = *opts
	}
	o.Addrs = c.Addrs()
	cl := redis.NewClusterClient(&o)
	tb.Cleanup(func() { cl.Close() })
	return cl
}

// Prefix returns a key prefix unique to the test. The cluster is the
// test's own and goes away with it, so nothing is cleaned up.
func (c *RedisCluster) Prefix(tb testing.TB) string {
	return "bulwark-test:" + sanitize(tb.Name()) + ":" + randomHex(4) + ":"
}

// NodeOf returns the index of the node that serves key's hash slot.
func (c *RedisCluster) NodeOf(tb testing.TB, key string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[0].addr()})
	defer cl.Close()
	slot, err := cl.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		tb.Fatalf("testenv: CLUSTER KEYSLOT: %v", err)
	}
	shards, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		tb.Fatalf("testenv: CLUSTER SHARDS: %v", err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if slot < r.Start || slot > r.End {
				continue
			}
			for _, nd := range sh.Nodes {
				for i, n := range c.nodes {
					if nd.Role == "master" && int(nd.Port) == n.port {
						return i
					}
				}
			}
		}
	}
	tb.Fatalf("testenv: no node serves slot %d of %q", slot, key)
	return -1
}

// Stop shuts node i down (its keys are kept on disk) and returns once the
// process has exited. Commands for keys in its slots fail until Start.
func (c *RedisCluster) Stop(tb testing.TB, i int) {
	tb.Helper()
	c.nodes[i].stop()
}

// Start starts node i again on its old ports after Stop and waits until
// the whole cluster reports cluster_state:ok again.
func (c *RedisCluster) Start(tb testing.TB, i int) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	if err := c.nodes[i].start(bin); err != nil {
		tb.Fatalf("testenv: restart cluster node %d: %v", i, err)
	}
	c.WaitOK(tb)
}

// WaitOK waits until every node reports cluster_state:ok (every slot
// served) and knows all ClusterSize masters, and none is flagged failing, failing the test after 20 seconds.
func (c *RedisCluster) WaitOK(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testenv: cluster not ready: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (c *RedisCluster) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range c.nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.addr(), MaxRetries: -1})
		info, err := cl.ClusterInfo(ctx).Result()
		cl.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.addr(), err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("node %s: not cluster_state:ok", n.addr())
		}
		if !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.nodes))+"\r") {
			return fmt.Errorf("node %s: does not know every node yet", n.addr())
		}
	}
	// Every node must also see every other as healthy (no pfail/fail
	// flag), or clients may be sent to a node the others still shun.
	cl := redis.NewClient(&redis.Options{Addr: c.nodes[0].addr(), MaxRetries: -1})
	defer cl.Close()
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	if strings.Contains(nodes, "fail") {
		return errors.New("a node is still flagged as failing")
	}
	return nil
}

// MigrateSlot moves the hash slot of key to node to, the way
// redis-cli --cluster reshard does: the slot is marked importing on the
// target and migrating on its owner, its keys are moved with MIGRATE, and
// every node is told the new owner. pause is waited after marking the slot
// and after moving the keys, so that a test's traffic meets the slot in
// both halves of the migration (keys still on the old owner; keys moved,
// answered with ASK redirections).
func (c *RedisCluster) MigrateSlot(tb testing.TB, key string, to int, pause time.Duration) {
	tb.Helper()
	from := c.NodeOf(tb, key)
	if from == to {
		tb.Fatalf("testenv: slot of %q is already on node %d", key, to)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, len(c.nodes))
	ids := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.addr()})
		defer clients[i].Close()
		id, err := clients[i].Do(ctx, "cluster", "myid").Text()
		if err != nil {
			tb.Fatalf("testenv: CLUSTER MYID: %v", err)
		}
		ids[i] = id
	}
	slot, err := clients[from].ClusterKeySlot(ctx, key).Result()
	if err != nil {
		tb.Fatalf("testenv: CLUSTER KEYSLOT: %v", err)
	}
	must := func(what string, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("testenv: migrate slot %d from node %d to %d: %s: %v", slot, from, to, what, err)
		}
	}
	must("importing", clients[to].Do(ctx, "cluster", "setslot", slot, "importing", ids[from]).Err())
	must("migrating", clients[from].Do(ctx, "cluster", "setslot", slot, "migrating", ids[to]).Err())
	time.Sleep(pause)
	for {
		keys, err := clients[from].ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		must("getkeysinslot", err)
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", "127.0.0.1", c.nodes[to].port, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		must("migrate", clients[from].Do(ctx, args...).Err())
	}
	time.Sleep(pause)
	// The target first, then the old owner, then the rest, as redis-cli
	// does, so that no node sends clients back to where the slot was.
	must("node (target)", clients[to].Do(ctx, "cluster", "setslot", slot, "node", ids[to]).Err())
	must("node (source)", clients[from].Do(ctx, "cluster", "setslot", slot, "node", ids[to]).Err())
	for i := range c.nodes {
		if i != from && i != to {
			must("node", clients[i].Do(ctx, "cluster", "setslot", slot, "node", ids[to]).Err())
		}
	}
	if got := c.NodeOf(tb, key); got != to {
		tb.Fatalf("testenv: slot %d is on node %d after migrating it to %d", slot, got, to)
	}
}

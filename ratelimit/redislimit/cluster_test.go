package redislimit_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
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
)

// TestClusterConformance runs the conformance suite against a
// Redis Cluster of three masters: every decision is one script on one key,
// so the buckets spread over the nodes and each decides alone.
func TestClusterConformance(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	client := cluster.Client(t, nil)
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := redislimit.New(client, redislimit.Config{
			Prefix:         cluster.Prefix(t),
			UseCallerClock: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// byPrincipal keys buckets by the principal's ID alone, so the test knows
// each bucket's Redis key: prefix + "cl:" + ID.
func byPrincipal(ctx context.Context, _ *mcp.CallToolRequest) (string, bool) {
	return bulwark.CallFrom(ctx).PrincipalID(), true
}

// principalsOn returns one principal whose bucket lives on node down and
// one whose bucket lives on another node.
func principalsOn(t *testing.T, cluster *testenv.RedisCluster, prefix string, down int) (onDown, elsewhere string) {
	t.Helper()
	for i := 0; onDown == "" || elsewhere == ""; i++ {
		p := "p" + strconv.Itoa(i)
		if cluster.NodeOf(t, prefix+"cl:"+p) == down {
			if onDown == "" {
				onDown = p
			}
		} else if elsewhere == "" {
			elsewhere = p
		}
	}
	return onDown, elsewhere
}

// TestRedisClusterNodeDown stops the cluster node holding one principal's
// bucket in the middle of the test. While it is down that principal's
// decisions fail as configured (failing closed: an unavailable refusal;
// failing open: allowed and counted), a principal whose bucket is on another
// node is limited exactly as before, and once the node is back (with its
// keys, from its append-only file) the drained bucket is still drained.
func TestRedisClusterNodeDown(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	client := cluster.Client(t, &redis.ClusterOptions{
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           300 * time.Millisecond,
		WriteTimeout:          300 * time.Millisecond,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		MaxRedirects:          1,
	})
	prefix := cluster.Prefix(t)
	const down = 1
	victim, other := principalsOn(t, cluster, prefix, down)

	type instance struct {
		store *redislimit.Store
		lim   *ratelimit.Limiter
		h     mcp.ToolHandler
	}
	// Two instances sharing the cluster, one failing closed, one open.
	var inst [2]instance
	for i, open := range []bool{false, true} {
		s, err := redislimit.New(client, redislimit.Config{Prefix: prefix, FailOpen: open, Timeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		l := newLimiter(t, s, ratelimit.Config{Name: "cl", Key: byPrincipal, Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: 2})})
		inst[i] = instance{s, l, ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle)}
	}
	closed, open := inst[0], inst[1]

	// Healthy: both principals get exactly the burst of 2 across the two
	// instances.
	for _, p := range []string{victim, other} {
		for i := 0; i < 2; i++ {
			if _, err := callAs(inst[i].h, p, "t"); err != nil {
				t.Fatalf("%s call %d: %v", p, i+1, err)
			}
		}
		for _, in := range inst {
			if _, err := callAs(in.h, p, "t"); !errors.Is(err, bulwark.CodeRateLimited) {
				t.Fatalf("%s past its burst: %v, want rate limited", p, err)
			}
		}
	}

	cluster.Stop(t, down)

	_, err := callAs(closed.h, victim, "t")
	if !errors.Is(err, bulwark.CodeUnavailable) {
		t.Fatalf("fail closed with the node down: %v, want unavailable", err)
	}
	if st := closed.store.Stats(); st.Failures != 1 || st.FailedOpen != 0 {
		t.Fatalf("fail-closed store stats %+v, want one failure", st)
	}
	if _, err := callAs(open.h, victim, "t"); err != nil {
		t.Fatalf("fail open with the node down: %v, want the call through", err)
	}
	if st := open.store.Stats(); st.Failures != 1 || st.FailedOpen != 1 {
		t.Fatalf("fail-open store stats %+v, want one failed-open decision", st)
	}
	// The other nodes still decide for their keys, in either mode.
	for _, in := range inst {
		if _, err := callAs(in.h, other, "t"); !errors.Is(err, bulwark.CodeRateLimited) {
			t.Fatalf("principal on a live node: %v, want still rate limited", err)
		}
	}

	cluster.Start(t, down)

	// Recovery: the node came back with its keys, so the victim's bucket
	// is as drained as before the outage, on both instances.
	for _, in := range inst {
		var err error
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err = callAs(in.h, victim, "t")
			if !errors.Is(err, bulwark.CodeUnavailable) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !errors.Is(err, bulwark.CodeRateLimited) {
			t.Fatalf("after the node is back: %v, want the victim's bucket still drained", err)
		}
	}
	if st := open.store.Stats(); st.FailedOpen != 1 {
		t.Fatalf("fail-open store stats %+v after recovery, want no more failed-open decisions", st)
	}
}

// TestRedisClusterSlotMigration moves the slot of a shared bucket to
// another node while two instances take tokens from it as fast as they
// can. Every decision before, during (the key still on its old node, then
// moved and reached through ASK redirections) and after the migration
// takes its own token: the Remaining counts reported are exactly
// burst-1, burst-2, ... with none repeated or skipped, so no decision ran
// against a stale copy of the bucket and none was lost.
func TestRedisClusterSlotMigration(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	prefix := cluster.Prefix(t)
	b := ratelimit.Bucket{Limiter: "m", Key: "all"}
	key := prefix + "m:all"
	const burst = 1_000_000
	l := ratelimit.Limit{Rate: 0.0001, Burst: burst} // no refill within the test
	var stores [2]*redislimit.Store
	redirects := &redirectHook{}
	for i := range stores {
		client := cluster.Client(t, nil)
		client.OnNewNode(func(n *redis.Client) { n.AddHook(redirects) })
		s, err := redislimit.New(client, redislimit.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	from := cluster.NodeOf(t, key)
	to := (from + 1) % testenv.ClusterSize

	done := make(chan struct{})
	results := make([][]int, 16)
	errs := make(chan error, len(results))
	var wg sync.WaitGroup
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[g%2]
			for {
				select {
				case <-done:
					return
				default:
				}
				d, err := s.Allow(context.Background(), b, l, time.Time{})
				if err == nil && !d.Allowed {
					err = errors.New("refused with tokens to spare")
				}
				if err != nil {
					errs <- err
					return
				}
				results[g] = append(results[g], d.Remaining)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	cluster.MigrateSlot(t, key, to, 200*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("decision during the migration: %v", err)
	}

	seen := map[int]bool{}
	for _, rs := range results {
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("Remaining %d reported twice: a token was taken twice", r)
			}
			seen[r] = true
		}
	}
	n := len(seen)
	for i := 1; i <= n; i++ {
		if !seen[burst-i] {
			t.Fatalf("%d decisions, but Remaining %d never reported: a decision was lost", n, burst-i)
		}
	}
	if n < 100 {
		t.Fatalf("only %d decisions during the test", n)
	}
	direct := redis.NewClient(&redis.Options{Addr: cluster.Addrs()[to]})
	defer direct.Close()
	if v, err := direct.Get(context.Background(), key).Result(); err != nil || v == "" {
		t.Fatalf("bucket not on its new node: %q %v", v, err)
	}
	ask, moved := redirects.ask.Load(), redirects.moved.Load()
	if ask == 0 || moved == 0 {
		t.Fatalf("%d ASK and %d MOVED redirections: the traffic missed part of the migration", ask, moved)
	}
	t.Logf("%d decisions across the migration of the bucket's slot from node %d to %d (%d ASK, %d MOVED redirections)", n, from, to, ask, moved)
}

// redirectHook counts the redirections the cluster's nodes answer with.
type redirectHook struct{ ask, moved atomic.Int64 }

func (h *redirectHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *redirectHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil {
			switch {
			case strings.HasPrefix(err.Error(), "ASK "):
				h.ask.Add(1)
			case strings.HasPrefix(err.Error(), "MOVED "):
				h.moved.Add(1)
			}
		}
		return err
	}
}
func (h *redirectHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

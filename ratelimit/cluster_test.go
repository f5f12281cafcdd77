package ratelimit_test

import (
	"context"
	"errors"
	"strconv"
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

// TestRedisStoreClusterConformance runs the conformance suite against a
// Redis Cluster of three masters: every decision is one script on one key,
// so the buckets spread over the nodes and each decides alone.
func TestRedisStoreClusterConformance(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	client := cluster.Client(t, nil)
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := ratelimit.NewRedisStore(client, ratelimit.RedisOptions{
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
// decisions fail as configured (FailClosed: an unavailable refusal;
// FailOpen: allowed and counted), a principal whose bucket is on another
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
		store *ratelimit.RedisStore
		lim   *ratelimit.Limiter
		h     mcp.ToolHandler
	}
	// Two instances sharing the cluster, one failing closed, one open.
	var inst [2]instance
	for i, mode := range []ratelimit.FailureMode{ratelimit.FailClosed, ratelimit.FailOpen} {
		s, err := ratelimit.NewRedisStore(client, ratelimit.RedisOptions{Prefix: prefix, OnFailure: mode, Timeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		l := newLimiter(t, s, ratelimit.WithName("cl"), ratelimit.WithKey(byPrincipal),
			ratelimit.WithLimit(ratelimit.Limit{Rate: 0.001, Burst: 2}))
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
			if _, err := callAs(in.h, p, "t"); !errors.Is(err, bulwark.ErrRateLimited) {
				t.Fatalf("%s past its burst: %v, want rate limited", p, err)
			}
		}
	}

	cluster.Stop(t, down)

	_, err := callAs(closed.h, victim, "t")
	if !errors.Is(err, bulwark.ErrUnavailable) {
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
		if _, err := callAs(in.h, other, "t"); !errors.Is(err, bulwark.ErrRateLimited) {
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
			if !errors.Is(err, bulwark.ErrUnavailable) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !errors.Is(err, bulwark.ErrRateLimited) {
			t.Fatalf("after the node is back: %v, want the victim's bucket still drained", err)
		}
	}
	if st := open.store.Stats(); st.FailedOpen != 1 {
		t.Fatalf("fail-open store stats %+v after recovery, want no more failed-open decisions", st)
	}
}

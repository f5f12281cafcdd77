package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

// TestPostgresCutMidLoad runs readers against the server while the fault
// proxy cuts PostgreSQL: the breaker opens, calls fail fast without
// touching the pool, service recovers when the proxy is restored, and
// nothing leaks (goroutines, server connections).
func TestPostgresCutMidLoad(t *testing.T) {
	goleakOpts := []goleak.Option{
		goleak.IgnoreCurrent(),
	}
	db := testenv.NewDatabase(t)
	u, _ := url.Parse(db)
	proxy, err := bulwarktest.StartProxy("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	var f *fixture
	func() {
		f = newFixture(t, func(env map[string]string) {
			env["DATABASE_URL"] = withHost(db, proxy.Addr())
			env["BREAKER_OPEN_FOR"] = "2s"
			env["BREAKER_TRIP_AFTER"] = "3"
			env["DB_CONNECT_TIMEOUT"] = "300ms"
			env["DB_STATEMENT_TIMEOUT"] = "1s"
			env["ENABLE_CACHING"] = "false" // every call must reach the dependency guard
		})
	}()
	reader := f.connect(f.keys.reader)

	var ok, unavailable, other atomic.Int64
	var othersMu sync.Mutex
	var others []string // what the other outcomes were, for the failure message
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err, ref := call(t, reader, toolGetCustomer, map[string]any{"customer_id": fmt.Sprintf("C-%06d", 1+(w*1000+i)%9000)})
				switch {
				case err == nil && ref == nil:
					ok.Add(1)
				case ref != nil && ref.Code == bulwark.CodeUnavailable:
					unavailable.Add(1)
				default:
					other.Add(1)
					othersMu.Lock()
					others = append(others, fmt.Sprintf("err=%v refusal=%+v", err, ref))
					othersMu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if ok.Load() == 0 {
		t.Fatal("no successful calls before the cut")
	}

	proxy.Cut()
	// While the breaker refuses, calls fail at once and the pool is not
	// touched. (The breaker cycles open → half-open → open while the cut
	// lasts; a call that happens to be a half-open probe does reach the
	// pool, so look for a refusal by the breaker itself.)
	refusedFast := false
	for try := 0; try < 20 && !refusedFast; try++ {
		waitFor(t, 10*time.Second, "the postgres breaker to open", func() bool { return f.srv.layers.pgBreaker.State() == "open" })
		acq := f.srv.store.read.Stat().AcquireCount()
		t0 := time.Now()
		_, _, ref := call(t, reader, toolGetCustomer, map[string]any{"customer_id": "C-000001"})
		took := time.Since(t0)
		if ref == nil || ref.Code != bulwark.CodeUnavailable {
			t.Fatalf("during the cut: %+v", ref)
		}
		if !strings.HasPrefix(ref.Message, "postgres is unavailable") {
			continue // a half-open probe that failed
		}
		if took > 500*time.Millisecond { // generous: -race on a busy machine
			t.Fatalf("breaker refusal took %v", took)
		}
		if got := f.srv.store.read.Stat().AcquireCount(); got != acq {
			t.Fatalf("the pool was touched by a refused call: %d -> %d acquires", acq, got)
		}
		refusedFast = true
	}
	if !refusedFast {
		t.Fatal("no call was refused by the open breaker")
	}
	time.Sleep(200 * time.Millisecond)

	proxy.Restore()
	okBefore := ok.Load()
	waitFor(t, 10*time.Second, "recovery", func() bool {
		return f.srv.layers.pgBreaker.State() == "closed" && ok.Load() > okBefore+20
	})
	close(stop)
	wg.Wait()
	t.Logf("ok=%d unavailable=%d other=%d", ok.Load(), unavailable.Load(), other.Load())
	if unavailable.Load() == 0 {
		t.Fatal("no unavailable refusals during the cut")
	}
	if other.Load() != 0 {
		t.Fatalf("%d calls failed with something other than unavailable: %v", other.Load(), others)
	}
	st := f.srv.store.read.Stat()
	if st.TotalConns() > f.cfg.DB.MaxConns {
		t.Fatalf("pool holds %d connections, max %d", st.TotalConns(), f.cfg.DB.MaxConns)
	}

	// Shut down and check that nothing is left behind.
	reader.Close()
	if err := f.http.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "server connections to close", func() bool { return serverConns(t, db) == 0 })
	goleak.VerifyNone(t, append(goleakOpts,
		// The SDK's and net/http's idle keep-alive readers of other tests'
		// clients may still be winding down.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
	)...)
}

// serverConns counts the server's connections to its database.
func serverConns(t *testing.T, dbURL string) int {
	t.Helper()
	admin := testenv.PostgresURL(t)
	conn, err := pgx.Connect(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	u, _ := url.Parse(dbURL)
	var n int
	if err := conn.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'customer-mcp-%'`,
		strings.TrimPrefix(u.Path, "/")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwoInstancesShareOneRateLimit runs two servers on one database and
// one Redis: a principal's budget is global, not per instance.
func TestTwoInstancesShareOneRateLimit(t *testing.T) {
	addr := testenv.RedisAddr(t)
	prefix := testenv.RedisPrefix(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	mk := func() *fixture {
		return newFixtureOn(t, db, keys, func(env map[string]string) {
			env["REDIS_URL"] = "redis://" + addr + "/0"
			env["REDIS_PREFIX"] = prefix
			env["RATE_LIMIT"] = "30"
			env["MCP_STATELESS"] = "true"
		})
	}
	a, b := mk(), mk()
	ca, cb := a.connect(keys.reader), b.connect(keys.reader)
	// The cache is shared: what instance A cached, B serves.
	mustOK(t, ca, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)
	res := mustOK(t, cb, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)
	if st := cacheStatusOf(res); st != "hit" {
		t.Fatalf("instance B: cache %q, want a hit on A's entry", st)
	}
	// 30 per minute with a burst of 30, two spent above. Per-instance
	// limits would have served up to 58.
	bc := burst(t, 80, 1, func(i int) *mcp.ClientSession {
		if i%2 == 1 {
			return cb
		}
		return ca
	})
	if bc.served+bc.unanswered < 28 || bc.served > 28+bc.refill {
		t.Fatalf("%d calls served across two instances, want 28 (+%d refilled; limited %d, limiter unanswered %d)", bc.served, bc.refill, bc.limited, bc.unanswered)
	}

	// Idempotency keys are shared too: a duplicate sent to the other
	// instance replays the first instance's result.
	aa, ab := a.connect(keys.admin), b.connect(keys.admin)
	args := map[string]any{"customer_id": "C-000055", "body": "shared key", "idempotency_key": "two-instances-01"}
	var n1, n2 Note
	mustOK(t, aa, toolAddNote, args, &n1)
	mustOK(t, ab, toolAddNote, args, &n2)
	if n1.ID != n2.ID {
		t.Fatalf("notes %d and %d", n1.ID, n2.ID)
	}
	rdb := testenv.NewRedis(t)
	found := 0
	iter := rdb.Scan(context.Background(), 0, prefix+"idem:*", 1000).Iterator()
	for iter.Next(context.Background()) {
		found++
	}
	if iter.Err() != nil || found == 0 {
		t.Fatalf("no idempotency key in Redis under %s: %v", prefix, iter.Err())
	}
}

// newFixtureOn is newFixture on an existing database and key file.
func newFixtureOn(t *testing.T, db string, keys testKeys, mutate func(env map[string]string)) *fixture {
	t.Helper()
	f := &fixture{t: t, db: db, keys: keys, log: &lockedBuffer{}, audit: &lockedBuffer{}}
	f.env = testEnvMap(db, keys)
	if mutate != nil {
		mutate(f.env)
	}
	return f.start()
}

// TestDemo runs the scripted demo end to end, as CI does.
func TestDemo(t *testing.T) {
	base := testenv.PostgresURL(t)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	name := fmt.Sprintf("bulwark_demo_test_%d", time.Now().UnixNano())
	t.Cleanup(func() { dropDatabase(t, base, name) })
	ok, err := demo.Run(ctx, &out, getenvFrom(map[string]string{"DATABASE_URL": base, "DEMO_DATABASE": name}), startDemo)
	t.Log("\n" + out.String())
	if err != nil || !ok {
		t.Fatalf("demo failed: %v", err)
	}
}

func dropDatabase(t *testing.T, admin, name string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Error(err)
	}
}

package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// roundRobin is the fleet's load balancer: each request goes to the next
// instance in turn, whatever session or principal it belongs to, which
// stateless streamable HTTP allows.
type roundRobin struct {
	backends []*httputil.ReverseProxy
	next     atomic.Uint64
	hits     []atomic.Int64
}

func newRoundRobin(t *testing.T, fleet []*fixture) *httptest.Server {
	rr := &roundRobin{hits: make([]atomic.Int64, len(fleet))}
	for _, f := range fleet {
		u, err := url.Parse("http://" + f.http.Addr())
		if err != nil {
			t.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.FlushInterval = -1 // event streams pass through as they are written
		rr.backends = append(rr.backends, p)
	}
	lb := httptest.NewServer(rr)
	t.Cleanup(lb.Close)
	t.Cleanup(func() {
		for i := range rr.hits {
			t.Logf("instance %d served %d requests through the balancer", i, rr.hits[i].Load())
		}
	})
	return lb
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(rr.next.Add(1) % uint64(len(rr.backends)))
	rr.hits[i].Add(1)
	rr.backends[i].ServeHTTP(w, r)
}

// TestFleet runs three instances in stateless HTTP mode on one database
// and one Redis prefix, behind a round-robin balancer, and checks what a
// fleet promises: one rate limit, one cache that a write on any instance
// invalidates everywhere before it answers, one execution per idempotency
// key, breakers that stay per instance, and one audit table holding a
// chain per instance.
func TestFleet(t *testing.T) {
	addr := testenv.RedisAddr(t)
	prefix := testenv.RedisPrefix(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	auditKey := strings.Repeat("6b", 32)
	// Instance 2 reaches PostgreSQL through a fault proxy, to open its
	// breaker alone.
	u, _ := url.Parse(db)
	pgProxy, err := bulwarktest.StartProxy("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgProxy.Close() })
	fleet := make([]*fixture, 3)
	for i := range fleet {
		fleet[i] = newFixtureOn(t, db, keys, func(env map[string]string) {
			env["REDIS_URL"] = "redis://" + addr + "/0"
			env["REDIS_PREFIX"] = prefix
			env["RATE_LIMIT"] = "30"
			env["MCP_STATELESS"] = "true"
			env["AUDIT_LOG"] = "postgres:audit_records"
			env["AUDIT_HMAC_KEY"] = auditKey
			env["DB_MAX_CONNS"] = "3" // the database server is shared
			env["BREAKER_TRIP_AFTER"] = "3"
			env["BREAKER_OPEN_FOR"] = "1m"
			env["DB_CONNECT_TIMEOUT"] = "300ms"
			env["DB_STATEMENT_TIMEOUT"] = "1s"
			if i == 2 {
				env["DATABASE_URL"] = withHost(db, pgProxy.Addr())
			}
		})
	}
	lb := newRoundRobin(t, fleet)

	t.Run("one rate limit across the fleet", func(t *testing.T) {
		cs := connectHTTP(t, lb.URL+"/mcp", keys.reader)
		// 30 a minute with a burst of 30. Per-instance limits would
		// serve all 60.
		bc := burst(t, 60, 100, func(int) *mcp.ClientSession { return cs })
		if bc.served < 30-bc.unanswered || bc.served > 30+bc.refill {
			t.Fatalf("%d calls served by three instances, want 30 (+%d refilled); %d limited, %d refused by an unanswered limiter", bc.served, bc.refill, bc.limited, bc.unanswered)
		}
		t.Logf("%d served, %d rate limited, %d refused by an unanswered limiter", bc.served, bc.limited, bc.unanswered)
	})

	direct := func(i int, token string) *mcp.ClientSession { return fleet[i].connect(token) }

	t.Run("a write invalidates every instance's cached reads before it answers", func(t *testing.T) {
		a, b, c := direct(0, keys.admin), direct(1, keys.admin), direct(2, keys.admin)
		get := func(cs *mcp.ClientSession) (Customer, string) {
			var cust Customer
			res := mustOK(t, cs, toolGetCustomer, map[string]any{"customer_id": "C-000042"}, &cust)
			st := cacheStatusOf(res)
			return cust, st
		}
		get(b)
		if _, st := get(c); st != "hit" {
			t.Fatalf("instance 2 after instance 1 read: cache %q, want a hit on the shared entry", st)
		}
		for round, email := range []string{"fleet-one@example.com", "fleet-two@example.com"} {
			mustOK(t, a, toolUpdateEmail, map[string]any{"customer_id": "C-000042", "new_email": email}, nil)
			for i, cs := range []*mcp.ClientSession{b, c} {
				if cust, st := get(cs); cust.Email != email {
					t.Fatalf("round %d: instance %d serves %q (cache %s) after the write on instance 0 answered", round, i+1, cust.Email, st)
				}
			}
		}
	})

	t.Run("an idempotency key on two instances at once executes once", func(t *testing.T) {
		a, b := direct(0, keys.admin), direct(1, keys.admin)
		for k := 0; k < 4; k++ {
			key := fmt.Sprintf("fleet-concurrent-%02d", k)
			args := map[string]any{"customer_id": "C-000077", "body": "once " + key, "idempotency_key": key}
			var wg sync.WaitGroup
			ids := make([]int64, 2)
			codes := make([]bulwark.Code, 2)
			gate := make(chan struct{})
			for i, cs := range []*mcp.ClientSession{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					res, err, ref := call(t, cs, toolAddNote, args)
					switch {
					case err == nil && ref == nil:
						var n Note
						decodeInto(t, res, &n)
						ids[i] = n.ID
					case ref != nil:
						codes[i] = ref.Code
					default:
						t.Errorf("key %s on instance %d: %v", key, i, err)
					}
				}()
			}
			close(gate)
			wg.Wait()
			var rows int
			if err := pgxQueryRow(t, db, `SELECT count(*) FROM customer_notes WHERE idempotency_key = $1`, key).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != 1 {
				t.Fatalf("key %s: %d notes written, want 1 (results %v, refusals %v)", key, rows, ids, codes)
			}
			if ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1] {
				t.Fatalf("key %s: two notes answered: %v", key, ids)
			}
			if ids[0] == 0 && ids[1] == 0 {
				t.Fatalf("key %s: neither call answered: %v", key, codes)
			}
			t.Logf("key %s: notes %v, refusals %v", key, ids, codes)
		}
	})

	t.Run("a breaker opens on its own instance only", func(t *testing.T) {
		c := direct(2, keys.other)
		pgProxy.Cut()
		defer pgProxy.Restore()
		for i := 0; fleet[2].srv.layers.pgBreaker.State() != "open"; i++ {
			if i == 30 {
				t.Fatalf("instance 2's postgres breaker still %s", fleet[2].srv.layers.pgBreaker.State())
			}
			// Fresh customers: cache misses reach PostgreSQL.
			_, _, ref := call(t, c, toolGetCustomer, map[string]any{"customer_id": fmt.Sprintf("C-%06d", 5000+i)})
			if ref == nil || ref.Code != bulwark.CodeUnavailable {
				t.Fatalf("instance 2 with its database cut: %+v", ref)
			}
		}
		for i, f := range fleet {
			want := map[bool]string{true: "open", false: "closed"}[i == 2]
			if got := f.srv.layers.pgBreaker.State(); string(got) != want {
				t.Errorf("instance %d: postgres breaker %s, want %s", i, got, want)
			}
			// The gauge is set on state changes: the instance whose breaker
			// opened says so, the others have nothing open to report.
			metrics := adminGet(t, f, "/metrics")
			open := strings.Contains(metrics, `bulwark_breaker_state{name="postgres",state="open"} 1`)
			if open != (i == 2) {
				t.Errorf("instance %d: postgres breaker open in its metrics: %t\n%s", i, open, grepLines(metrics, "breaker_state"))
			}
			code := adminStatus(t, f, "/readyz")
			if (code == http.StatusOK) != (i != 2) {
				t.Errorf("instance %d: /readyz %d", i, code)
			}
		}
		// The others serve the same principal meanwhile.
		mustOK(t, direct(0, keys.other), toolGetCustomer, map[string]any{"customer_id": "C-006001"}, nil)
	})

	t.Run("one audit table, one chain per instance", func(t *testing.T) {
		pgProxy.Restore()
		for _, f := range fleet {
			if err := f.http.Shutdown(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			if err := f.srv.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		sink, err := pgaudit.New(conn, pgaudit.Config{Table: "audit_records"})
		if err != nil {
			t.Fatal(err)
		}
		k, _ := hex.DecodeString(auditKey)
		reps, err := sink.VerifyChains(ctx, k, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) != len(fleet) {
			t.Fatalf("%d chains, want one per instance: %+v", len(reps), reps)
		}
		calls := 0
		for _, r := range reps {
			if r.Err != nil || !r.Sealed || r.Records < 3 {
				t.Errorf("chain %q: %+v", r.Instance, r)
			}
			calls += r.Records - 2 // less the start record and the seal
		}
		var rows int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM audit_records WHERE kind = 'call'`).Scan(&rows); err != nil || rows != calls {
			t.Fatalf("%d call records, chains hold %d: %v", rows, calls, err)
		}
	})
}

func decodeInto(t *testing.T, res *mcp.CallToolResult, out any) {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func pgxQueryRow(t *testing.T, db, sql string, args ...any) pgx.Row {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn.QueryRow(ctx, sql, args...)
}

func adminGet(t *testing.T, f *fixture, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + f.http.AdminAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func adminStatus(t *testing.T, f *fixture, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + f.http.AdminAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFleetThroughput measures get_customer calls per second (cache off,
// so every call reaches PostgreSQL) from 16 clients against one instance
// and against three behind the balancer. It is a measurement, not a
// check, and runs only with BULWARK_FLEET_LOAD=1:
//
//	BULWARK_FLEET_LOAD=1 go test -run TestFleetThroughput -v ./examples/customer
func TestFleetThroughput(t *testing.T) {
	// Under go test it runs briefly and checks that every call through the
	// balancer is served; BULWARK_FLEET_LOAD=1 runs it long enough for the
	// figures in the README.
	d := time.Second
	if os.Getenv("BULWARK_FLEET_LOAD") == "1" {
		d = 3 * time.Second
	}
	addr := testenv.RedisAddr(t)
	prefix := testenv.RedisPrefix(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	fleet := make([]*fixture, 3)
	for i := range fleet {
		fleet[i] = newFixtureOn(t, db, keys, func(env map[string]string) {
			env["REDIS_URL"] = "redis://" + addr + "/0"
			env["REDIS_PREFIX"] = prefix
			env["MCP_STATELESS"] = "true"
			env["ENABLE_CACHING"] = "false"
			env["DB_MAX_CONNS"] = "4"
		})
	}
	lb := newRoundRobin(t, fleet)
	const clients = 16
	run := func(url string) float64 {
		sessions := make([]*mcp.ClientSession, clients)
		for i := range sessions {
			sessions[i] = connectHTTP(t, url, keys.reader)
		}
		var n atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(d)
		for i, cs := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; time.Now().Before(stop); j++ {
					mustOK(t, cs, toolGetCustomer, map[string]any{"customer_id": fmt.Sprintf("C-%06d", 1+(i*997+j)%9000)}, nil)
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / d.Seconds()
	}
	one := run(fleet[0].http.URL())
	three := run(lb.URL + "/mcp")
	if one == 0 || three == 0 {
		t.Fatalf("calls/s: 1 instance %.0f, 3 instances %.0f: a fleet that serves nothing", one, three)
	}
	t.Logf("%d clients, %v each, GOMAXPROCS=%d: 1 instance %.0f calls/s, 3 instances behind the balancer %.0f calls/s (x%.2f)",
		clients, d, runtime.GOMAXPROCS(0), one, three, three/one)
}

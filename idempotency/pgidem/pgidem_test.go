package pgidem_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/idempotencytest"
	"github.com/bulwark-mcp/bulwark/idempotency/pgidem"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newStore returns a store on a fresh database, its table created, and
// the pool it uses. addr, when set, replaces the database's host:port
// (a proxy in front of it).
func newStore(t *testing.T, addr string, c pgidem.Config) (*pgidem.Store, *pgxpool.Pool) {
	t.Helper()
	dsn := testenv.NewDatabase(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// 16 connections: the suite's 64 concurrent claims queue for them, and
	// other packages' tests keep their share of max_connections.
	cfg.MaxConns = 16
	if addr != "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
		cfg.ConnConfig.ConnectTimeout = 500 * time.Millisecond
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := pgidem.New(pool, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, pool
}

func TestConformance(t *testing.T) {
	idempotencytest.Run(t, idempotencytest.Harness{
		New: func(t *testing.T) idempotency.Store {
			s, _ := newStore(t, "", pgidem.Config{})
			return s
		},
	})
}

// A schema-qualified table with a name that needs quoting works, and the
// table is created once however often CreateTable runs.
func TestQualifiedTable(t *testing.T) {
	s, pool := newStore(t, "", pgidem.Config{Table: "public.Idem Keys"})
	ctx := context.Background()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	if _, ok, err := s.Claim(ctx, "k", "t", "fp", time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM public."Idem Keys"`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows %d %v", n, err)
	}
	for _, bad := range []string{"a.b.c", "a.", ".b"} {
		if _, err := pgidem.New(pool, pgidem.Config{Table: bad}); err == nil {
			t.Errorf("table %q accepted", bad)
		}
	}
	if _, err := pgidem.New(nil, pgidem.Config{}); err == nil {
		t.Error("nil pool accepted")
	}
}

// Expiry runs on the database's clock, so the suite cannot drive it:
// check that entries get the right expiry, and that an expired entry
// (moved into the past by hand) can be claimed again.
func TestExpiry(t *testing.T) {
	st, pool := newStore(t, "", pgidem.Config{})
	ctx := context.Background()
	if _, ok, err := st.Claim(ctx, "exp-key", "t1", "fp", time.Hour); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	var left time.Duration
	if err := pool.QueryRow(ctx, `SELECT (extract(epoch FROM expires_at - now()) * 1e6)::bigint * 1000 FROM idempotency_keys WHERE key = 'exp-key'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left < 59*time.Minute || left > 61*time.Minute {
		t.Fatalf("expires in %v, want about 1h", left)
	}
	if _, ok, _ := st.Claim(ctx, "exp-key", "t2", "fp", time.Hour); ok {
		t.Fatal("a live key was claimed twice")
	}
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'exp-key'`); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.Claim(ctx, "exp-key", "t2", "fp2", time.Hour); err != nil || !ok {
		t.Fatalf("an expired key was not claimable: %v %v", ok, err)
	}
	if err := st.Complete(ctx, "exp-key", "t1", idempotency.Entry{Fingerprint: "fp", Done: true}, time.Hour); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("the old owner completed a key it lost: %v", err)
	}
}

// When the database is cut off, the layer refuses keyed calls as
// unavailable (it fails closed) without running them, and once the
// database is back the key replays the result stored before the cut.
func TestDatabaseCut(t *testing.T) {
	proxy, err := bulwarktest.StartProxy("127.0.0.1:0", pgAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	store, _ := newStore(t, proxy.Addr(), pgidem.Config{})
	runs := 0
	mw, err := idempotency.New(store, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		runs++
		return bulwarktest.TextResult("done"), nil
	})
	call := func(key string) (*mcp.CallToolResult, error) {
		req := bulwarktest.Request("add_note", map[string]any{"idempotency_key": key})
		ctx, c := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "add_note"})
		c.SetPrincipal(&bulwark.Principal{ID: "alice"})
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return h(ctx, req)
	}
	if _, err := call("k1"); err != nil || runs != 1 {
		t.Fatalf("before the cut: %v, runs %d", err, runs)
	}
	proxy.Cut()
	if _, err := call("k2"); !errors.Is(err, bulwark.CodeUnavailable) || runs != 1 {
		t.Fatalf("database cut: %v, runs %d; want unavailable without running", err, runs)
	}
	proxy.Restore()
	res, err := call("k1")
	if err != nil || res.Meta[idempotency.ReplayMetaKey] != true || runs != 1 {
		t.Fatalf("after restore: %v %v, runs %d; want the stored result replayed", res, err, runs)
	}
}

// pgAddr is the host:port of the test PostgreSQL.
func pgAddr(t *testing.T) string {
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

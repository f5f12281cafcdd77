package pgaudit_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/audittest"
	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
)

// newPool returns a pool on a fresh database, closed at cleanup.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// migratedSink returns a Sink over pool with its table created.
func migratedSink(t *testing.T, pool *pgxpool.Pool, table string) *pgaudit.Sink {
	t.Helper()
	sink, err := pgaudit.New(pool, pgaudit.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink
}

// pgThroughProxy returns a pool on a fresh database reached through a
// fault proxy the test owns.
func pgThroughProxy(t *testing.T) (*pgxpool.Pool, *bulwarktest.Proxy) {
	t.Helper()
	dbURL := testenv.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := bulwarktest.StartProxy("127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	u.Host = proxy.Addr()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, proxy
}

func TestSink(t *testing.T) {
	pool, _ := pgThroughProxy(t)
	ctx := context.Background()
	sink := migratedSink(t, pool, "")
	ks, err := pgaudit.NewErasureKeys(pool, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	clock := bulwarktest.NewFakeClock(t0)
	l := newLogger(t, sink, audit.Config{ErasureKeys: ks, Clock: clock})
	for i, who := range []string{"alice", "bob", "alice", "bob"} {
		mw := bulwark.Chain(audit.Middleware(l), asPrincipal(who))
		req := bulwarktest.Request("update_email", map[string]any{"email": who + "@example.com", "i": i})
		cctx, c := bulwarktest.Context(ctx, req, nil)
		c.Start = clock.Now()
		if _, err := mw((&bulwarktest.Recorder{}).Handle)(cctx, req); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
	}
	if err := l.Purge(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if rep, err := sink.Verify(ctx, testKey, false); err != nil || rep.Records != 6 || rep.Purges != 1 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// Retention drops the first two calls and keeps the chain verifiable.
	n, err := l.Prune(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := sink.Verify(ctx, testKey, true)
	if err != nil || !rep.Anchored || !rep.Sealed || rep.FirstSeq != 4 {
		t.Fatalf("verify after retention: %+v %v", rep, err)
	}
	// A second Logger continues the chain from the table.
	l2 := newLogger(t, sink, audit.Config{})
	if err := l2.Log(ctx, &audit.Record{Kind: audit.KindCall, Tool: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := l2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Verify(ctx, testKey, true); err != nil {
		t.Fatal(err)
	}
	// Tampering with a row is caught.
	if _, err := pool.Exec(ctx, `UPDATE audit_records SET line = replace(line, '"update_email"', '"noop"') WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Verify(ctx, testKey, true); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("edited row: %v", err)
	}
}

func TestSinkFailures(t *testing.T) {
	for _, buffer := range []int{0, 1024} {
		t.Run(map[int]string{0: "no buffer", 1024: "buffer"}[buffer], func(t *testing.T) {
			pool, proxy := pgThroughProxy(t)
			ctx := context.Background()
			sink := migratedSink(t, pool, "trail")
			clock := bulwarktest.NewFakeClock(time.Unix(1_800_000_000, 0))
			l := newLogger(t, sink, audit.Config{BufferSize: buffer, Clock: clock, WriteTimeout: 20 * time.Second, Log: slog.New(slog.DiscardHandler)})
			mw := audit.Middleware(l)
			rec := &bulwarktest.Recorder{}
			if _, err, _ := call(t, ctx, mw, rec.Handle, "t", nil); err != nil {
				t.Fatal(err)
			}
			// A cut connection fails at once, well inside WriteTimeout
			// (generous, so that reconnecting after Restore on a busy
			// machine is not mistaken for a failure).
			proxy.Cut()
			start := time.Now()
			_, err, _ := call(t, ctx, mw, rec.Handle, "t", nil)
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("call took %v with the database cut", d)
			}
			switch buffer {
			case 0:
				if !errors.Is(err, bulwark.CodeUnavailable) {
					t.Fatalf("no buffer: %v", err)
				}
				_, err, _ = call(t, ctx, mw, rec.Handle, "t", nil)
				if !errors.Is(err, bulwark.CodeUnavailable) || len(rec.Calls()) != 2 {
					t.Fatalf("second call: %v, handler ran %d times", err, len(rec.Calls()))
				}
			default:
				if err != nil || l.Stats().Buffered != 1 {
					t.Fatalf("buffer: %v %+v", err, l.Stats())
				}
			}
			if st := l.Stats(); !st.Down || st.Failures == 0 {
				t.Fatalf("stats %+v", st)
			}
			proxy.Restore()
			clock.Advance(time.Second)
			if buffer > 0 {
				if err := l.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err, _ := call(t, ctx, mw, rec.Handle, "t", nil); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(ctx); err != nil {
				t.Fatal(err)
			}
			rep, err := sink.Verify(ctx, testKey, true)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]int{0: 4, 1024: 5}[buffer]
			if rep.Records != want {
				t.Fatalf("report %+v, want %d records", rep, want)
			}
		})
	}
}

func TestDDLNames(t *testing.T) {
	for _, bad := range []string{"Audit", "a;drop table x", "a.b.c", `"x"`, "1abc"} {
		if _, err := pgaudit.DDL(bad); err == nil {
			t.Errorf("table %q accepted", bad)
		}
	}
	if _, err := pgaudit.DDL("ops.audit_trail"); err != nil {
		t.Fatal(err)
	}
}

func TestErasureKeys(t *testing.T) {
	pool := newPool(t)
	ks, err := pgaudit.NewErasureKeys(pool, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	audittest.Run(t, func(*testing.T) audit.ErasureKeys { return ks })
}

func TestConcurrentWriters(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	sink := migratedSink(t, pool, "")
	l := newLogger(t, sink, audit.Config{})
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if err := l.Log(ctx, &audit.Record{Tool: "t"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := sink.Verify(ctx, testKey, true)
	if err != nil || rep.Records != 1+64*5+1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

func TestWriteBatchIsIdempotent(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	sink := migratedSink(t, pool, "")
	// Sign three records without storing them, then store them twice.
	var recs []*audit.Record
	collect := namedSink{audit.SinkFunc(func(_ context.Context, r *audit.Record) error { recs = append(recs, r); return nil }), sink.Instance()}
	l := newLogger(t, collect, audit.Config{})
	for _, tool := range []string{"a", "b", "c"} {
		if err := l.Log(ctx, &audit.Record{Tool: tool}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := sink.WriteBatch(ctx, recs); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if err := sink.Write(ctx, recs[1]); err != nil {
			t.Fatalf("single write %d: %v", i, err)
		}
	}
	// A different record under a taken sequence number is refused.
	other := newLogger(t, collect, audit.Config{})
	if err := other.Log(ctx, &audit.Record{Tool: "intruder"}); err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteBatch(ctx, recs[3:]); err == nil {
		t.Fatal("conflicting batch accepted")
	}
	if err := sink.Write(ctx, recs[4]); err == nil {
		t.Fatal("conflicting record accepted")
	}
	if rep, err := sink.Verify(ctx, testKey, false); err != nil || rep.Records != 4 {
		t.Fatalf("report %+v %v", rep, err)
	}
}

// namedSink is a sink that writes the chain of one instance of a shared
// trail, like a pgaudit.Sink.
type namedSink struct {
	audit.SinkFunc
	name string
}

func (s namedSink) Instance() string { return s.name }

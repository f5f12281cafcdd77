package pgaudit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
)

// fleet is a shared audit table and the database URL its instances
// connect to, each with a pool of its own, as separate processes would.
type fleet struct {
	t     *testing.T
	url   string
	admin *pgxpool.Pool
	ks    *pgaudit.ErasureKeys
}

const fleetTable = "fleet_trail"

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{t: t, url: testenv.NewDatabase(t)}
	f.admin = f.pool()
	migratedSink(t, f.admin, fleetTable)
	ks, err := pgaudit.NewErasureKeys(f.admin, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.ks = ks
	return f
}

// pool opens a small pool: the database server is shared.
func (f *fleet) pool() *pgxpool.Pool {
	f.t.Helper()
	cfg, err := pgxpool.ParseConfig(f.url)
	if err != nil {
		f.t.Fatal(err)
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(pool.Close)
	return pool
}

// instance starts one instance: its own pool, sink and Logger on the
// shared table and key store. name "" keeps the sink's default name.
func (f *fleet) instance(name string, clock bulwark.Clock) (*pgaudit.Sink, *audit.Logger) {
	f.t.Helper()
	sink, err := pgaudit.New(f.pool(), pgaudit.Config{Table: fleetTable, Instance: name})
	if err != nil {
		f.t.Fatal(err)
	}
	return sink, newLogger(f.t, sink, audit.Config{ErasureKeys: f.ks, Clock: clock})
}

// callAs makes one audited call as principal who, at the time of clock
// (nil: now).
func callAs(t *testing.T, l *audit.Logger, clock bulwark.Clock, who string) {
	t.Helper()
	mw := bulwark.Chain(audit.Middleware(l), asPrincipal(who))
	req := bulwarktest.Request("t", map[string]any{"who": who})
	ctx, c := bulwarktest.Context(context.Background(), req, nil)
	if clock != nil {
		c.Start = clock.Now()
	}
	if _, err := mw((&bulwarktest.Recorder{}).Handle)(ctx, req); err != nil {
		t.Error(err)
	}
}

// sink is a verifier's view of the table.
func (f *fleet) sink() *pgaudit.Sink {
	f.t.Helper()
	sink, err := pgaudit.New(f.admin, pgaudit.Config{Table: fleetTable})
	if err != nil {
		f.t.Fatal(err)
	}
	return sink
}

func (f *fleet) verify(requireSeal bool) map[string]pgaudit.ChainVerification {
	f.t.Helper()
	reps, err := f.sink().VerifyChains(context.Background(), testKey, requireSeal)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make(map[string]pgaudit.ChainVerification, len(reps))
	for _, r := range reps {
		out[r.Instance] = r
	}
	return out
}

// TestFleetSharesOneTable runs several instances, each with its own pool
// and Logger, writing concurrently to one table; then tampers with one
// instance's rows in several ways: only the chains touched fail.
func TestFleetSharesOneTable(t *testing.T) {
	const instances, callers, calls = 4, 4, 6
	tampers := []struct {
		name string
		sql  string // on instance i1's rows
		bad  map[string]string
	}{
		{"edited", `UPDATE fleet_trail SET line = replace(line, '"tool":"t"', '"tool":"x"') WHERE instance = 'i1' AND seq = 3`,
			map[string]string{"i1": "MAC mismatch"}},
		{"deleted", `DELETE FROM fleet_trail WHERE instance = 'i1' AND seq = 4`,
			map[string]string{"i1": "expected seq 4"}},
		{"moved to another chain", `UPDATE fleet_trail SET instance = 'i2', seq = 1000 WHERE instance = 'i1' AND seq = 5`,
			map[string]string{"i1": "expected seq 5", "i2": `record of instance "i1" stored in the chain of instance "i2"`}},
		// A chain's first problem is its report: a foreign row late in a
		// chain does not hide an earlier edit.
		{"edited, and a row moved in after it", `UPDATE fleet_trail SET line = replace(line, '"tool":"t"', '"tool":"x"') WHERE instance = 'i2' AND seq = 3;
UPDATE fleet_trail SET instance = 'i2', seq = 1000 WHERE instance = 'i1' AND seq = 5`,
			map[string]string{"i1": "expected seq 5", "i2": "MAC mismatch"}},
		{"cut after the last seal", `DELETE FROM fleet_trail WHERE instance = 'i1' AND kind = 'seal'`,
			map[string]string{"i1": "without a seal"}},
	}
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t)
			var wg sync.WaitGroup
			loggers := make([]*audit.Logger, instances)
			for i := range loggers {
				_, loggers[i] = f.instance(fmt.Sprintf("i%d", i), nil)
			}
			for _, l := range loggers {
				for c := 0; c < callers; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n := 0; n < calls; n++ {
							callAs(t, l, nil, fmt.Sprintf("user%d", c))
						}
					}()
				}
			}
			wg.Wait()
			for _, l := range loggers {
				if err := l.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			reps := f.verify(true)
			if len(reps) != instances {
				t.Fatalf("%d chains reported, want %d: %+v", len(reps), instances, reps)
			}
			if rep, err := f.sink().Verify(context.Background(), testKey, true); err != nil || rep.Records != instances*(1+callers*calls+1) || !rep.Sealed || rep.Seals != instances {
				t.Fatalf("Verify of the whole table: %+v %v", rep, err)
			}
			for name, r := range reps {
				// A start record, the calls, a seal.
				if r.Err != nil || r.Records != 1+callers*calls+1 || !r.Sealed || r.FirstSeq != 1 {
					t.Fatalf("chain %s before tampering: %+v", name, r)
				}
			}
			if _, err := f.admin.Exec(context.Background(), tc.sql); err != nil {
				t.Fatal(err)
			}
			// Verify sums the table up and names the first failing chain.
			if _, err := f.sink().Verify(context.Background(), testKey, true); !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), `instance "i1"`) {
				t.Errorf("Verify of the whole table: %v", err)
			}
			for name, r := range f.verify(true) {
				want, bad := tc.bad[name]
				switch {
				case !bad && r.Err != nil:
					t.Errorf("untouched chain %s fails: %v", name, r.Err)
				case bad && (!errors.Is(r.Err, audit.ErrTampered) || !strings.Contains(r.Err.Error(), want)):
					t.Errorf("chain %s: %v, want an error naming %q", name, r.Err, want)
				}
			}
		})
	}
}

// TestFleetRestart: a stable instance name continues its chain after a
// restart; the default name starts a new chain each time, leaving the old
// one sealed (clean stop) or open (crash).
func TestFleetRestart(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()

	// A stable name: two runs, one chain, one start record, two seals.
	for run := 0; run < 2; run++ {
		_, l := f.instance("pod-0", nil)
		callAs(t, l, nil, "alice")
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The default name: a clean run, then a crashed one, then a new one.
	clean, l := f.instance("", nil)
	callAs(t, l, nil, "bob")
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	crashed, l := f.instance("", nil)
	callAs(t, l, nil, "bob") // never closed: the process died
	next, _ := f.instance("", nil)
	if clean.Instance() == crashed.Instance() || crashed.Instance() == next.Instance() {
		t.Fatalf("default names repeat: %q %q %q", clean.Instance(), crashed.Instance(), next.Instance())
	}

	reps := f.verify(false)
	if r := reps["pod-0"]; r.Err != nil || r.Records != 5 || r.Seals != 2 || !r.Sealed || r.LastSeq != 5 {
		t.Errorf("stable name across restarts: %+v", r)
	}
	if r := reps[clean.Instance()]; r.Err != nil || r.Records != 3 || !r.Sealed {
		t.Errorf("cleanly stopped chain: %+v", r)
	}
	if r := reps[crashed.Instance()]; r.Err != nil || r.Records != 2 || r.Sealed || r.LastTime.IsZero() {
		t.Errorf("crashed chain, open: %+v", r)
	}
	if r := reps[next.Instance()]; r.Err != nil || r.Records != 1 || r.Sealed {
		t.Errorf("running chain: %+v", r)
	}
	var starts int
	if err := f.admin.QueryRow(ctx, `SELECT count(*) FROM fleet_trail WHERE instance = 'pod-0' AND kind = 'start'`).Scan(&starts); err != nil || starts != 1 {
		t.Errorf("pod-0 start records: %d, %v", starts, err)
	}
	// Requiring seals, the crashed and the running chains fail, alone.
	for name, r := range f.verify(true) {
		open := name == crashed.Instance() || name == next.Instance()
		if open != errors.Is(r.Err, audit.ErrTampered) {
			t.Errorf("chain %s with seals required: %v", name, r.Err)
		}
	}
	for _, bad := range []string{"bad\nname", strings.Repeat("x", 129), "\xff"} {
		if _, err := pgaudit.New(f.admin, pgaudit.Config{Table: fleetTable, Instance: bad}); err == nil {
			t.Errorf("instance name %q accepted", bad)
		}
	}
}

// TestFleetPurgeAndRetention: one instance's Purge erases the subject in
// every chain; one instance's Prune drops the old prefix of every chain,
// and every chain still verifies while its instance keeps writing.
func TestFleetPurgeAndRetention(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := bulwarktest.NewFakeClock(t0)
	_, a := f.instance("a", clock)
	_, b := f.instance("b", clock)
	_, c := f.instance("c", clock)
	for hour := 0; hour < 3; hour++ {
		callAs(t, a, clock, "alice")
		callAs(t, b, clock, "alice")
		callAs(t, b, clock, "bob")
		clock.Advance(time.Hour)
	}
	if err := c.Purge(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	rows, err := f.admin.Query(ctx, `SELECT line FROM fleet_trail WHERE kind = 'call'`)
	if err != nil {
		t.Fatal(err)
	}
	opened := map[string]int{}
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		r, err := audit.ParseRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.Open(ctx, f.ks)
		switch {
		case errors.Is(err, audit.ErrKeyDestroyed):
			opened[r.Instance+"/erased"]++
		case err != nil:
			t.Fatal(err)
		default:
			opened[r.Instance+"/"+p.Principal]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"a/erased": 3, "b/erased": 3, "b/bob": 3}; fmt.Sprint(opened) != fmt.Sprint(want) {
		t.Fatalf("after purging alice from c: %v, want %v", opened, want)
	}

	// Retention from instance a: every chain loses its records before
	// t0+90m (a: start and two calls, b: start and four calls, c: start).
	n, err := a.Prune(ctx, t0.Add(90*time.Minute))
	if err != nil || n != 3+5+1 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	callAs(t, b, clock, "bob") // b keeps writing behind its anchor
	reps := f.verify(false)
	for _, name := range []string{"a", "b", "c"} {
		if r := reps[name]; r.Err != nil || !r.Anchored {
			t.Errorf("chain %s after retention: %+v", name, r)
		}
	}
	if r := reps["c"]; r.Purges != 1 {
		t.Errorf("the purge record is in the purging instance's chain: %+v", r)
	}
	for _, l := range []*audit.Logger{a, b, c} {
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range f.verify(true) {
		if r.Err != nil {
			t.Errorf("chain %s at the end: %v", name, r.Err)
		}
	}
}

// TestPostgresMigrateUpgradesOneChainTable: a table made before chains had
// instances keeps its trail as the chain of instance "", and the fleet
// writes, verifies and prunes beside it.
func TestPostgresMigrateUpgradesOneChainTable(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE fleet_trail (
	seq bigint PRIMARY KEY, time timestamptz NOT NULL, kind text NOT NULL,
	correlation_id text NOT NULL DEFAULT '', session_id text NOT NULL DEFAULT '', tool text NOT NULL DEFAULT '',
	outcome text NOT NULL DEFAULT '', key_id text NOT NULL DEFAULT '', line text NOT NULL);
CREATE TABLE fleet_trail_anchor (id boolean PRIMARY KEY DEFAULT true CHECK (id), seq bigint NOT NULL, line text NOT NULL);`); err != nil {
		t.Fatal(err)
	}
	// An old trail of one chain, without instances.
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old := &memSink{}
	ol := newLogger(t, old, audit.Config{Clock: bulwarktest.NewFakeClock(t0)})
	for i := 0; i < 3; i++ {
		if err := ol.Log(ctx, &audit.Record{Tool: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ol.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range old.records() {
		if _, err := pool.Exec(ctx, `INSERT INTO fleet_trail (seq, time, kind, line) VALUES ($1, $2, $3, $4)`, int64(r.Seq), r.Time, r.Kind, string(r.Line())); err != nil {
			t.Fatal(err)
		}
	}
	sink := migratedSink(t, pool, fleetTable)
	if err := sink.Migrate(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	l := newLogger(t, sink, audit.Config{})
	if err := l.Log(ctx, &audit.Record{Tool: "t"}); err != nil {
		t.Fatal(err)
	}
	// The old chain keeps its seal: it stays a finished chain.
	if n, err := l.Prune(ctx, t0.Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	reps, err := sink.VerifyChains(ctx, testKey, true)
	if err != nil || len(reps) != 2 {
		t.Fatalf("%+v %v", reps, err)
	}
	if r := reps[0]; r.Instance != "" || r.Err != nil || !r.Anchored || !r.Sealed || r.Records != 2 {
		t.Errorf("the old chain: %+v", r)
	}
	if r := reps[1]; r.Instance != sink.Instance() || r.Err != nil || r.Records != 4 {
		t.Errorf("the new chain: %+v", r)
	}
}

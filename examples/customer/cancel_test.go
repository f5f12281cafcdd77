package main

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stopBound is how soon after a call ends (cancelled by the client or past
// its deadline) its PostgreSQL statement must be gone from the server.
const stopBound = 100 * time.Millisecond

// TestCancellationStopsTheQuery holds a row lock so that
// update_customer_email waits behind it on PostgreSQL, then ends the call
// from outside: the client cancels it (the SDK sends
// notifications/cancelled) or the call's deadline passes. Within stopBound
// the statement must be gone from pg_stat_activity, the pool connection
// must be returned, and once the lock is released the update must not
// happen after all.
func TestCancellationStopsTheQuery(t *testing.T) {
	const id = "C-000042"
	type ending struct {
		name string
		env  map[string]string
		// end ends the call; it returns when the call is over for the
		// client, with the time from which stopBound counts.
		end func(cancel context.CancelFunc, done <-chan error) time.Time
	}
	// The client cancels: the time counts from its cancel.
	clientCancels := func(cancel context.CancelFunc, done <-chan error) time.Time {
		at := time.Now()
		cancel()
		<-done
		return at
	}
	endings := []ending{
		{
			name: "client cancels",
			env:  map[string]string{"TOOL_TIMEOUT": "30s"},
			end:  clientCancels,
		},
		{
			name: "client cancels, bare server",
			env:  map[string]string{"BULWARK_DISABLE": "1"},
			end:  clientCancels,
		},
		{
			name: "deadline",
			env:  map[string]string{"TOOL_TIMEOUT": "700ms"},
			end: func(_ context.CancelFunc, done <-chan error) time.Time {
				<-done // the deadline-exceeded refusal arrives at the deadline
				return time.Now()
			},
		},
	}
	calls := []struct {
		tool string
		args map[string]any
		// lock is taken by the test, in a transaction, before the call.
		lock string
		// changed reports whether the call took effect after all.
		changed string
	}{
		{toolUpdateEmail, map[string]any{"customer_id": id, "new_email": "stolen-by-cancel@example.com"},
			`SELECT 1 FROM customers WHERE id = 'C-000042' FOR UPDATE`,
			`SELECT count(*) FROM customers WHERE email = 'stolen-by-cancel@example.com'`},
		{toolAddNote, map[string]any{"customer_id": id, "body": "written after all", "idempotency_key": "cancel-test-key-1"},
			`SELECT 1 FROM customers WHERE id = 'C-000042' FOR UPDATE`,
			`SELECT count(*) FROM customer_notes WHERE body = 'written after all'`},
		{toolGetCustomer, map[string]any{"customer_id": id},
			`LOCK TABLE customers IN ACCESS EXCLUSIVE MODE`, ""},
		{toolSearchCustomers, map[string]any{"query": "lovelace"},
			`LOCK TABLE customers IN ACCESS EXCLUSIVE MODE`, ""},
		{toolOverview, map[string]any{"customer_id": id},
			`LOCK TABLE customers IN ACCESS EXCLUSIVE MODE`, ""},
	}
	for _, e := range endings {
		for _, c := range calls {
			t.Run(e.name+"/"+c.tool, func(t *testing.T) {
				f := newFixture(t, func(env map[string]string) {
					// PostgreSQL's own bound far away: only cancellation
					// can stop the statement in time.
					env["DB_STATEMENT_TIMEOUT"] = "20s"
					for k, v := range e.env {
						env[k] = v
					}
				})
				admin := f.connect(f.keys.admin)
				ctx := context.Background()
				// A second session watches: pg_stat_activity is a
				// snapshot taken once per transaction.
				watch, err := pgx.Connect(ctx, f.db)
				if err != nil {
					t.Fatal(err)
				}
				defer watch.Close(ctx)
				lock, err := pgx.Connect(ctx, f.db)
				if err != nil {
					t.Fatal(err)
				}
				defer lock.Close(ctx)
				tx, err := lock.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				if _, err := tx.Exec(ctx, c.lock); err != nil {
					t.Fatal(err)
				}

				callCtx, cancel := context.WithCancel(ctx)
				defer cancel()
				done := make(chan error, 1)
				go func() {
					_, err := admin.CallTool(callCtx, &mcp.CallToolParams{Name: c.tool, Arguments: c.args})
					done <- err
				}()

				pollUntil(t, 10*time.Second, "the call waits on the lock", func() bool {
					return len(waiting(t, watch)) > 0
				})
				pids := waiting(t, watch)

				ended := e.end(cancel, done)
				var gone time.Duration
				pollUntil(t, 5*time.Second, "the statement leaves pg_stat_activity", func() bool {
					if len(waiting(t, watch)) == 0 {
						gone = time.Since(ended)
						return true
					}
					return false
				})
				t.Logf("statement gone %v after the call ended", gone)
				if gone > stopBound {
					t.Errorf("statement still waiting %v after the call ended, want at most %v", gone, stopBound)
				}
				pollUntil(t, 2*time.Second, "the pool connections are returned", func() bool {
					return f.srv.store.write.Stat().AcquiredConns() == 0 && f.srv.store.read.Stat().AcquiredConns() == 0
				})
				// Released, not thrown away: the backends that waited are
				// still connected, idle in the pool.
				var idle int
				if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'idle'`, pids).Scan(&idle); err != nil {
					t.Fatal(err)
				}
				if idle != len(pids) {
					t.Errorf("%d of the %d connections that ran the statement are idle in the pool; the others were closed", idle, len(pids))
				}

				// Release the lock: a statement that was merely abandoned
				// would now run and take effect.
				if err := tx.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				if c.changed != "" {
					time.Sleep(50 * time.Millisecond)
					var n int
					if err := watch.QueryRow(ctx, c.changed).Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n != 0 {
						t.Fatalf("%s took effect after the call ended", c.tool)
					}
				}
				// The pools still serve.
				mustOK(t, admin, toolGetCustomer, map[string]any{"customer_id": id}, nil)
			})
		}
	}
}

// waiting lists the server backends whose statement waits on a lock.
func waiting(t *testing.T, conn *pgx.Conn) []int32 {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name LIKE 'customer-mcp-%'`)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// pollUntil polls cond every 2ms until it holds or d passes.
func pollUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCancellationStopsTheQueryOverStdio: the same over stdio, with the
// server as a subprocess: the client's cancellation reaches PostgreSQL.
func TestCancellationStopsTheQueryOverStdio(t *testing.T) {
	bin := buildBinary(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	env := testEnvMap(db, keys)
	env["MCP_API_KEY"] = keys.admin
	env["DB_STATEMENT_TIMEOUT"] = "20s"
	cmd := exec.Command(bin)
	cmd.Env = envList(env)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-cancel", Version: "v0"}, nil)
	ctx := context.Background()
	cctx, cancelConnect := context.WithTimeout(ctx, 60*time.Second)
	defer cancelConnect()
	cs, err := client.Connect(cctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer cs.Close()

	watch, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	lock, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(ctx)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM customers WHERE id = 'C-000042' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(callCtx, &mcp.CallToolParams{Name: toolUpdateEmail,
			Arguments: map[string]any{"customer_id": "C-000042", "new_email": "stolen-over-stdio@example.com"}})
		done <- err
	}()
	pollUntil(t, 10*time.Second, "the call waits on the lock", func() bool { return len(waiting(t, watch)) > 0 })
	pids := waiting(t, watch)
	at := time.Now()
	cancel()
	<-done
	var gone time.Duration
	pollUntil(t, 5*time.Second, "the statement leaves pg_stat_activity", func() bool {
		if len(waiting(t, watch)) == 0 {
			gone = time.Since(at)
			return true
		}
		return false
	})
	t.Logf("statement gone %v after the client cancelled", gone)
	if gone > stopBound {
		t.Errorf("statement still waiting %v after the client cancelled, want at most %v", gone, stopBound)
	}
	pollUntil(t, 2*time.Second, "the connection is idle in the pool", func() bool {
		var idle int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'idle'`, pids).Scan(&idle); err != nil {
			t.Fatal(err)
		}
		return idle == len(pids)
	})
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	var n int
	if err := watch.QueryRow(ctx, `SELECT count(*) FROM customers WHERE email = 'stolen-over-stdio@example.com'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the update took effect after the call ended (%d, %v)", n, err)
	}
}

package pgcall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestRefuse(t *testing.T) {
	already := bulwark.InvalidArgument("customer_id", "no such customer")
	for _, tt := range []struct {
		name string
		err  error
		want bulwark.Code
	}{
		{"nil", nil, ""},
		{"a refusal already", fmt.Errorf("get: %w", already), bulwark.CodeInvalidArgument},
		{"cancelled", fmt.Errorf("query: %w", context.Canceled), bulwark.CodeCanceled},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), bulwark.CodeDeadlineExceeded},
		{"statement_timeout", &pgconn.PgError{Code: "57014"}, bulwark.CodeDeadlineExceeded},
		{"connection failure", &pgconn.PgError{Code: "08006"}, bulwark.CodeUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, bulwark.CodeUnavailable},
		{"out of memory", &pgconn.PgError{Code: "53200"}, bulwark.CodeUnavailable},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, bulwark.CodeUnavailable},
		{"unique violation", &pgconn.PgError{Code: "23505"}, bulwark.CodeInternal},
		{"syntax error", &pgconn.PgError{Code: "42601"}, bulwark.CodeInternal},
		{"a server error without a code", &pgconn.PgError{}, bulwark.CodeInternal},
		{"dial", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, bulwark.CodeUnavailable},
		{"EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), bulwark.CodeUnavailable},
		{"closed", fmt.Errorf("write: %w", net.ErrClosed), bulwark.CodeUnavailable},
		{"pgx's closed connection", errors.New("conn closed"), bulwark.CodeUnavailable},
		{"anything else", errors.New("cannot scan NULL into *string"), bulwark.CodeInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Refuse(tt.err)
			var c bulwark.Code
			if e := bulwark.ErrorOf(got); e != nil {
				c = e.Code
			}
			if c != tt.want {
				t.Fatalf("code %q, want %q (%v)", c, tt.want, got)
			}
			if tt.err != nil && !errors.Is(got, tt.err) {
				t.Fatalf("the cause is lost: %v", got)
			}
		})
	}
	// A refusal is returned as is, wrapping and all.
	wrapped := fmt.Errorf("get: %w", already)
	if got := Refuse(wrapped); got != wrapped {
		t.Fatalf("a refusal was rewrapped: %v", got)
	}
}

func newPool(t *testing.T, statementTimeout time.Duration) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	Configure(cfg.ConnConfig, statementTimeout)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// A statement past statement_timeout is stopped by PostgreSQL and refused
// as deadline exceeded.
func TestStatementTimeout(t *testing.T) {
	pool := newPool(t, 200*time.Millisecond)
	ctx := context.Background()
	var setting string
	if err := pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&setting); err != nil || setting != "200ms" {
		t.Fatalf("statement_timeout %q, %v", setting, err)
	}
	t0 := time.Now()
	_, err := pool.Exec(ctx, "SELECT pg_sleep(10)")
	if took := time.Since(t0); took > 5*time.Second {
		t.Fatalf("the statement ran %v", took)
	}
	if c := bulwark.ErrorOf(Refuse(err)).Code; c != bulwark.CodeDeadlineExceeded {
		t.Fatalf("%v: code %q", err, c)
	}
	if !pgconn.Timeout(err) && !errors.As(err, new(*pgconn.PgError)) {
		t.Fatalf("unexpected error %v", err)
	}
}

// A call's context ending stops its statement on the server, and the
// connection, still good, goes back to the pool: the next statement runs
// on the same backend. (pgx's default closes the connection instead.)
func TestCancelKeepsTheConnection(t *testing.T) {
	pool := newPool(t, 0)
	ctx := context.Background()
	var pid uint32
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := pool.Exec(callCtx, "SELECT pg_sleep(30)")
	if took := time.Since(t0); took > 5*time.Second {
		t.Fatalf("the cancelled statement ran %v", took)
	}
	if c := bulwark.ErrorOf(Refuse(err)).Code; c != bulwark.CodeDeadlineExceeded {
		t.Fatalf("%v: code %q", err, c)
	}
	var again uint32
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&again); err != nil {
		t.Fatal(err)
	}
	if again != pid {
		t.Fatalf("the connection was replaced (backend %d, then %d)", pid, again)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d cancelled statements still run (%v)", left, err)
	}
}

// A server that cannot be reached is unavailable, not internal.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, "postgres://app@"+addr+"/app?connect_timeout=2")
	if c := bulwark.ErrorOf(Refuse(err)).Code; err == nil || c != bulwark.CodeUnavailable {
		t.Fatalf("%v: code %q", err, c)
	}
}

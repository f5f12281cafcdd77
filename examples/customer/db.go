package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The two least-privilege roles created by migrations/0002_roles.sql.
const (
	readerRole = "customer_reader"
	writerRole = "customer_writer"
)

// cancelGrace is how long a cancelled statement's connection waits for the
// server to confirm the cancellation before pgx closes it; lostClientCheck
// is how often a backend busy with a statement checks that its client is
// still there (PostgreSQL 14 and later).
const (
	cancelGrace     = time.Second
	lostClientCheck = time.Second
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockID serializes migrations across instances starting at once
// (pg_advisory_lock is held for the migrator's session only).
const migrationLockID = 0x6275_6c77_6172_6b // "bulwark"

// newPool opens a pool with the configured bounds and timeouts. The
// statement timeout is set per connection by PostgreSQL itself, so even a
// query whose client went away stops on the server.
//
// When a call's context ends (the client sent notifications/cancelled, or
// the call's deadline passed) its statement must stop on the server at
// once and its connection go back to the pool. pgx's default reaction to
// a cancelled context is to give up on the connection: it closes it (after
// asking the server, on a second connection, to cancel the statement), so
// every cancelled call costs a fresh connection and its handshake, and a
// backend whose cancel request got lost keeps waiting behind its lock
// until the lock is released. Instead, a cancelled context sends the
// cancel request right away and waits for the server to end the
// statement, which leaves the connection usable: it returns to the pool.
// Only if the server has not answered within cancelGrace is the
// connection closed, and client_connection_check_interval then makes the
// backend notice its lost client and stop within a second.
func newPool(ctx context.Context, url, app string, s PoolSettings) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx errors can quote the connection string; keep only the kind.
		return nil, errors.New("invalid connection string")
	}
	cfg.MinConns = s.MinConns
	cfg.MaxConns = s.MaxConns
	cfg.HealthCheckPeriod = s.HealthCheckPeriod
	cfg.MaxConnLifetime = s.MaxConnLifetime
	cfg.MaxConnLifetimeJitter = s.MaxConnLifetime / 10
	cfg.MaxConnIdleTime = s.MaxConnIdleTime
	cfg.ConnConfig.ConnectTimeout = s.ConnectTimeout
	cfg.ConnConfig.Tracer = pgxTracer() // otel.go
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(s.StatementTimeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt((2 * s.StatementTimeout).Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	cfg.ConnConfig.RuntimeParams["client_connection_check_interval"] = strconv.FormatInt(lostClientCheck.Milliseconds(), 10)
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// migrate applies the embedded migrations that schema_migrations does not
// list yet, each in its own transaction, under an advisory lock. Running it
// again is a no-op.
func migrate(ctx context.Context, conn *pgx.Conn) (applied []string, err error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockID)); err != nil {
		return nil, fmt.Errorf("migrations: lock: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must happen even if ctx has ended.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, int64(migrationLockID))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	files, err := migrationFiles()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, f.version).Scan(&done); err != nil {
			return applied, fmt.Errorf("migrations: %w", err)
		}
		if done {
			continue
		}
		body, err := migrationFS.ReadFile("migrations/" + f.name)
		if err != nil {
			return applied, err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// Simple protocol: a migration file holds several statements.
			if _, err := tx.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, f.version, f.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", f.name, err)
		}
		applied = append(applied, f.name)
	}
	return applied, nil
}

type migrationFile struct {
	version int
	name    string
}

// migrationFiles lists NNNN_name.sql files in version order.
func migrationFiles() ([]migrationFile, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migrationFile
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			continue // seed files are not migrations
		}
		out = append(out, migrationFile{version: v, name: e.Name()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// seedCustomers is the size of the demo data set.
const seedCustomers = 10_000

// seed inserts the deterministic demo data; rows already present are left
// alone, so it is safe on every start.
func seed(ctx context.Context, conn *pgx.Conn, customers int) error {
	for _, name := range []string{"seed_1_customers.sql", "seed_2_orders.sql"} {
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, string(body), customers); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	return nil
}

// prepareDatabase migrates and (optionally) seeds through one owner
// connection that is closed before serving starts: the server itself never
// holds owner rights.
func prepareDatabase(ctx context.Context, url string, seedData bool, connectTimeout time.Duration, auditTable string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return &ConfigError{Var: "DATABASE_URL", Reason: "not a valid PostgreSQL connection string (value not shown)"}
	}
	cfg.ConnectTimeout = connectTimeout
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to DATABASE_URL (%s): %w", redactURL(url), scrubConnErr(err))
	}
	defer conn.Close(context.Background())
	if _, err := migrate(ctx, conn); err != nil {
		return err
	}
	if auditTable != "" {
		if err := prepareAuditTables(ctx, conn, auditTable); err != nil {
			return err
		}
	}
	if seedData {
		return seed(ctx, conn, seedCustomers)
	}
	return nil
}

// scrubConnErr keeps pgx's reason for a failed connection. pgx v5 names
// host, port, user and database there but never the password; the guard
// below holds even if that changes.
func scrubConnErr(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "password="); i >= 0 {
		return errors.New(msg[:i] + "password=[redacted]")
	}
	return err
}

// prepareAuditTables creates the audit sink's tables (AUDIT_LOG=postgres)
// and lets the writer role append to them and read their tail, nothing
// more: not even the server can rewrite or delete the trail (retention is
// an operator's job, under the owner role).
func prepareAuditTables(ctx context.Context, conn *pgx.Conn, table string) error {
	sink, err := pgaudit.New(conn, pgaudit.Config{Table: table})
	if err != nil {
		return &ConfigError{Var: "AUDIT_LOG", Reason: err.Error()}
	}
	if err := sink.Migrate(ctx); err != nil {
		return fmt.Errorf("audit tables: %w", err)
	}
	for _, t := range []string{table, table + "_anchor"} {
		// Identifiers cannot be parameters; the name was validated by
		// LoadConfig and is quoted here.
		if _, err := conn.Exec(ctx, "GRANT SELECT, INSERT ON "+pgx.Identifier{t}.Sanitize()+" TO "+writerRole); err != nil {
			return fmt.Errorf("audit tables: grant: %w", err)
		}
	}
	return nil
}

package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/bulwark-mcp/bulwark/pgcall"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The two least-privilege roles created by migrations/0002_roles.sql.
const (
	readerRole = "customer_reader"
	writerRole = "customer_writer"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// seedCustomers is the size of the demo data set.
const seedCustomers = 10_000

// newPool opens a pool with the configured bounds and timeouts. A call
// that ends (cancelled by the client, or past its deadline) stops its
// statement on the server at once and its connection goes back to the
// pool; PostgreSQL's statement_timeout stops even a statement whose client
// went away (pgcall.Configure).
func newPool(ctx context.Context, url, app string, s PoolSettings) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx errors can quote the connection string; keep only the kind.
		return nil, errors.New("invalid connection string")
	}
	cfg.MinConns, cfg.MaxConns = s.MinConns, s.MaxConns
	cfg.HealthCheckPeriod = s.HealthCheckPeriod
	cfg.MaxConnLifetime, cfg.MaxConnLifetimeJitter = s.MaxConnLifetime, s.MaxConnLifetime/10
	cfg.MaxConnIdleTime = s.MaxConnIdleTime
	cfg.ConnConfig.ConnectTimeout = s.ConnectTimeout
	// A client span per query, a child of the call's span (otel.go): the
	// statement's text is recorded, its arguments and the user never are.
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithDisableConnectionDetailsInAttributes())
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pgcall.Configure(cfg.ConnConfig, s.StatementTimeout)
	return pgxpool.NewWithConfig(ctx, cfg)
}

// migrate applies, in file name order, the embedded NNNN_name.sql
// migrations that schema_migrations does not list yet, each in its own
// transaction, under an advisory lock that serializes instances starting
// at once (held by this session only). Running it again is a no-op.
func migrate(ctx context.Context, conn *pgx.Conn) error {
	const lockID = 0x6275_6c77_6172_6b // "bulwark"
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(lockID)); err != nil {
		return fmt.Errorf("migrations: lock: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must happen even if ctx has ended.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, int64(lockID))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/[0-9][0-9][0-9][0-9]_*.sql") // sorted; seed files are not migrations
	if err != nil {
		return err
	}
	for _, path := range names {
		name := strings.TrimPrefix(path, "migrations/")
		version, _ := strconv.Atoi(name[:4])
		body, err := migrationFS.ReadFile(path)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, version, name)
			if err != nil || tag.RowsAffected() == 0 {
				return err // applied already
			}
			// Simple protocol: a migration file holds several statements.
			_, err = tx.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// prepareDatabase migrates, prepares the audit tables and (optionally)
// seeds the deterministic demo data (rows already present are left alone)
// through one owner connection that is closed before serving starts: the
// server itself never holds owner rights.
func prepareDatabase(ctx context.Context, c *Config) error {
	cfg, err := pgx.ParseConfig(c.DatabaseURL)
	if err != nil {
		return &ConfigError{Var: "DATABASE_URL", Reason: "not a valid PostgreSQL connection string (value not shown)"}
	}
	cfg.ConnectTimeout = c.DB.ConnectTimeout
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to DATABASE_URL (%s): %w", redactURL(c.DatabaseURL), scrubConnErr(err))
	}
	defer conn.Close(context.Background())
	if err := migrate(ctx, conn); err != nil {
		return err
	}
	if c.AuditTable != "" {
		if err := prepareAuditTables(ctx, conn, c.AuditTable); err != nil {
			return err
		}
	}
	if !c.SeedDemoData {
		return nil
	}
	for _, name := range []string{"seed_1_customers.sql", "seed_2_orders.sql"} {
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, string(body), seedCustomers); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
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

// Package pgcall fits PostgreSQL (through pgx) to the calls of an MCP
// server: a statement stops when its call ends, and a failure reaches the
// chain as the refusal it is.
//
// # What it does
//
// [Configure] sets up a pgx connection configuration (a pool's
// ConnConfig) so that a statement ends on the server as soon as its
// context does — the client sent notifications/cancelled, or the call's
// deadline passed — and its connection goes back to the pool rather than
// being thrown away. PostgreSQL's own statement_timeout bounds what runs
// even if the server loses its client.
//
// [Refuse] maps what a pgx call returned to bulwark's vocabulary, so that
// the client, the audit record, breakers and retries agree on what
// happened: an outage is unavailable (a breaker counts it), a statement
// timeout is deadline exceeded, a cancelled call is cancelled, and
// anything else is internal (the client sees no SQL and no server message;
// the cause stays in the log and audit record).
//
// # Where it sits
//
// Inside a tool handler, around the dependency call, usually within a
// retry.Retrier that runs inside the database's breaker:
//
//	cfg, err := pgxpool.ParseConfig(dsn)
//	if err != nil {
//		return err
//	}
//	pgcall.Configure(cfg.ConnConfig, 2*time.Second)
//	pool, err := pgxpool.NewWithConfig(ctx, cfg)
//	if err != nil {
//		return err
//	}
//	// In a handler:
//	var n int
//	err = pool.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n)
//	return pgcall.Refuse(err)
package pgcall

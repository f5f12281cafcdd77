// Package pgaudit keeps an audit trail in PostgreSQL: a [Sink] for the
// records of audit.Logger and [ErasureKeys] for the per-subject keys that
// make audit.Logger.Purge possible. It lives apart from package audit so
// that a server writing its trail to a file links no PostgreSQL driver.
//
// # What it does
//
// [New] returns a sink that appends signed records to a table ([DDL]
// gives the statements; [Sink.Migrate] runs them), one row per record with the
// signed line kept verbatim, keyed by instance and sequence number. Any
// number of server instances share one table, each writing a hash chain
// of its own (Config.Instance); [Sink.VerifyChains] checks every chain on
// its own, and the command `bulwark-audit verify -db URL` does the same
// from a shell. The sink supports every optional method of audit.Sink:
// batched writes (one statement per group commit), resuming a chain from
// its last row, a health probe, and retention for every chain at once
// behind signed anchors.
//
// [NewErasureKeys] returns audit.ErasureKeys on a table of its own, shared
// by the fleet, so one Purge erases a subject from every chain.
//
// # Where it sits
//
// Behind audit.Logger, which is the outermost layer of the chain:
// audit → recover → metrics → auth → … → handler. Writes are bounded by
// audit.Config.WriteTimeout, so a hung database never hangs a call.
//
// # What it returns on refusal
//
// Nothing of its own: when a write fails, audit.Config.BufferSize decides
// whether calls are refused (bulwark.Unavailable) or their records
// buffered. A row that holds a different record under the same sequence
// number (two live processes under one instance name) is an error, never
// overwritten.
//
// # Example
//
//	key, err := audit.ParseKey(os.Getenv("AUDIT_HMAC_KEY"))
//	if err != nil { return err }
//	sink, err := pgaudit.New(pool, pgaudit.Config{Instance: os.Getenv("POD_NAME")})
//	if err != nil { return err }
//	if err := sink.Migrate(ctx); err != nil { return err }
//	trail, err := audit.New(sink, key, audit.Config{BufferSize: 1024})
//	if err != nil { return err }
//	defer trail.Close(context.Background())
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware())
package pgaudit

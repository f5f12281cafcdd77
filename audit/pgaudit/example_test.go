package pgaudit_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/jackc/pgx/v5/pgxpool"
)

func ExampleDDL() {
	ddl, err := pgaudit.DDL("ops.audit_trail")
	fmt.Println(strings.SplitN(ddl, "\n", 2)[0], err)
	// Output: CREATE TABLE IF NOT EXISTS "ops"."audit_trail" ( <nil>
}

// A fleet appends to one table, each instance to a chain of its own. By
// default a sink is named after the host with a random suffix (a new chain
// per process start); a stable name continues its chain after a restart.
func ExampleNew() {
	// The pool connects on first use: nothing here touches the database.
	pool, err := pgxpool.New(context.Background(), "postgres://app@localhost/app")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	pod, err := pgaudit.New(pool, pgaudit.Config{Table: "audit_records", Instance: "customer-mcp-0"})
	fmt.Println(pod.Instance(), err)
	_, err = pgaudit.New(pool, pgaudit.Config{Instance: "two\nlines"})
	fmt.Println(err)
	// Output:
	// customer-mcp-0 <nil>
	// pgaudit: instance name "two\nlines" must be 1 to 128 bytes of printable UTF-8
}

// Erasure keys live in a schema of their own, away from the trail's
// readers.
func ExampleNewErasureKeys() {
	pool, err := pgxpool.New(context.Background(), "postgres://app@localhost/app")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	keys, err := pgaudit.NewErasureKeys(pool, "audit_private.subject_keys")
	fmt.Println(err)
	_ = audit.Config{ErasureKeys: keys}
	_, err = pgaudit.NewErasureKeys(pool, "Subject-Keys")
	fmt.Println(err)
	// Output:
	// <nil>
	// pgaudit: table name "Subject-Keys" must be lower-case letters, digits and _ (optionally schema.table)
}

// A server on PostgreSQL: the sink, its tables, and a Logger that buffers
// records while the database is away.
func ExampleSink_Migrate() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	sink, err := pgaudit.New(pool, pgaudit.Config{})
	if err != nil {
		panic(err)
	}
	if err := sink.Migrate(ctx); err != nil {
		panic(err)
	}
	key, err := audit.ParseKey(os.Getenv("AUDIT_HMAC_KEY"))
	if err != nil {
		panic(err)
	}
	trail, err := audit.New(sink, key, audit.Config{BufferSize: 1024})
	if err != nil {
		panic(err)
	}
	defer trail.Close(ctx)
	_ = audit.Middleware(trail)
}

// Checking every instance's chain in a shared table: a tampered chain
// fails in its own report, the others stay intact.
func ExampleSink_VerifyChains() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	sink, err := pgaudit.New(pool, pgaudit.Config{})
	if err != nil {
		panic(err)
	}
	key, err := audit.ParseKey(os.Getenv("AUDIT_HMAC_KEY"))
	if err != nil {
		panic(err)
	}
	chains, err := sink.VerifyChains(ctx, key, false) // false: running instances have no seal yet
	if err != nil {
		panic(err)
	}
	for _, c := range chains {
		fmt.Println(c.Instance, c.Records, c.Sealed, c.LastTime, c.Err)
	}
}

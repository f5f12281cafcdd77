package pgcall_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/pgcall"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

func ExampleConfigure() {
	cfg, err := pgxpool.ParseConfig("postgres://app@127.0.0.1:5432/app")
	if err != nil {
		panic(err)
	}
	pgcall.Configure(cfg.ConnConfig, 2*time.Second)
	p := cfg.ConnConfig.RuntimeParams
	fmt.Println(p["statement_timeout"], p["idle_in_transaction_session_timeout"], p["client_connection_check_interval"])
	// Output: 2000 4000 1000
}

func ExampleRefuse() {
	for _, err := range []error{
		&pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"},
		&pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"},
		&pgconn.PgError{Code: "42P01", Message: `relation "custmers" does not exist`},
		fmt.Errorf("query: %w", context.Canceled),
	} {
		refusal := pgcall.Refuse(err)
		// What the client reads: never the SQL nor the server's message.
		fmt.Printf("%s: %v\n", bulwark.ErrorOf(refusal).Code, refusal)
	}
	// Output:
	// deadline_exceeded: deadline exceeded
	// unavailable: the database is unavailable
	// internal: internal error
	// canceled: request cancelled
}

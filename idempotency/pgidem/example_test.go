package pgidem_test

import (
	"context"
	"fmt"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/pgidem"
	"github.com/jackc/pgx/v5/pgxpool"
)

func ExampleNew() {
	// pgxpool connects lazily: nothing is dialled until the first call.
	pool, err := pgxpool.New(context.Background(), "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	store, err := pgidem.New(pool, pgidem.Config{Table: "app.idempotency_keys"})
	if err != nil {
		panic(err)
	}
	// At start-up, unless the server's migrations create the table:
	//	err = store.CreateTable(ctx)
	once, err := idempotency.New(store, idempotency.Config{RequireKey: true})
	fmt.Println(err == nil)
	_ = bulwark.Only(bulwark.ToolNames("add_customer_note"), once)
	// Output: true
}

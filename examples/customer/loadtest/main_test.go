package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// The load database is created with a mark, dropped and recreated on the
// next run only because it carries that mark, and a database of the same
// name that loadtest did not create is refused and left as it was.
func TestCreateDatabaseDropsOnlyItsOwn(t *testing.T) {
	admin := testenv.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) }) // after the drop below
	name := fmt.Sprintf("bulwark_loadtest_test_%d", time.Now().UnixNano())
	drop := func() {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(drop)
	has := func(dbURL, table string) bool {
		t.Helper()
		c, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var ok bool
		if err := c.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}

	// First run: created and marked. A table stands for the seeded data.
	u, err := createDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, `CREATE TABLE from_last_run (x int)`)
	c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Second run: its own database from the first run is recreated.
	if u, err = createDatabase(admin, name); err != nil {
		t.Fatal(err)
	}
	if has(u, "from_last_run") {
		t.Fatal("the database of the last run was not recreated")
	}

	// A database of that name made by someone else is never dropped.
	drop()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	c, err = pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, `CREATE TABLE precious (x int)`)
	c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, comment := range []string{"", "COMMENT ON DATABASE " + name + " IS 'production data'"} {
		if comment != "" {
			if _, err := conn.Exec(ctx, comment); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := createDatabase(admin, name); !errors.Is(err, errNotOurs) {
			t.Fatalf("foreign database (%q): err %v, want errNotOurs", comment, err)
		}
		if !has(u, "precious") {
			t.Fatal("a database loadtest did not create was dropped")
		}
	}

	if _, err := createDatabase(admin, "Robert'); DROP DATABASE postgres;--"); err == nil {
		t.Fatal("a malformed name was accepted")
	}
}

// A ratio is taken within each repetition and the median of those ratios
// reported: repetitions are paired by index, never by rank.
func TestPairedRatio(t *testing.T) {
	run := func(calls int64) result { return result{calls: calls, elapsed: time.Second} }
	a := []result{run(90), run(300), run(200)}
	b := []result{run(100), run(200), run(400)}
	// Per repetition 0.9, 1.5, 0.5: the median is 0.9. The ratio of the
	// medians (200 / 200) would be 1.
	got := pairedRatio(a, b, func(x, y result) float64 { return x.rps() / y.rps() })
	if got != 0.9 {
		t.Fatalf("pairedRatio = %v, want 0.9", got)
	}
	if got := pairedRatio(a, nil, func(x, y result) float64 { return 1 }); got != 0 {
		t.Fatalf("pairedRatio with no pairs = %v, want 0", got)
	}
}

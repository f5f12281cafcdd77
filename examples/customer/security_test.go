package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// tableDigest summarises every row the tools could touch.
func tableDigest(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var d string
	err = conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM customers)::text || '/' ||
		(SELECT md5(string_agg(id || name || email || tier, ',' ORDER BY id)) FROM customers) || '/' ||
		(SELECT count(*) FROM orders)::text || '/' ||
		(SELECT md5(string_agg(id::text || customer_id || total_cents::text, ',' ORDER BY id)) FROM orders) || '/' ||
		(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')::text`).Scan(&d)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var injectionCorpus = []string{
	`' OR '1'='1`,
	`' OR 1=1 --`,
	`'; DROP TABLE customers; --`,
	`"; DROP TABLE customers; --`,
	`C-000001' UNION SELECT id, name, email, tier, created_at, updated_at FROM customers --`,
	`C-000001'; UPDATE customers SET email='pwned@example.com'; --`,
	`\'; DELETE FROM orders; --`,
	`%' AND pg_sleep(5) IS NULL AND '%'='`,
	`1; SELECT pg_sleep(5)`,
	`$1`,
	`$$; DROP TABLE orders; $$`,
	`' || (SELECT string_agg(email, ',') FROM customers) || '`,
	`C-000001/**/OR/**/1=1`,
	"C-000001\x00' OR '1'='1",
	`%`,
	`_`,
	`\`,
}

// TestSQLInjectionCorpus sends every payload in every string field of
// every tool and checks that no row or table changed, that searches match
// the text literally, and that nothing ran for seconds (pg_sleep).
func TestSQLInjectionCorpus(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.connect(f.keys.admin)
	before := tableDigest(t, f.db)
	for i, p := range injectionCorpus {
		calls := []struct {
			tool string
			args map[string]any
		}{
			{toolGetCustomer, map[string]any{"customer_id": p}},
			{toolLookupCustomer, map[string]any{"customer_id": p}},
			{toolOverview, map[string]any{"customer_id": p}},
			{toolSearchCustomers, map[string]any{"query": p}},
			{toolSearchCustomers, map[string]any{"query": "a", "cursor": p}},
			{toolUpdateEmail, map[string]any{"customer_id": p, "new_email": "x@example.com"}},
			{toolUpdateEmail, map[string]any{"customer_id": "C-009999", "new_email": p}},
			{toolAddNote, map[string]any{"customer_id": p, "body": "b", "idempotency_key": fmt.Sprintf("inj-key-%03d-a", i)}},
			{toolAddNote, map[string]any{"customer_id": "C-009998", "body": p, "idempotency_key": fmt.Sprintf("inj-key-%03d-b", i)}},
			{toolAddNote, map[string]any{"customer_id": "C-009998", "body": "b", "idempotency_key": p}},
		}
		for _, c := range calls {
			res, err, ref := call(t, admin, c.tool, c.args)
			if err != nil {
				t.Fatalf("%s %q: protocol error %v", c.tool, p, err)
			}
			if ref != nil && ref.Code != bulwark.CodeInvalidArgument {
				t.Errorf("%s %q: unexpected refusal %+v", c.tool, p, ref)
			}
			if c.tool == toolSearchCustomers && ref == nil {
				var sr searchResult
				b, _ := json.Marshal(res.StructuredContent)
				_ = json.Unmarshal(b, &sr)
				for _, cu := range sr.Customers {
					if !strings.Contains(strings.ToLower(cu.Name+cu.Email), strings.ToLower(fmt.Sprint(c.args["query"]))) {
						t.Errorf("search %q matched %s: the payload was interpreted", c.args["query"], cu.ID)
					}
				}
			}
		}
	}
	if after := tableDigest(t, f.db); after != before {
		t.Fatalf("rows changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestHostileArgumentsRefusedBeforeTheDatabase checks that oversized,
// deeply nested and invalid-UTF-8 arguments are refused by the layers in
// front of the handler: not one connection is acquired from either pool.
func TestHostileArgumentsRefusedBeforeTheDatabase(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.connect(f.keys.admin)
	nested := any("x")
	for i := 0; i < 100; i++ {
		nested = map[string]any{"a": nested}
	}
	cases := map[string]struct {
		tool string
		args any
	}{
		"oversized string":   {toolSearchCustomers, map[string]any{"query": strings.Repeat("a", 200_000)}},
		"oversized note":     {toolAddNote, map[string]any{"customer_id": "C-000001", "body": strings.Repeat("n", 5000), "idempotency_key": "big-note-key"}},
		"deeply nested":      {toolGetCustomer, map[string]any{"customer_id": "C-000001", "extra": nested}},
		"unknown field":      {toolGetCustomer, map[string]any{"customer_id": "C-000001", "sql": "SELECT 1"}},
		"invalid UTF-8":      {toolSearchCustomers, json.RawMessage("{\"query\":\"caf\xe9\"}")},
		"NUL byte":           {toolSearchCustomers, map[string]any{"query": "a\x00b"}},
		"control characters": {toolAddNote, map[string]any{"customer_id": "C-000001", "body": "line\x1b[31mred", "idempotency_key": "ctrl-note-key"}},
		"wrong type":         {toolGetCustomer, map[string]any{"customer_id": 42}},
		"ID too long":        {toolGetCustomer, map[string]any{"customer_id": strings.Repeat("A", 51)}},
		"bad email":          {toolUpdateEmail, map[string]any{"customer_id": "C-000001", "new_email": "a@b"}},
		"missing key":        {toolAddNote, map[string]any{"customer_id": "C-000001", "body": "no key"}},
		"many properties":    {toolGetCustomer, manyProps(400)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r0, w0 := f.srv.store.read.Stat().AcquireCount(), f.srv.store.write.Stat().AcquireCount()
			res, err, ref := call(t, admin, c.tool, c.args)
			if err != nil {
				// The transport may refuse what is not even valid JSON-RPC.
				t.Logf("protocol error: %v", err)
			} else if ref == nil || ref.Code != bulwark.CodeInvalidArgument {
				if res == nil || !res.IsError {
					t.Fatalf("accepted: %s", bulwarktest.ResultText(res))
				}
			}
			if r1, w1 := f.srv.store.read.Stat().AcquireCount(), f.srv.store.write.Stat().AcquireCount(); r1 != r0 || w1 != w0 {
				t.Fatalf("the database was reached (acquires read %d->%d, write %d->%d)", r0, r1, w0, w1)
			}
		})
	}
}

func manyProps(n int) map[string]any {
	m := map[string]any{"customer_id": "C-000001"}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("p%d", i)] = i
	}
	return m
}

// TestCacheIsolationAndInvalidation checks that one principal never gets a
// result cached for another, and that a write makes the next read fresh.
func TestCacheIsolationAndInvalidation(t *testing.T) {
	f := newFixture(t, nil)
	reader, other, admin := f.connect(f.keys.reader), f.connect(f.keys.other), f.connect(f.keys.admin)
	get := func(cs *mcp.ClientSession) (string, Customer) {
		var c Customer
		res := mustOK(t, cs, toolGetCustomer, map[string]any{"customer_id": "C-000321"}, &c)
		st := cacheStatusOf(res)
		return st, c
	}
	if st, _ := get(reader); st != "miss" {
		t.Fatalf("reader first read: %s", st)
	}
	if st, _ := get(reader); st != "hit" {
		t.Fatalf("reader second read: %s", st)
	}
	if st, _ := get(other); st != "miss" {
		t.Fatalf("another principal was served the reader's entry: %s", st)
	}
	mustOK(t, admin, toolUpdateEmail, map[string]any{"customer_id": "C-000321", "new_email": "fresh@example.net"}, nil)
	for _, cs := range []*mcp.ClientSession{reader, other} {
		st, c := get(cs)
		if st != "miss" || c.Email != "fresh@example.net" {
			t.Fatalf("after the write: %s %s", st, c.Email)
		}
	}
	// Notes invalidate too, and searches see new emails.
	var sr searchResult
	mustOK(t, reader, toolSearchCustomers, map[string]any{"query": "fresh@example.net"}, &sr)
	if len(sr.Customers) != 1 {
		t.Fatalf("search after write: %+v", sr)
	}
}

// TestNotesExactlyOnce sends 32 concurrent duplicates of one note, over 32
// separate sessions, and checks one row and one answer.
func TestNotesExactlyOnce(t *testing.T) {
	f := newFixture(t, nil)
	const n = 32
	sessions := make([]*mcp.ClientSession, n)
	for i := range sessions {
		sessions[i] = f.connect(f.keys.admin)
	}
	args := map[string]any{"customer_id": "C-000777", "body": "refund approved", "idempotency_key": "refund-777-2026-11-28"}
	var wg sync.WaitGroup
	ids := make(chan int64, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var note Note
			mustOK(t, sessions[i], toolAddNote, args, &note)
			ids <- note.ID
		}()
	}
	close(start)
	wg.Wait()
	close(ids)
	seen := map[int64]int{}
	for id := range ids {
		seen[id]++
	}
	if len(seen) != 1 {
		t.Fatalf("different answers: %v", seen)
	}
	conn, err := pgx.Connect(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM customer_notes WHERE customer_id = 'C-000777'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d rows written", rows)
	}
	// The same key with other arguments is refused, naming the key.
	_, _, ref := call(t, sessions[0], toolAddNote, map[string]any{"customer_id": "C-000777", "body": "refund denied", "idempotency_key": "refund-777-2026-11-28"})
	if ref == nil || ref.Code != bulwark.CodeInvalidArgument || ref.Field != "idempotency_key" {
		t.Fatalf("reused key: %+v", ref)
	}
}

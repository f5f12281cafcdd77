package main

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/jackc/pgx/v5"
)

// TestAuditToPostgres keeps the audit trail in PostgreSQL
// (AUDIT_LOG=postgres): one chained record per call, refusals included,
// verifiable after shutdown, and the writer role can append but not
// rewrite it.
func TestAuditToPostgres(t *testing.T) {
	key := strings.Repeat("5a", 32)
	f := newFixture(t, func(env map[string]string) {
		env["AUDIT_LOG"] = "postgres:audit_records"
		env["AUDIT_HMAC_KEY"] = key
	})
	reader := f.connect(f.keys.reader)
	mustOK(t, reader, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)
	call(t, reader, toolUpdateEmail, map[string]any{"customer_id": "C-000001", "new_email": "x@example.com"})
	call(t, reader, toolGetCustomer, map[string]any{"customer_id": "bad id"})
	reader.Close()
	if err := f.http.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sink, err := pgaudit.New(conn, pgaudit.Config{Table: "audit_records"})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := hex.DecodeString(key)
	rep, err := sink.Verify(ctx, k, true)
	if err != nil || !rep.Sealed {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	var outcomes string
	if err := conn.QueryRow(ctx, `SELECT string_agg(outcome, ',' ORDER BY seq) FROM audit_records WHERE kind = 'call'`).Scan(&outcomes); err != nil {
		t.Fatal(err)
	}
	if outcomes != "ok,permission_denied,invalid_argument" {
		t.Fatalf("outcomes %q", outcomes)
	}
	// The writer role cannot rewrite history.
	w, err := pgx.Connect(ctx, withUser(f.db, writerRole))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	for _, q := range []string{`UPDATE audit_records SET outcome = 'ok'`, `DELETE FROM audit_records`} {
		if _, err := w.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("%s as the writer role: %v", q, err)
		}
	}
}

// TestLeastPrivilegeRoles checks the grants: the reader cannot write at
// all, the writer can change only what the tools change.
func TestLeastPrivilegeRoles(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, c := range []struct {
		role, sql string
		allowed   bool
	}{
		{readerRole, `SELECT count(*) FROM customers`, true},
		{readerRole, `UPDATE customers SET email = 'x@example.com' WHERE id = 'C-000001'`, false},
		{readerRole, `INSERT INTO customer_notes (customer_id, author, body, idempotency_key) VALUES ('C-000001', 'a', 'b', 'key-key-key')`, false},
		{readerRole, `SELECT count(*) FROM idempotency_keys`, false},
		{writerRole, `UPDATE customers SET email = 'y@example.com' WHERE id = 'C-000001'`, true},
		{writerRole, `UPDATE customers SET name = 'Mallory' WHERE id = 'C-000001'`, false},
		{writerRole, `DELETE FROM customers WHERE id = 'C-000001'`, false},
		{writerRole, `DELETE FROM customer_notes`, false},
		{writerRole, `UPDATE orders SET total_cents = 0`, false},
		{writerRole, `DROP TABLE orders`, false},
		{writerRole, `CREATE TABLE evil (x int)`, false},
	} {
		conn, err := pgx.Connect(ctx, withUser(f.db, c.role))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, c.sql)
		conn.Close(ctx)
		if (err == nil) != c.allowed {
			t.Errorf("%s: %s: err=%v, allowed=%t", c.role, c.sql, err, c.allowed)
		}
	}
}

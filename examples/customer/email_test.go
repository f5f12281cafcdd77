package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/jackc/pgx/v5"
)

// TestEmailTakenRefused: update_customer_email cannot give a customer an
// address another customer has, in any letter case, even when two
// customers race for the same new address; the refusal names the field
// and no other customer. Over the real database.
func TestEmailTakenRefused(t *testing.T) {
	f := newFixture(t, func(env map[string]string) { env["ENABLE_CACHING"] = "false" })
	admin := f.connect(f.keys.admin)
	var owner, other Customer
	mustOK(t, admin, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, &owner)
	mustOK(t, admin, toolGetCustomer, map[string]any{"customer_id": "C-000002"}, &other)

	for _, taken := range []string{owner.Email, strings.ToUpper(owner.Email), strings.ToUpper(owner.Email[:1]) + owner.Email[1:]} {
		_, err, ref := call(t, admin, toolUpdateEmail, map[string]any{"customer_id": other.ID, "new_email": taken})
		if err != nil || ref == nil || ref.Code != bulwark.CodeInvalidArgument || ref.Field != "new_email" {
			t.Fatalf("%q: err=%v refusal=%+v", taken, err, ref)
		}
		for _, leak := range []string{owner.ID, owner.Name, strings.Split(owner.Name, " ")[0]} {
			if strings.Contains(ref.Message, leak) {
				t.Fatalf("refusal %q names the other customer (%q)", ref.Message, leak)
			}
		}
	}
	var now Customer
	mustOK(t, admin, toolGetCustomer, map[string]any{"customer_id": other.ID}, &now)
	if now.Email != other.Email {
		t.Fatalf("email changed to %q", now.Email)
	}

	// A customer may change the letter case of their own address.
	mustOK(t, admin, toolUpdateEmail, map[string]any{"customer_id": owner.ID, "new_email": strings.ToUpper(owner.Email)}, nil)

	// Two customers race for one new address, in different cases: one wins.
	var wg sync.WaitGroup
	wins := make([]bool, 2)
	for i, id := range []string{"C-000003", "C-000004"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := "shared.address@example.com"
			if i == 1 {
				addr = "Shared.Address@Example.com"
			}
			_, err, ref := call(t, admin, toolUpdateEmail, map[string]any{"customer_id": id, "new_email": addr})
			wins[i] = err == nil && ref == nil
			if !wins[i] && (ref == nil || ref.Field != "new_email") {
				t.Errorf("%s: err=%v refusal=%+v", id, err, ref)
			}
		}()
	}
	wg.Wait()
	if wins[0] == wins[1] {
		t.Fatalf("wins %v: want exactly one", wins)
	}
	conn, err := pgx.Connect(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM customers WHERE lower(email) = 'shared.address@example.com'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d customers hold the address (%v)", n, err)
	}
}

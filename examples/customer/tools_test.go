package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/deprecation"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/google/jsonschema-go/jsonschema"
)

func TestToolsOverHTTP(t *testing.T) {
	f := newFixture(t, nil)
	reader := f.connect(f.keys.reader)
	admin := f.connect(f.keys.admin)

	t.Run("get_customer", func(t *testing.T) {
		var c Customer
		mustOK(t, reader, toolGetCustomer, map[string]any{"customer_id": "C-000042"}, &c)
		if c.ID != "C-000042" || c.Email != "ada.42@example.com" && !strings.HasSuffix(c.Email, ".42@example.com") {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("get_customer not found", func(t *testing.T) {
		_, _, ref := call(t, reader, toolGetCustomer, map[string]any{"customer_id": "C-999999"})
		if ref == nil || ref.Code != bulwark.CodeInvalidArgument || ref.Field != "customer_id" {
			t.Fatalf("refusal %+v", ref)
		}
	})
	t.Run("search pages", func(t *testing.T) {
		var p1, p2 searchResult
		mustOK(t, reader, toolSearchCustomers, map[string]any{"query": "lovelace", "page_size": 5}, &p1)
		if len(p1.Customers) != 5 || p1.NextCursor == "" {
			t.Fatalf("page 1: %+v", p1)
		}
		mustOK(t, reader, toolSearchCustomers, map[string]any{"query": "lovelace", "page_size": 5, "cursor": p1.NextCursor}, &p2)
		if len(p2.Customers) == 0 || p2.Customers[0].ID <= p1.Customers[4].ID {
			t.Fatalf("page 2 does not follow page 1: %+v", p2)
		}
		for _, c := range append(p1.Customers, p2.Customers...) {
			if !strings.Contains(strings.ToLower(c.Name+c.Email), "lovelace") {
				t.Fatalf("%+v does not match", c)
			}
		}
	})
	t.Run("search query limit is 100 characters", func(t *testing.T) {
		// What the schema advertises (maxLength counts characters) is what
		// the handler enforces: 100 two-byte characters pass, 101 do not.
		var sr searchResult
		mustOK(t, reader, toolSearchCustomers, map[string]any{"query": strings.Repeat("é", 100)}, &sr)
		_, err, ref := call(t, reader, toolSearchCustomers, map[string]any{"query": strings.Repeat("é", 101)})
		if err != nil || ref == nil || ref.Code != bulwark.CodeInvalidArgument || ref.Field != "query" {
			t.Fatalf("101 characters: err=%v refusal=%+v", err, ref)
		}
		if d := toolDefs()[toolSearchCustomers].InputSchema.(*jsonschema.Schema).Properties["query"]; d.MaxLength == nil || *d.MaxLength != maxQueryLen {
			t.Fatalf("schema maxLength %v", d.MaxLength)
		}
	})
	t.Run("search cursor from another query", func(t *testing.T) {
		var p1 searchResult
		mustOK(t, reader, toolSearchCustomers, map[string]any{"query": "q562789", "page_size": 1}, &p1)
		cur := testCursors(t).Encode("C-000001", "q562789")
		_, err, ref := call(t, reader, toolSearchCustomers, map[string]any{"query": "q779192", "cursor": cur})
		if err != nil || ref == nil || ref.Code != bulwark.CodeInvalidArgument || ref.Field != "cursor" {
			t.Fatalf("cursor of q562789 used for q779192: err=%v refusal=%+v", err, ref)
		}
		if _, err, ref := call(t, reader, toolSearchCustomers, map[string]any{"query": "q562789", "cursor": cur}); err != nil || ref != nil {
			t.Fatalf("cursor of its own query: err=%v refusal=%+v", err, ref)
		}
	})
	t.Run("search bad cursor and page size", func(t *testing.T) {
		for _, args := range []map[string]any{
			{"query": "x", "cursor": "not-a-cursor"},
			{"query": "x", "cursor": testCursors(t).Encode("C-000001", "other query")},
			{"query": "x", "cursor": mustCodec(t).Encode("C-000001", "x")},
			{"page_size": 51},
			{"page_size": 0.5},
		} {
			_, err, ref := call(t, reader, toolSearchCustomers, args)
			if err != nil || ref == nil || ref.Code != bulwark.CodeInvalidArgument {
				t.Errorf("%v: err=%v refusal=%+v", args, err, ref)
			}
		}
	})
	t.Run("overview", func(t *testing.T) {
		var o Overview
		mustOK(t, reader, toolOverview, map[string]any{"customer_id": "C-000007"}, &o)
		if o.Partial || o.Customer == nil || o.Loyalty == nil || len(o.RecentOrders) == 0 {
			t.Fatalf("overview %+v", o)
		}
	})
	t.Run("deprecated lookup_customer", func(t *testing.T) {
		res := mustOK(t, reader, toolLookupCustomer, map[string]any{"customer_id": "C-000001"}, nil)
		if _, ok := res.Meta[deprecation.MetaKey]; !ok {
			t.Fatalf("no deprecation warning in %v", res.Meta)
		}
		if f.srv.layers.usage.Count(toolLookupCustomer) == 0 {
			t.Fatal("deprecated call not counted")
		}
	})
	t.Run("reader cannot write", func(t *testing.T) {
		_, _, ref := call(t, reader, toolUpdateEmail, map[string]any{"customer_id": "C-000001", "new_email": "a@example.com"})
		if ref == nil || ref.Code != bulwark.CodePermissionDenied || !strings.Contains(ref.Message, scopeWrite) {
			t.Fatalf("refusal %+v", ref)
		}
	})
	t.Run("admin writes", func(t *testing.T) {
		var c Customer
		mustOK(t, admin, toolUpdateEmail, map[string]any{"customer_id": "C-000002", "new_email": "new.2@example.org"}, &c)
		if c.Email != "new.2@example.org" {
			t.Fatalf("got %+v", c)
		}
		var n Note
		mustOK(t, admin, toolAddNote, map[string]any{"customer_id": "C-000002", "body": "called back", "idempotency_key": "note-key-0001"}, &n)
		if n.Author != "admin" || n.Body != "called back" {
			t.Fatalf("note %+v", n)
		}
	})
	t.Run("invalid email", func(t *testing.T) {
		_, _, ref := call(t, admin, toolUpdateEmail, map[string]any{"customer_id": "C-000002", "new_email": "Bob <bob@example.com>"})
		if ref == nil || ref.Code != bulwark.CodeInvalidArgument || ref.Field != "new_email" {
			t.Fatalf("refusal %+v", ref)
		}
	})
	t.Run("tools/list is filtered by scope", func(t *testing.T) {
		res, err := reader.ListTools(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tool := range res.Tools {
			if tool.Name == toolUpdateEmail || tool.Name == toolAddNote {
				t.Fatalf("reader sees %s", tool.Name)
			}
		}
		if len(res.Tools) != 4 {
			t.Fatalf("reader sees %d tools", len(res.Tools))
		}
	})
}

func TestUnauthenticatedHTTP(t *testing.T) {
	f := newFixture(t, nil)
	for _, token := range []string{"", "bwk_wrong", "garbage token"} {
		req, _ := http.NewRequest(http.MethodPost, f.http.URL(), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("token %q: status %d, WWW-Authenticate %q", token, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if _, err := demo.Dial(t.Context(), f.http.URL(), ""); err == nil {
		t.Fatal("client connected without a token")
	}
	resp, err := http.Get("http://" + f.http.Addr() + "/.well-known/oauth-protected-resource")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("protected resource metadata: %d", resp.StatusCode)
	}
}

var _ = fmt.Sprint

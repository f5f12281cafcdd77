package jsontext_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestOneScanPerCall proves the parse-once contract: through the full
// chain, a call's arguments are scanned exactly once, whether the cache
// misses (every layer and the handler run) or hits.
func TestOneScanPerCall(t *testing.T) {
	var records []*audit.Record
	mw, c := chain(t, &records)
	runs := 0
	h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		runs++
		return bulwarktest.TextResult("c-42: Ada"), nil
	})
	tests := []struct {
		name, args string
		runs       int
	}{
		{"miss", `{"id":"c-42","limit":10,"password":"hunter2","idempotency_key":"op-1"}`, 1},
		{"hit, other spelling", `{ "limit":1.0e1, "id":"c\u002d42", "password":"hunter2", "idempotency_key":"op-1" }`, 1},
		{"miss without a key", `{"id":"c-43"}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := bulwarktest.Request("lookup", json.RawMessage(tt.args))
			ctx, _ := bulwarktest.Context(context.Background(), req, lookup)
			before := jsontext.Scans()
			res, err := h(ctx, req)
			scans := jsontext.Scans() - before
			if err != nil || res.IsError {
				t.Fatalf("call: %v %v", res, err)
			}
			if scans != 1 {
				t.Errorf("arguments scanned %d times, want 1", scans)
			}
			if runs != tt.runs {
				t.Errorf("handler ran %d times, want %d", runs, tt.runs)
			}
		})
	}
	// Every layer did its work from the one scan.
	if st := c.Stats(); st.Hits != 1 {
		t.Errorf("cache stats %+v, want one hit", st)
	}
	if len(records) != len(tests) {
		t.Fatalf("%d audit records", len(records))
	}
	for _, r := range records {
		if len(r.Arguments) == 0 || !json.Valid(r.Arguments) {
			t.Errorf("record arguments %q", r.Arguments)
		}
		if contains(r.Arguments, "hunter2") {
			t.Errorf("password in the audit record: %s", r.Arguments)
		}
	}
}

// Each layer still works alone: without a call record every layer scans
// for itself, and gets the same answers.
func TestLayersAlone(t *testing.T) {
	var records []*audit.Record
	mw, _ := chain(t, &records)
	h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("ok"), nil
	})
	req := bulwarktest.Request("lookup", json.RawMessage(`{"id":"c-1","password":"hunter2"}`))
	ctx := context.Background() // no record
	before := jsontext.Scans()
	if _, err := h(ctx, req); err != nil {
		t.Fatal(err)
	}
	if scans := jsontext.Scans() - before; scans < 3 {
		t.Errorf("%d scans without a record: the layers cannot have read the arguments each", scans)
	}
	if len(records) != 1 || contains(records[0].Arguments, "hunter2") {
		t.Fatalf("records %v", records)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

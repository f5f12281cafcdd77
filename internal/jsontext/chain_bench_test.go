package jsontext_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// chain is every layer that reads a call's arguments, in the default
// order: audit (redaction), validate, cache (key and tags), idempotency
// (key and fingerprint), retry (eligibility).
func chain(t testing.TB, records *[]*audit.Record) (bulwark.Middleware, *cache.Cache) {
	t.Helper()
	logger, err := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		*records = append(*records, r)
		return nil
	}), []byte("0123456789abcdef0123456789abcdef-chain"), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.NewMemoryStore(cache.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(store, cache.Config{Tags: map[string]cache.TagFunc{"lookup": cache.ArgTag("customer", "id")}})
	if err != nil {
		t.Fatal(err)
	}
	idemStore, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	idem, err := idempotency.New(idemStore, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := retry.New(retry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return bulwark.Chain(
		audit.Middleware(logger),
		validate.Middleware(validate.Config{}),
		cache.Middleware(c),
		idem,
		retry.Middleware(r),
	), c
}

var lookup = &mcp.Tool{
	Name:        "lookup",
	Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	InputSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"limit":{"type":"integer"},"password":{"type":"string"},"idempotency_key":{"type":"string"}}}`),
}

var update = &mcp.Tool{
	Name:        "update",
	Annotations: &mcp.ToolAnnotations{},
	InputSchema: lookup.InputSchema,
}

// BenchmarkChain runs a call through every layer that reads arguments
// (audit, validate, cache, idempotency, retry), each call with its own
// record: a cache hit (validate, key, audit) and an idempotent replay of a
// write (validate, key and fingerprint, retry's eligibility, audit).
func BenchmarkChain(b *testing.B) {
	for _, bc := range []struct {
		name string
		def  *mcp.Tool
	}{{"hit", lookup}, {"replay", update}} {
		b.Run(bc.name, func(b *testing.B) {
			var records []*audit.Record
			mw, _ := chain(b, &records)
			h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return bulwarktest.TextResult("c-42: Ada"), nil
			})
			args := json.RawMessage(`{"id":"c-42","limit":10,"password":"hunter2","idempotency_key":"op-1","filter":{"since":"2026-01-01","status":["shipped","open"]}}`)
			req := bulwarktest.Request(bc.def.Name, args)
			do := func() {
				ctx, _ := bulwarktest.Context(context.Background(), req, bc.def)
				if _, err := h(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			do()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				do()
				records = records[:0]
			}
		})
	}
}

package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The fingerprint is the canonical form's digest, the same form cache
// keys use: spelling does not matter, values do, and a repeated key (which
// two decoders may read differently) has no fingerprint.
func TestFingerprint(t *testing.T) {
	fp := func(s string) string {
		t.Helper()
		f, err := fingerprint(jsontext.New([]byte(s)))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return f
	}
	base := fp(`{"id":"c-1","n":1,"tags":["a",2.5]}`)
	for _, same := range []string{
		`{"tags":["a",2.5],"n":1,"id":"c-1"}`,
		` { "id" : "c\u002d1" , "n" : 1.0 , "tags" : [ "a" , 25e-1 ] } `,
		`{"id":"c-1","n":1e0,"tags":["a",0.25E1]}`,
		`{"id":"c-1","n":10e-1,"tags":["\u0061",2.50]}`,
	} {
		if got := fp(same); got != base {
			t.Errorf("%s: fingerprint differs from the same value spelled otherwise", same)
		}
	}
	for _, other := range []string{
		`{"id":"c-1","n":2,"tags":["a",2.5]}`,
		`{"id":"c-1","n":"1","tags":["a",2.5]}`,
		`{"id":"c-1","n":1,"tags":[2.5,"a"]}`,
		`{"id":"c-1","n":1}`,
		`{"id":"c-1","n":1.0000000000000001,"tags":["a",2.5]}`,
	} {
		if fp(other) == base {
			t.Errorf("%s: same fingerprint as a different value", other)
		}
	}
	if fp(``) != fp(`null`) {
		t.Error("absent arguments and null differ")
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":1,"\u0061":1}`, `{"a":"\ud800"}`} {
		if f, err := fingerprint(jsontext.New([]byte(bad))); err == nil {
			t.Errorf("%s: fingerprint %s, want an error", bad, f)
		}
	}
}

// FuzzFingerprint: the fingerprint does not depend on key order or
// whitespace, and exists exactly when the canonical form does.
func FuzzFingerprint(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[1.0,{"y":2,"x":"s"}]}`))
	f.Add([]byte(`{"a":1,"a":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v := jsontext.New(data)
		fp, err := fingerprint(v)
		c, cerr := v.Canonical()
		if (err == nil) != (cerr == nil) {
			t.Fatalf("%q: fingerprint %v, canonical %v", data, err, cerr)
		}
		if err != nil {
			return
		}
		again, err := fingerprint(jsontext.New(c))
		if err != nil || again != fp {
			t.Fatalf("%q: the canonical form %q has fingerprint %s, want %s (%v)", data, c, again, fp, err)
		}
	})
}

// Through the layer: a retry that spells a number differently replays;
// arguments that repeat a key are refused before the handler runs.
func TestIdempotencyFingerprintByValue(t *testing.T) {
	store, err := NewMemoryStore(MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := New(store, Config{})
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		runs++
		return bulwarktest.TextResult("done"), nil
	})
	do := func(args string) (*mcp.CallToolResult, error) {
		req := bulwarktest.Request("charge", json.RawMessage(args))
		ctx, _ := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "charge"})
		return h(ctx, req)
	}
	if _, err := do(`{"idempotency_key":"k1","amount":10}`); err != nil {
		t.Fatal(err)
	}
	res, err := do(`{"amount":1.0e1,"idempotency_key":"k1"}`)
	if err != nil || res.Meta[ReplayMetaKey] != true || runs != 1 {
		t.Fatalf("same value, other spelling: %v %v, %d runs", res, err, runs)
	}
	if _, err := do(`{"idempotency_key":"k1","amount":11}`); !errors.Is(err, bulwark.CodeInvalidArgument) {
		t.Fatalf("other value: %v", err)
	}
	if _, err := do(`{"idempotency_key":"k2","amount":10,"amount":11}`); !errors.Is(err, bulwark.CodeInvalidArgument) || runs != 1 {
		t.Fatalf("repeated key: %v, %d runs", err, runs)
	}
}

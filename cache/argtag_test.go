package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestArgTag(t *testing.T) {
	tests := []struct {
		args        string
		read, write []string
	}{
		{`{"id":"c-1"}`, []string{"customer*", "customer:c-1"}, []string{"customer:c-1", "customer?"}},
		{`{"name":"x","id":"c\u002d1"}`, []string{"customer*", "customer:c-1"}, []string{"customer:c-1", "customer?"}},
		{`{"\u0069d":"c-1"}`, []string{"customer*", "customer:c-1"}, []string{"customer:c-1", "customer?"}},
		{`{"id":42}`, []string{"customer*", "customer:42"}, []string{"customer:42", "customer?"}},
		{`{"id":4.20}`, []string{"customer*", "customer:4.2"}, []string{"customer:4.2", "customer?"}},
		{`{"id":-0.0e5}`, []string{"customer*", "customer:0"}, []string{"customer:0", "customer?"}},
		{`{"id":true}`, []string{"customer*", "customer:true"}, []string{"customer:true", "customer?"}},
		{`{"id":{"b":1,"a":2,"a":3}}`, []string{"customer*", `customer:{"a":3,"b":1}`}, []string{`customer:{"a":3,"b":1}`, "customer?"}},
		// The value encoding/json gives the handler wins, whatever
		// precedes it; earlier duplicates and names a struct field would
		// also match are invalidated too.
		{`{"id":"c-1","id":"c-2"}`, []string{"customer*", "customer:c-1", "customer:c-2"}, []string{"customer:c-1", "customer:c-2", "customer?"}},
		{`{"x":{"a":1,"a":2},"id":"c-2"}`, []string{"customer*", "customer:c-2"}, []string{"customer:c-2", "customer?"}},
		{`{"n":0e99999999,"id":"c-2"}`, []string{"customer*", "customer:c-2"}, []string{"customer:c-2", "customer?"}},
		{`{"n":1e-99999999,"id":"c-2"}`, []string{"customer*", "customer:c-2"}, []string{"customer:c-2", "customer?"}},
		{`{"n":"\ud800","id":"c-2"}`, []string{"customer*", "customer:c-2"}, []string{"customer:c-2", "customer?"}},
		{`{"ID":"c-2"}`, []string{"customer*", "customer:c-2"}, []string{"customer:c-2", "customer?"}},
		{`{"id":"\ud800"}`, []string{"customer*", "customer:\ufffd"}, []string{"customer:\ufffd", "customer?"}},
		{`{"id":1e-99999999}`, []string{"customer*", "customer:0"}, []string{"customer:0", "customer?"}},
		// No value stands for the record: a write invalidates the whole
		// family, a read is reached by any write with a value.
		{`{"id":1e400}`, []string{"customer*", "customer?"}, []string{"customer*"}},
		{`{"id":null}`, []string{"customer*", "customer?"}, []string{"customer*"}},
		{`{"x":{"id":"c-1"}}`, []string{"customer*", "customer?"}, []string{"customer*"}},
		{`{}`, []string{"customer*", "customer?"}, []string{"customer*"}},
		{`null`, []string{"customer*", "customer?"}, []string{"customer*"}},
		{`[]`, []string{"customer*", "customer?"}, []string{"customer*"}},
		{``, []string{"customer*", "customer?"}, []string{"customer*"}},
		{`{"id":`, []string{"customer*", "customer?"}, []string{"customer*"}},
		{`{"id":"c-1"} x`, []string{"customer*", "customer?"}, []string{"customer*"}},
	}
	fn := cache.ArgTag("customer", "id")
	for _, tt := range tests {
		req := bulwarktest.Request("t", json.RawMessage(tt.args))
		if got := slices.Sorted(slices.Values(fn(context.Background(), req))); fmt.Sprint(got) != fmt.Sprint(tt.read) {
			t.Errorf("ArgTag(%s) for a read = %q; want %q", tt.args, got, tt.read)
		}
		if got := writeTags(t, fn, req); fmt.Sprint(got) != fmt.Sprint(tt.write) {
			t.Errorf("ArgTag(%s) for a write = %q; want %q", tt.args, got, tt.write)
		}
	}
	if got := fn(context.Background(), &mcp.CallToolRequest{}); fmt.Sprint(got) != "[customer* customer?]" {
		t.Errorf("request without params: %q", got)
	}
}

// writeTags returns the tags fn gives for req as a write tool's TagFunc,
// as the middleware calls it.
func writeTags(t testing.TB, fn cache.TagFunc, req *mcp.CallToolRequest) []string {
	t.Helper()
	var got []string
	c, _ := cache.New(nil, cache.Config{Invalidates: map[string]cache.TagFunc{req.Params.Name: func(ctx context.Context, req *mcp.CallToolRequest) []string {
		got = fn(ctx, req)
		return got
	}}})
	h := cache.Middleware(c)(new(bulwarktest.Recorder).Handle)
	if _, err := h(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// A write whose arguments a hand-rolled reader would take differently from
// encoding/json (the handler's decoder) still makes the cached read of the
// record it changed fresh.
func TestWriteInvalidatesWhatTheHandlerReceived(t *testing.T) {
	writes := []string{
		`{"customer_id":"C-1","customer_id":"C-2"}`,
		`{"x":{"a":1,"a":2},"customer_id":"C-2"}`,
		`{"n":0e99999999,"customer_id":"C-2"}`,
		`{"n":1e-99999999,"customer_id":"C-2"}`,
		`{"CUSTOMER_ID":"C-2"}`,
		`{"customer_id":"C-\u0032"}`,
		`{"customer_id":null}`,
		`{"customer_id":1e999}`,
		`not json`,
	}
	for _, w := range writes {
		t.Run(w, func(t *testing.T) {
			tag := cache.ArgTag("customer", "customer_id")
			e := newEnv(t, cache.Config{Tags: map[string]cache.TagFunc{"get_customer": tag}, Invalidates: map[string]cache.TagFunc{"update_customer": tag}})
			// The handler decodes as the SDK does; its answer names the
			// record and a version that every write bumps.
			version := 0
			e.rec.Func = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				var in struct {
					CustomerID string `json:"customer_id"`
				}
				_ = json.Unmarshal(req.Params.Arguments, &in)
				if req.Params.Name == "update_customer" {
					version++
				}
				return bulwarktest.TextResult(fmt.Sprintf("%s v%d", in.CustomerID, version)), nil
			}
			c2 := map[string]any{"customer_id": "C-2"}
			if got := e.text("get_customer", c2, alice); got != "C-2 v0" {
				t.Fatalf("first read %q", got)
			}
			if got := e.text("get_customer", c2, alice); got != "C-2 v0" || e.c.Stats().Hits != 1 {
				t.Fatalf("second read %q, stats %+v", got, e.c.Stats())
			}
			e.call("update_customer", json.RawMessage(w), alice)
			if got := e.text("get_customer", c2, alice); got != "C-2 v1" {
				t.Fatalf("read after the write %s: %q, want the fresh C-2 v1", w, got)
			}
		})
	}
}

// FuzzArgTag checks ArgTag against encoding/json, the decoder of typed
// tool handlers: the value a map or a struct decoding hands the handler is
// among the write's tags, and when no value can be decoded the write
// invalidates the family.
func FuzzArgTag(f *testing.F) {
	for _, s := range []string{
		`{"customer_id":"C-1"}`,
		`{"customer_id":"C-1","customer_id":"C-2"}`,
		`{"x":{"a":1,"a":2},"customer_id":"C-2"}`,
		`{"n":0e99999999,"customer_id":"C-2"}`,
		`{"n":1e-99999999,"customer_id":"C-2"}`,
		`{"Customer_ID":"C-1","customer_id":"C-2"}`,
		`{"customer_\u0069d":"C\u00e9"}`,
		`{"customer_id":"\ud800\udc00x"}`,
		`{"customer_id":[1,{"b":-0,"a":"\u003c"}]}`,
		`{"customer_id":123456789012345678901234567890}`,
		`{"customer_id":1e400}`,
		`{"customer_id":null}`,
		`{ "a" : [ "}" , "\"" ] , "customer_id" : 5 }`,
		`[{"customer_id":"C-1"}]`,
		`{"customer_\u212a":1}`,
	} {
		f.Add([]byte(s))
	}
	fn := cache.ArgTag("customer", "customer_id")
	f.Fuzz(func(t *testing.T, args []byte) {
		req := bulwarktest.Request("update_customer", json.RawMessage(args))
		read := fn(context.Background(), req)
		write := writeTags(t, fn, req)
		if !slices.Contains(read, "customer*") {
			t.Fatalf("read tags %q lack the family", read)
		}
		var m map[string]json.RawMessage
		var s struct {
			V json.RawMessage `json:"customer_id"`
		}
		merr := json.Unmarshal(args, &m)
		serr := json.Unmarshal(args, &s)
		if merr != nil || serr != nil {
			if !slices.Equal(write, []string{"customer*"}) {
				t.Fatalf("%s: encoding/json refuses it, write tags %q", args, write)
			}
			return
		}
		if m["customer_id"] == nil && s.V == nil && !slices.Equal(write, []string{"customer*"}) {
			t.Fatalf("%s: no such member, write tags %q", args, write)
		}
		for _, raw := range []json.RawMessage{m["customer_id"], s.V} {
			if raw == nil {
				continue // absent under this decoding
			}
			want, ok := oracleTag(raw)
			if !ok {
				if !slices.Contains(write, "customer*") {
					t.Fatalf("%s: value %s undecodable, write tags %q lack the family", args, raw, write)
				}
				continue
			}
			if !slices.Contains(write, want) || !slices.Contains(read, want) {
				t.Fatalf("%s: the handler receives %q; read tags %q, write tags %q", args, want, read, write)
			}
		}
	})
}

// oracleTag is the tag of a member's raw value by encoding/json alone.
func oracleTag(raw json.RawMessage) (string, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return "", false
	}
	if s, ok := v.(string); ok {
		return "customer:" + s, true
	}
	var zero func(any) any
	zero = func(v any) any {
		switch v := v.(type) {
		case float64:
			return v + 0 // -0 + 0 is 0
		case []any:
			for i := range v {
				v[i] = zero(v[i])
			}
		case map[string]any:
			for k := range v {
				v[k] = zero(v[k])
			}
		}
		return v
	}
	b, err := json.Marshal(zero(v))
	if err != nil {
		return "", false
	}
	return "customer:" + string(b), true
}

// A read that names no record (the member is absent, or null) may still
// be of one: the SDK fills in the schema's default before a typed handler
// sees the arguments. Any write that names a record reaches such a read.
func TestWriteReachesReadWithoutValue(t *testing.T) {
	for _, read := range []string{`{}`, `{"customer_id":null}`} {
		t.Run(read, func(t *testing.T) {
			tag := cache.ArgTag("customer", "customer_id")
			e := newEnv(t, cache.Config{Tags: map[string]cache.TagFunc{"get_customer": tag}, Invalidates: map[string]cache.TagFunc{"update_customer": tag}})
			version := 0
			e.rec.Func = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				in := struct {
					CustomerID string `json:"customer_id"`
				}{}
				_ = json.Unmarshal(req.Params.Arguments, &in)
				if in.CustomerID == "" {
					in.CustomerID = "C-2" // the schema's default, as the SDK applies it
				}
				if req.Params.Name == "update_customer" {
					version++
				}
				return bulwarktest.TextResult(fmt.Sprintf("%s v%d", in.CustomerID, version)), nil
			}
			args := json.RawMessage(read)
			if got := e.text("get_customer", args, alice); got != "C-2 v0" {
				t.Fatalf("first read %q", got)
			}
			if got := e.text("get_customer", args, alice); got != "C-2 v0" || e.c.Stats().Hits != 1 {
				t.Fatalf("second read %q, stats %+v", got, e.c.Stats())
			}
			e.call("update_customer", map[string]any{"customer_id": "C-2"}, alice)
			if got := e.text("get_customer", args, alice); got != "C-2 v1" {
				t.Fatalf("read %s after a write of C-2: %q, want the fresh C-2 v1", read, got)
			}
			// A read that names its record is not invalidated by another's write.
			c3 := map[string]any{"customer_id": "C-3"}
			e.text("get_customer", c3, alice)
			hits := e.c.Stats().Hits
			e.call("update_customer", map[string]any{"customer_id": "C-4"}, alice)
			if e.text("get_customer", c3, alice); e.c.Stats().Hits != hits+1 {
				t.Fatal("a write of C-4 invalidated the cached read of C-3")
			}
		})
	}
}

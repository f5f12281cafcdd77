package cache_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type customerIn struct {
	ID string `json:"id"`
}

type customerOut struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Reads int64  `json:"reads"`
}

func TestThroughRealClient(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	var reads, writes atomic.Int64
	bulwark.AddTool(s, readOnly("get_customer"), func(ctx context.Context, req *mcp.CallToolRequest, in customerIn) (*mcp.CallToolResult, customerOut, error) {
		return nil, customerOut{ID: in.ID, Name: "Ada", Email: "ada@example.com", Reads: reads.Add(1)}, nil
	})
	bulwark.AddTool(s, &mcp.Tool{Name: "rename_customer"}, func(ctx context.Context, req *mcp.CallToolRequest, in customerIn) (*mcp.CallToolResult, any, error) {
		writes.Add(1)
		return bulwarktest.TextResult("renamed"), nil, nil
	})
	c, err := cache.New(nil, cache.Config{
		Tags:        map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")},
		Invalidates: map[string]cache.TagFunc{"rename_customer": cache.ArgTag("customer", "id")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	record := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			statuses = append(statuses, bulwark.CallFrom(ctx).Field("cache"))
			return res, err
		}
	}
	bulwark.Use(s, record, cache.Middleware(c))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()

	get := func() *mcp.CallToolResult {
		t.Helper()
		res, err := bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{"id": "c-1"})
		if err != nil || res.IsError {
			t.Fatalf("get_customer: %v %+v", err, res)
		}
		return res
	}
	first := get()
	second := get()
	if reads.Load() != 1 {
		t.Fatalf("handler ran %d times for two identical reads", reads.Load())
	}
	a, _ := json.Marshal(first.StructuredContent)
	b, _ := json.Marshal(second.StructuredContent)
	if string(a) != string(b) || bulwarktest.ResultText(first) != bulwarktest.ResultText(second) {
		t.Fatalf("hit differs from miss:\n%s %s\n%s %s", a, bulwarktest.ResultText(first), b, bulwarktest.ResultText(second))
	}
	var out customerOut
	if err := json.Unmarshal(b, &out); err != nil || out.Reads != 1 || out.Email != "ada@example.com" {
		t.Fatalf("structured content %s: %v", b, err)
	}

	if res, err := bulwarktest.CallTool(ctx, cs, "rename_customer", map[string]any{"id": "c-1"}); err != nil || bulwarktest.ResultText(res) != "renamed" {
		t.Fatalf("rename: %v %v", res, err)
	}
	get()
	if reads.Load() != 2 || writes.Load() != 1 {
		t.Fatalf("after the write: %d reads, %d writes; want the entry invalidated", reads.Load(), writes.Load())
	}
	want := []string{"miss", "hit", "bypass", "miss"}
	if len(statuses) != len(want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("statuses %v, want %v", statuses, want)
		}
	}
}

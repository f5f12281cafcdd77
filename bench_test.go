package bulwark_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The two benchmarks below run the same tool over the in-memory transport,
// bare and with Use(Recover, Timeout); compare them in one run:
//
//	go test -run '^$' -bench 'BareCall|UseCall' -benchmem -count 5 .

func benchServer(b *testing.B, wrap bool) *mcp.ClientSession {
	s := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "echo", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
			return nil, echoOut{Echo: in.Text}, nil
		})
	if wrap {
		bulwark.Use(s, bulwark.Recover(nil), bulwark.Timeout(bulwark.Fixed(10*time.Second)))
	}
	return bulwarktest.Connect(b, s, nil)
}

func benchCalls(b *testing.B, cs *mcp.ClientSession) {
	ctx := context.Background()
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := cs.CallTool(ctx, params)
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	}
}

func BenchmarkBareCall(b *testing.B) { benchCalls(b, benchServer(b, false)) }

func BenchmarkUseCall(b *testing.B) { benchCalls(b, benchServer(b, true)) }

// BenchmarkRootLayers measures the root layers alone around a no-op handler,
// without a transport: the per-call record, Recover, Timeout and the wire
// mapping, as Wrap applies them.
func BenchmarkRootLayers(b *testing.B) {
	benchRootLayers(b, bulwark.Timeout(bulwark.Fixed(10*time.Second)))
}

// BenchmarkRootLayersDeadline is BenchmarkRootLayers with Deadline in
// place of Timeout: no goroutine, channel or extra timer per call.
//
//	go test -run '^$' -bench 'RecordOnly|RootLayers' -benchmem -count 5 .
func BenchmarkRootLayersDeadline(b *testing.B) {
	benchRootLayers(b, bulwark.Deadline(bulwark.Fixed(10*time.Second)))
}

func benchRootLayers(b *testing.B, deadline bulwark.Middleware) {
	ok := &mcp.CallToolResult{}
	h := bulwark.Wrap(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return ok, nil },
		bulwark.Recover(nil), deadline)
	req := bulwarktest.Request("echo", `{"text":"hello"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordOnly is the per-call record and wire mapping without layers.
func BenchmarkRecordOnly(b *testing.B) {
	ok := &mcp.CallToolResult{}
	h := bulwark.Wrap(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return ok, nil })
	req := bulwarktest.Request("echo", `{"text":"hello"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawCall is BenchmarkBareCall's tool added as a raw handler
// (bulwark.AddToolHandler) with the same schemas: the difference is what
// the SDK's typed registration costs a call (decoding into the input type,
// validating against the inferred schema, encoding the output), which
// validate.Middleware can take over when a server registers raw handlers.
//
//	go test -run '^$' -bench 'BareCall|RawCall' -benchmem -count 5 .
func BenchmarkRawCall(b *testing.B) {
	s := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "v1"}, nil)
	in := map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}
	out := map[string]any{"type": "object", "properties": map[string]any{"echo": map[string]any{"type": "string"}}}
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "echo", InputSchema: in, OutputSchema: out, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args echoIn
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
				return nil, err
			}
			o := echoOut{Echo: args.Text}
			b, _ := json.Marshal(o)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}, StructuredContent: o}, nil
		})
	benchCalls(b, bulwarktest.Connect(b, s, nil))
}

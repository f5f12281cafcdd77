package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Every request bulwark.Use guards gets one record naming its method; what
// it acted on is in the (redacted) arguments, and a record still verifies.
func TestRecordsNameTheMethod(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "customer://{id}", Name: "customer"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "x"}}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "summary"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "x"}}}}, nil
	})
	bulwark.AddTool(s, &mcp.Tool{Name: "echo"}, func(context.Context, *mcp.CallToolRequest, map[string]any) (*mcp.CallToolResult, any, error) {
		return bulwarktest.TextResult("ok"), nil, nil
	})
	deny := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if bulwark.CallFrom(ctx).Method == bulwark.MethodGetPrompt {
				return nil, bulwark.PermissionDenied("missing scope customers:read")
			}
			return next(ctx, req)
		}
	}
	bulwark.Use(s, audit.Middleware(l), deny)
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://42"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "summary", Arguments: map[string]string{"password": "hunter2"}}); err == nil {
		t.Fatal("prompt not refused")
	}
	if _, err := bulwarktest.Call(ctx, cs, "echo", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var calls []*audit.Record
	for _, r := range sink.records() {
		if r.Kind == audit.KindCall {
			calls = append(calls, r)
		}
	}
	want := []struct{ method, tool, outcome, args string }{
		{"resources/read", "", "ok", `"uri":"customer://42"`},
		{"prompts/get", "", "permission_denied", `"name":"summary"`},
		{"tools/call", "echo", "ok", ""},
	}
	if len(calls) != len(want) {
		t.Fatalf("%d call records, want %d", len(calls), len(want))
	}
	for i, w := range want {
		r := calls[i]
		if r.Method != w.method || r.Tool != w.tool || r.Outcome != w.outcome || !strings.Contains(string(r.Arguments), w.args) {
			t.Errorf("record %d: method %q tool %q outcome %q arguments %s; want %+v", i, r.Method, r.Tool, r.Outcome, r.Arguments, w)
		}
	}
	if strings.Contains(string(sink.text()), "hunter2") {
		t.Error("a prompt argument named password was not redacted")
	}
	if _, err := audit.Verify(strings.NewReader(string(sink.text())), testKey); err != nil {
		t.Errorf("verify: %v", err)
	}
}

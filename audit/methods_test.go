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
	if _, err := bulwarktest.CallTool(ctx, cs, "echo", map[string]any{}); err != nil {
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

// A layer inside audit that sets a result of the wrong type (or none)
// makes bulwark.Use answer with an internal error; the record says so too,
// with the same correlation ID, rather than "ok".
func TestRecordAgreesWithAWrongResult(t *testing.T) {
	tests := []struct {
		name string
		set  func(c *bulwark.Call)
	}{
		{"other type", func(c *bulwark.Call) { c.SetResult(&mcp.ListPromptsResult{}) }},
		{"nil", func(c *bulwark.Call) { c.SetResult(nil) }},
		{"typed nil", func(c *bulwark.Call) { c.SetResult((*mcp.ListToolsResult)(nil)) }},
		{"tool error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{}
			l := newLogger(t, sink, audit.Config{})
			s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
			bulwark.AddTool(s, &mcp.Tool{Name: "echo"}, func(context.Context, *mcp.CallToolRequest, map[string]any) (*mcp.CallToolResult, any, error) {
				return bulwarktest.TextResult("ok"), nil, nil
			})
			spoil := func(next mcp.ToolHandler) mcp.ToolHandler {
				return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					res, err := next(ctx, req)
					if c := bulwark.CallFrom(ctx); c.Method == bulwark.MethodListTools {
						if tt.set == nil {
							// A list cannot carry a tool error.
							res = &mcp.CallToolResult{}
							res.SetError(bulwark.ToolError("no tools today"))
							return res, nil
						}
						tt.set(c)
					}
					return res, err
				}
			}
			bulwark.Use(s, audit.Middleware(l), spoil)
			cs := bulwarktest.Connect(t, s, nil)
			_, err := cs.ListTools(context.Background(), nil)
			ref := bulwark.RefusalOf(nil, err)
			if ref == nil || ref.Code != bulwark.CodeInternal {
				t.Fatalf("client got %v, want an internal error", err)
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got *audit.Record
			for _, r := range sink.records() {
				if r.Kind == audit.KindCall && r.Method == bulwark.MethodListTools {
					got = r
				}
			}
			if got == nil {
				t.Fatal("no record of the list")
			}
			if got.Outcome != "internal" || got.ID != ref.CorrelationID || got.Reason != "internal error (id "+ref.CorrelationID+")" {
				t.Fatalf("record: outcome %q id %q reason %q; want internal with id %s", got.Outcome, got.ID, got.Reason, ref.CorrelationID)
			}
		})
	}
}

// A tool added with Server.AddTool whose handler returns neither a result
// nor an error cannot be answered: the client receives an internal error
// with the call's correlation ID, and the record says internal, not ok.
func TestRecordOfACallAnsweredWithNothing(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "nothing", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
	bulwark.Use(s, audit.Middleware(l), bulwark.Recover(nil))
	cs := bulwarktest.Connect(t, s, nil)
	_, err := bulwarktest.CallTool(context.Background(), cs, "nothing", map[string]any{})
	ref := bulwark.RefusalOf(nil, err)
	if ref == nil || ref.Code != bulwark.CodeInternal || !strings.Contains(err.Error(), "internal error (id "+ref.CorrelationID+")") {
		t.Fatalf("client got %v, want internal error (id …)", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got *audit.Record
	for _, r := range sink.records() {
		if r.Kind == audit.KindCall {
			got = r
		}
	}
	if got == nil || got.Outcome != "internal" || got.ID != ref.CorrelationID {
		t.Fatalf("record %v, want outcome internal with id %s", got, ref.CorrelationID)
	}
}

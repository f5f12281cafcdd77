package otel_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent = "00-" + parentTrace + "-00f067aa0ba902b7-01"
)

func record(t *testing.T) (*tracetest.SpanRecorder, bulwark.Middleware) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return rec, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp})
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestToolCallSpan(t *testing.T) {
	tests := []struct {
		name       string
		opts       []bulwarktest.RequestOption
		handler    mcp.ToolHandler
		wantParent bool
		errorType  string
	}{
		{
			name: "ok, context from _meta",
			opts: []bulwarktest.RequestOption{bulwarktest.WithMeta("traceparent", traceparent)},
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return bulwarktest.TextResult("ok"), nil
			},
			wantParent: true,
		},
		{
			name: "refused, context from headers",
			opts: []bulwarktest.RequestOption{bulwarktest.WithHeader("Traceparent", traceparent)},
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return nil, bulwark.RateLimited("slow down", 0)
			},
			wantParent: true,
			errorType:  "rate_limited",
		},
		{
			name: "tool error, no context",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				res := &mcp.CallToolResult{}
				res.SetError(bulwark.ToolError("no such customer"))
				return res, nil
			},
			errorType: "tool_error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, mw := record(t)
			req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"}, tt.opts...)
			ctx, call := bulwarktest.Context(context.Background(), req, nil)
			call.SessionID = "sess-1"
			h := mw(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				bulwark.CallFrom(ctx).SetCacheStatus(bulwark.CacheMiss)
				bulwark.CallFrom(ctx).AddAttempt()
				bulwark.CallFrom(ctx).AddAttempt()
				res, err := tt.handler(ctx, req)
				if err != nil {
					bulwark.CallFrom(ctx).SetRejection(err)
				}
				return res, err
			})
			h(ctx, req)
			spans := rec.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			s := spans[0]
			if s.Name() != "tools/call get_customer" {
				t.Fatalf("name %q", s.Name())
			}
			a := attrs(s)
			for k, want := range map[attribute.Key]string{
				"mcp.method.name": "tools/call", "mcp.session.id": "sess-1", "gen_ai.tool.name": "get_customer",
				"gen_ai.operation.name": "execute_tool", "bulwark.cache": "miss",
			} {
				if got := a[k].AsString(); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if a["bulwark.attempts"].AsInt64() != 2 {
				t.Errorf("attempts %v", a["bulwark.attempts"])
			}
			if got := a["error.type"].AsString(); got != tt.errorType {
				t.Errorf("error.type %q, want %q", got, tt.errorType)
			}
			if (s.Status().Code == codes.Error) != (tt.errorType != "") {
				t.Errorf("status %v", s.Status())
			}
			if got := s.Parent().TraceID().String() == parentTrace && s.SpanContext().TraceID().String() == parentTrace; got != tt.wantParent {
				t.Errorf("continues the caller's trace: %v, want %v", got, tt.wantParent)
			}
			if tt.errorType == "rate_limited" && (len(s.Events()) != 1 || s.Events()[0].Name != "bulwark.refusal") {
				t.Errorf("events %v", s.Events())
			}
		})
	}
}

func TestOtherMethodSpan(t *testing.T) {
	rec, mw := record(t)
	req := bulwarktest.Request(bulwark.MethodReadResource, nil)
	ctx, c := bulwark.NewCall(context.Background(), req, nil)
	c.Start = t0
	c.Method, c.Tool, c.Target = bulwark.MethodReadResource, "", "customer://c-1"
	c.SetRequest(&mcp.ReadResourceRequest{Params: &mcp.ReadResourceParams{URI: "customer://c-1", Meta: mcp.Meta{"traceparent": traceparent}}})
	mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c.SetResult(&mcp.ReadResourceResult{})
		return &mcp.CallToolResult{}, nil
	})(ctx, req)
	s := rec.Ended()[0]
	if s.Name() != "resources/read customer://c-1" || attrs(s)["gen_ai.tool.name"].AsString() != "" || s.Parent().TraceID().String() != parentTrace {
		t.Fatalf("span %q attrs %v parent %v", s.Name(), s.Attributes(), s.Parent().TraceID())
	}
}

package otel_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
	traceparent = "00-" + parentTrace + "-" + parentSpan + "-01"

	headerTrace = "0af7651916cd43dd8448eb211c80319c"
	headerSpan  = "b7ad6b7169203331"
	headerTP    = "00-" + headerTrace + "-" + headerSpan + "-01"

	// secret stands for the cause of an internal error: it must reach no
	// span, event, status or metric.
	secret = "dial postgres: password=hunter2"
)

func record(t *testing.T) (*tracetest.SpanRecorder, bulwark.Middleware) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return rec, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp})
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// only returns the one span rec ended.
func only(t *testing.T, rec *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	return spans[0]
}

// noSecret fails if the cause of an internal error reached the span.
func noSecret(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	texts := []string{s.Name(), s.Status().Description}
	for _, kv := range s.Attributes() {
		texts = append(texts, kv.Value.String())
	}
	for _, ev := range s.Events() {
		for _, kv := range ev.Attributes {
			texts = append(texts, kv.Value.String())
		}
	}
	for _, txt := range texts {
		if strings.Contains(txt, "hunter2") {
			t.Errorf("the cause of an internal error reached the span: %q", txt)
		}
	}
}

func TestToolCallSpan(t *testing.T) {
	tests := []struct {
		name    string
		handler mcp.ToolHandler
		// What the conventions ask for: error.type, rpc.response.status_code
		// and the status description; bulwark.outcome besides.
		errorType, statusCode, description, outcome string
		refusal                                     string // the code of the bulwark.refusal event, if one
	}{
		{
			name: "ok",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return bulwarktest.TextResult("ok"), nil
			},
			outcome: "ok",
		},
		{
			name: "tool error",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				res := &mcp.CallToolResult{}
				res.SetError(bulwark.ToolError("no such customer"))
				return res, nil
			},
			errorType: "tool_error", description: "tool_error", outcome: "tool_error",
		},
		{
			// Sent as an IsError result the model can act on.
			name: "rate limited",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return nil, bulwark.RateLimited("slow down", 0)
			},
			errorType: "tool_error", description: "rate_limited", outcome: "rate_limited", refusal: "rate_limited",
		},
		{
			// Sent as a JSON-RPC error: the model cannot fix credentials.
			name: "unauthenticated",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return nil, bulwark.Unauthenticated("", errors.New("no token"))
			},
			errorType: "-32060", statusCode: "-32060", description: "authentication required", outcome: "unauthenticated", refusal: "unauthenticated",
		},
		{
			name: "internal",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return nil, errors.New(secret)
			},
			errorType: "-32603", statusCode: "-32603", description: "internal error (id ", outcome: "internal", refusal: "internal",
		},
		{
			name: "unexpected tool failure",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				res := &mcp.CallToolResult{}
				res.SetError(errors.New(secret))
				return res, nil
			},
			errorType: "tool_error", description: "internal", outcome: "internal",
		},
		{
			name: "protocol error",
			handler: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: `unknown tool "get_customer"`}
			},
			errorType: "-32602", statusCode: "-32602", description: `unknown tool "get_customer"`, outcome: "protocol_error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, mw := record(t)
			req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
			ctx, call := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "get_customer"})
			call.SessionID = "sess-1"
			h := mw(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				bulwark.CallFrom(ctx).SetField("cache", "miss")
				bulwark.CallFrom(ctx).AddAttempt()
				bulwark.CallFrom(ctx).AddAttempt()
				res, err := tt.handler(ctx, req)
				bulwark.CallFrom(ctx).SetRejection(err)
				return res, err
			})
			h(ctx, req)
			s := only(t, rec)
			if s.Name() != "tools/call get_customer" || s.SpanKind() != trace.SpanKindServer {
				t.Errorf("span %q kind %v, want \"tools/call get_customer\" server", s.Name(), s.SpanKind())
			}
			a := attrs(s)
			want := map[attribute.Key]string{
				"mcp.method.name": "tools/call", "mcp.session.id": "sess-1", "gen_ai.tool.name": "get_customer",
				"gen_ai.operation.name": "execute_tool", "network.transport": "pipe",
				"bulwark.cache": "miss", "bulwark.attempts": "2", "bulwark.correlation_id": call.ID,
				"bulwark.outcome": tt.outcome, "error.type": tt.errorType, "rpc.response.status_code": tt.statusCode,
			}
			for k, w := range want {
				if a[k] != w {
					t.Errorf("%s = %q, want %q", k, a[k], w)
				}
			}
			for _, k := range []attribute.Key{"mcp.resource.uri", "gen_ai.prompt.name", "network.protocol.name", "jsonrpc.request.id"} {
				if v, ok := a[k]; ok {
					t.Errorf("%s = %q, want none", k, v)
				}
			}
			if tt.errorType == "" {
				if s.Status().Code != codes.Unset {
					t.Errorf("status %v, want unset", s.Status())
				}
			} else if s.Status().Code != codes.Error || !strings.HasPrefix(s.Status().Description, tt.description) {
				t.Errorf("status %v, want error %q", s.Status(), tt.description)
			}
			var got string
			for _, ev := range s.Events() {
				if ev.Name == "bulwark.refusal" {
					for _, kv := range ev.Attributes {
						if kv.Key == "bulwark.refusal.code" {
							got = kv.Value.AsString()
						}
					}
				}
			}
			if got != tt.refusal {
				t.Errorf("refusal event code %q, want %q", got, tt.refusal)
			}
			noSecret(t, s)
		})
	}
}

// A tool the server did not register is named by the client: it stays out
// of the span name, which the conventions keep low in cardinality, and is
// only an attribute.
func TestUnknownToolName(t *testing.T) {
	rec, mw := record(t)
	req := bulwarktest.Request("x-"+strings.Repeat("a", 20), nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	call.SetRejection(bulwark.PermissionDenied(""))
	mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return nil, bulwark.PermissionDenied("")
	})(ctx, req)
	s := only(t, rec)
	if s.Name() != "tools/call" || attrs(s)["gen_ai.tool.name"] != req.Params.Name {
		t.Errorf("span %q, gen_ai.tool.name %q", s.Name(), attrs(s)["gen_ai.tool.name"])
	}

	// Once a handler has answered for it, the tool exists (bulwark.Wrap
	// gives no definition).
	rec, mw = record(t)
	ctx, _ = bulwarktest.Context(context.Background(), req, nil)
	mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("ok"), nil
	})(ctx, req)
	if s := only(t, rec); s.Name() != "tools/call "+req.Params.Name {
		t.Errorf("span %q after an answer", s.Name())
	}
}

func TestOtherMethodSpans(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		request  mcp.Request
		result   mcp.Result
		err      error
		span     string
		want     map[attribute.Key]string
		notWants []attribute.Key
	}{
		{
			name:   "resources/read: the URI is an attribute, not in the name",
			method: bulwark.MethodReadResource,
			request: &mcp.ReadResourceRequest{Params: &mcp.ReadResourceParams{
				URI: "customer://c-1", Meta: mcp.Meta{"traceparent": traceparent}}},
			result:   &mcp.ReadResourceResult{},
			span:     "resources/read",
			want:     map[attribute.Key]string{"mcp.method.name": "resources/read", "mcp.resource.uri": "customer://c-1", "bulwark.outcome": "ok"},
			notWants: []attribute.Key{"gen_ai.tool.name", "gen_ai.operation.name", "error.type", "mcp.target"},
		},
		{
			name:     "prompts/get",
			method:   bulwark.MethodGetPrompt,
			request:  &mcp.GetPromptRequest{Params: &mcp.GetPromptParams{Name: "greet"}},
			result:   &mcp.GetPromptResult{},
			span:     "prompts/get greet",
			want:     map[attribute.Key]string{"mcp.method.name": "prompts/get", "gen_ai.prompt.name": "greet"},
			notWants: []attribute.Key{"gen_ai.operation.name", "error.type"},
		},
		{
			name:   "completion of a prompt argument",
			method: bulwark.MethodComplete,
			request: &mcp.CompleteRequest{Params: &mcp.CompleteParams{
				Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "greet"}, Argument: mcp.CompleteParamsArgument{Name: "name", Value: "A"}}},
			result: &mcp.CompleteResult{},
			span:   "completion/complete greet",
			want:   map[attribute.Key]string{"gen_ai.prompt.name": "greet"},
		},
		{
			name:     "tools/list",
			method:   bulwark.MethodListTools,
			request:  &mcp.ListToolsRequest{Params: &mcp.ListToolsParams{}},
			result:   &mcp.ListToolsResult{},
			span:     "tools/list",
			want:     map[attribute.Key]string{"mcp.method.name": "tools/list"},
			notWants: []attribute.Key{"gen_ai.tool.name", "gen_ai.prompt.name", "mcp.resource.uri"},
		},
		{
			// Methods other than tools/call have no IsError results: every
			// refusal is a JSON-RPC error.
			name:    "resources/read refused",
			method:  bulwark.MethodReadResource,
			request: &mcp.ReadResourceRequest{Params: &mcp.ReadResourceParams{URI: "customer://c-2"}},
			err:     bulwark.PermissionDenied(""),
			span:    "resources/read",
			want: map[attribute.Key]string{"error.type": "-32061", "rpc.response.status_code": "-32061",
				"bulwark.outcome": "permission_denied", "mcp.resource.uri": "customer://c-2"},
		},
		{
			// An unknown prompt's name stays out of the span name.
			name:    "prompts/get of an unknown prompt",
			method:  bulwark.MethodGetPrompt,
			request: &mcp.GetPromptRequest{Params: &mcp.GetPromptParams{Name: "nope"}},
			err:     &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: `unknown prompt "nope"`},
			span:    "prompts/get",
			want:    map[attribute.Key]string{"gen_ai.prompt.name": "nope", "error.type": "-32602", "bulwark.outcome": "protocol_error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, mw := record(t)
			req := bulwarktest.Request(tt.method, nil)
			ctx, c := bulwarktest.Context(context.Background(), req, nil)
			c.Method, c.Tool, c.Target = tt.method, "", "set-by-use"
			c.SetRequest(tt.request)
			mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				c.SetResult(tt.result)
				return &mcp.CallToolResult{}, nil
			})(ctx, req)
			s := only(t, rec)
			if s.Name() != tt.span {
				t.Errorf("span name %q, want %q", s.Name(), tt.span)
			}
			a := attrs(s)
			for k, w := range tt.want {
				if a[k] != w {
					t.Errorf("%s = %q, want %q", k, a[k], w)
				}
			}
			for _, k := range tt.notWants {
				if v, ok := a[k]; ok {
					t.Errorf("%s = %q, want none", k, v)
				}
			}
		})
	}
}

// TestParent checks where the span's parent comes from and what it links
// to: the conventions make the MCP client's span (params._meta) the parent
// and link the transport's context.
func TestParent(t *testing.T) {
	ambient := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
	})
	tests := []struct {
		name       string
		meta       bool // traceparent in params._meta
		header     bool // traceparent in the HTTP headers
		ambient    bool // a span (an HTTP server span, say) in the context
		wantParent string
		wantLink   string
	}{
		{name: "none", wantParent: ""},
		{name: "_meta", meta: true, wantParent: parentTrace},
		{name: "headers only", header: true, wantParent: headerTrace},
		{name: "_meta and headers: the headers are the transport's", meta: true, header: true, wantParent: parentTrace, wantLink: headerTrace},
		{name: "ambient only", ambient: true, wantParent: ambient.TraceID().String()},
		{name: "ambient and headers: the ambient span continues the headers' trace", ambient: true, header: true, wantParent: ambient.TraceID().String()},
		{name: "_meta and ambient", meta: true, ambient: true, header: true, wantParent: parentTrace, wantLink: ambient.TraceID().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, mw := record(t)
			req := bulwarktest.Request("get_customer", nil)
			if tt.meta {
				req.Params.Meta = mcp.Meta{"traceparent": traceparent}
			}
			if tt.header {
				req.Extra = &mcp.RequestExtra{Header: http.Header{"Traceparent": {headerTP}}}
			}
			base := context.Background()
			if tt.ambient {
				base = trace.ContextWithSpanContext(base, ambient)
			}
			ctx, _ := bulwarktest.Context(base, req, &mcp.Tool{Name: "get_customer"})
			var inner trace.SpanContext
			mw(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				inner = trace.SpanContextFromContext(ctx)
				return bulwarktest.TextResult("ok"), nil
			})(ctx, req)
			s := only(t, rec)
			got := ""
			if s.Parent().IsValid() {
				got = s.Parent().TraceID().String()
			}
			if got != tt.wantParent {
				t.Errorf("parent trace %q, want %q", got, tt.wantParent)
			}
			if tt.wantParent != "" && s.SpanContext().TraceID().String() != tt.wantParent {
				t.Errorf("span in trace %s, want %s", s.SpanContext().TraceID(), tt.wantParent)
			}
			link := ""
			if len(s.Links()) > 1 {
				t.Errorf("%d links", len(s.Links()))
			}
			if len(s.Links()) == 1 {
				link = s.Links()[0].SpanContext.TraceID().String()
			}
			if link != tt.wantLink {
				t.Errorf("link to trace %q, want %q", link, tt.wantLink)
			}
			if inner.SpanID() != s.SpanContext().SpanID() {
				t.Error("the handler's context does not carry the span")
			}
			if want := "tcp"; tt.header && attrs(s)["network.transport"] != want {
				t.Errorf("network.transport %q on HTTP", attrs(s)["network.transport"])
			}
			if tt.header && attrs(s)["network.protocol.name"] != "http" {
				t.Errorf("network.protocol.name %q on HTTP", attrs(s)["network.protocol.name"])
			}
		})
	}
}

// Without a call record (a handler wrapped by hand), the layer reads the
// request itself.
func TestWithoutRecord(t *testing.T) {
	rec, mw := record(t)
	req := bulwarktest.Request("get_customer", nil)
	req.Params.Meta = mcp.Meta{"traceparent": traceparent}
	mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return nil, errors.New(secret)
	})(context.Background(), req)
	s := only(t, rec)
	a := attrs(s)
	if s.Name() != "tools/call get_customer" || a["gen_ai.tool.name"] != "get_customer" || a["error.type"] != "-32603" ||
		s.Parent().TraceID().String() != parentTrace {
		t.Errorf("span %q attrs %v parent %v", s.Name(), a, s.Parent().TraceID())
	}
	noSecret(t, s)
}

// FuzzMeta sends whatever a client may put in params._meta and in the
// traceparent header: the layer must serve the call and end its span.
func FuzzMeta(f *testing.F) {
	f.Add(`{"traceparent":"`+traceparent+`","tracestate":"rojo=1","baggage":"a=b"}`, headerTP)
	f.Add(`{"traceparent":12,"tracestate":null}`, "00-zz")
	f.Add(`{"traceparent":{"x":[1,2]}}`, "")
	f.Add(`{"traceparent":"00-00000000000000000000000000000000-0000000000000000-01"}`, strings.Repeat("0", 100))
	rec := tracetest.NewSpanRecorder()
	// Sampled whatever the caller decided, so every call ends a span the
	// recorder sees.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	mw := bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp})
	f.Fuzz(func(t *testing.T, meta, header string) {
		var m map[string]any
		if json.Unmarshal([]byte(meta), &m) != nil {
			return
		}
		req := bulwarktest.Request("get_customer", nil)
		req.Extra = &mcp.RequestExtra{Header: http.Header{"Traceparent": {header}}}
		req.Params.Meta = m
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		before := len(rec.Ended())
		res, err := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return bulwarktest.TextResult("ok"), nil
		})(ctx, req)
		if err != nil || bulwarktest.ResultText(res) != "ok" {
			t.Fatalf("res %v err %v", res, err)
		}
		if len(rec.Ended()) != before+1 {
			t.Fatal("no span ended")
		}
	})
}

package otel

import (
	"context"
	"net/http"
	"reflect"
	"strconv"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// parent returns the context to start the span in, and the link to the
// transport's trace, if any.
//
// The conventions make the MCP client's span the parent of the server's,
// whatever the transport: its context travels in params._meta (traceparent,
// tracestate, baggage), and the span links to the ambient context, the
// transport's (an HTTP server span in ctx, or else the trace context of the
// HTTP headers). A request without trace context in _meta continues the
// ambient trace, or else the one of its HTTP headers: a client that only
// propagates in HTTP headers still gets one trace.
func (l *layer) parent(ctx context.Context, c *bulwark.Call, req *mcp.CallToolRequest) (context.Context, []trace.Link) {
	ambient := trace.SpanContextFromContext(ctx)
	var header http.Header
	if req != nil && req.Extra != nil {
		header = req.Extra.Header
	}
	if meta := metaOf(c, req); meta != nil {
		if _, ok := meta["traceparent"]; ok {
			pctx := l.prop.Extract(ctx, metaCarrier(meta))
			if sc := trace.SpanContextFromContext(pctx); sc.IsValid() {
				transport := ambient
				if !transport.IsValid() && len(header) > 0 {
					transport = trace.SpanContextFromContext(l.prop.Extract(context.Background(), propagation.HeaderCarrier(header)))
				}
				if transport.IsValid() && !transport.Equal(sc) {
					return pctx, []trace.Link{{SpanContext: transport}}
				}
				return pctx, nil
			}
		}
	}
	if !ambient.IsValid() && len(header) > 0 {
		return l.prop.Extract(ctx, propagation.HeaderCarrier(header)), nil
	}
	return ctx, nil
}

// metaOf returns the request's params._meta: of the method's own request
// for methods other than tools/call, whose chain carries a stand-in.
func metaOf(c *bulwark.Call, req *mcp.CallToolRequest) map[string]any {
	if r := c.Request(); !isNilPointer(r) {
		return paramsMeta(r.GetParams())
	}
	if req != nil && req.Params != nil {
		return req.Params.GetMeta()
	}
	return nil
}

// paramsMeta returns p's _meta, or nil when p is nil or holds a nil
// pointer.
func paramsMeta(p mcp.Params) map[string]any {
	if p == nil {
		return nil
	}
	if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	return p.GetMeta()
}

// metaCarrier reads trace context from params._meta. It is read-only: the
// server never writes into a request.
type metaCarrier map[string]any

func (m metaCarrier) Get(key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func (m metaCarrier) Set(string, string) {}

func (m metaCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

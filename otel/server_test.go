package otel_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestThroughServer serves calls through bulwark.Use and an SDK client and
// checks that each span's error.type and rpc.response.status_code say what
// the client really received, and that the metric counts every call under
// names the server registered.
func TestThroughServer(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	s := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "v1"}, nil)
	tools := map[string]mcp.ToolHandler{
		"ok": func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return bulwarktest.TextResult("ok"), nil
		},
		"tool_error": func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res := &mcp.CallToolResult{}
			res.SetError(bulwark.ToolError("no such customer"))
			return res, nil
		},
		"limited": func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, bulwark.RateLimited("", 0)
		},
		"unauthenticated": func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, bulwark.Unauthenticated("", nil)
		},
		"broken": func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, errors.New(secret)
		},
		"failing": func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res := &mcp.CallToolResult{}
			res.SetError(errors.New(secret))
			return res, nil
		},
	}
	for name, h := range tools {
		bulwark.AddToolHandler(s, &mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}}, h)
	}
	s.AddResource(&mcp.Resource{URI: "customer://c-1", Name: "c-1"}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: "customer://c-1", Text: "Ada"}}}, nil
	})
	s.AddPrompt(&mcp.Prompt{Name: "greet"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{}, nil
	})
	bulwark.Use(s, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp, MeterProvider: mp}))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()

	// received says what the client got: "" for a result, tool_error for
	// an IsError result, the code of a JSON-RPC error.
	received := func(isError bool, err error) string {
		var wire *jsonrpc.Error
		switch {
		case errors.As(err, &wire):
			return strconv.FormatInt(wire.Code, 10)
		case err != nil:
			t.Fatalf("not a JSON-RPC error: %v", err)
		case isError:
			return "tool_error"
		}
		return ""
	}
	calls := []struct {
		name string
		call func() string
	}{
		{"tools/call ok", func() string {
			r, err := bulwarktest.CallTool(ctx, cs, "ok", nil)
			return received(r != nil && r.IsError, err)
		}},
		{"tools/call tool_error", func() string {
			r, err := bulwarktest.CallTool(ctx, cs, "tool_error", nil)
			return received(r != nil && r.IsError, err)
		}},
		{"tools/call limited", func() string {
			r, err := bulwarktest.CallTool(ctx, cs, "limited", nil)
			return received(r != nil && r.IsError, err)
		}},
		{"tools/call unauthenticated", func() string {
			r, err := bulwarktest.CallTool(ctx, cs, "unauthenticated", nil)
			return received(r != nil && r.IsError, err)
		}},
		{"tools/call broken", func() string {
			r, err := bulwarktest.CallTool(ctx, cs, "broken", nil)
			return received(r != nil && r.IsError, err)
		}},
		{"tools/call failing", func() string {
			r, err := bulwarktest.CallTool(ctx, cs, "failing", nil)
			return received(r != nil && r.IsError, err)
		}},
		{"tools/call", func() string {
			r, err := bulwarktest.CallTool(ctx, cs, "no_such_tool", nil)
			return received(r != nil && r.IsError, err)
		}},
		{"resources/read", func() string {
			_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://c-1"})
			return received(false, err)
		}},
		{"resources/read", func() string {
			_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://c-404"})
			return received(false, err)
		}},
		{"prompts/get greet", func() string {
			_, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet"})
			return received(false, err)
		}},
		{"prompts/get", func() string {
			_, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "nope"})
			return received(false, err)
		}},
	}
	for i, call := range calls {
		rec.Reset()
		client := call.call()
		// tools/list runs through the chain too (Use reads the tool list
		// to know the tools); the call's own span is the last.
		spans := rec.Ended()
		if len(spans) == 0 {
			t.Fatalf("%d: no span", i)
		}
		sp := spans[len(spans)-1]
		a := attrs(sp)
		if sp.Name() != call.name {
			t.Errorf("%d: span %q, want %q", i, sp.Name(), call.name)
		}
		if a["error.type"] != client {
			t.Errorf("%s (%d): error.type %q, but the client received %q", call.name, i, a["error.type"], client)
		}
		if client != "" && client != "tool_error" && a["rpc.response.status_code"] != client {
			t.Errorf("%s (%d): rpc.response.status_code %q, want %q", call.name, i, a["rpc.response.status_code"], client)
		}
		if v := a["mcp.protocol.version"]; v != cs.InitializeResult().ProtocolVersion {
			t.Errorf("%s (%d): mcp.protocol.version %q, want %q", call.name, i, v, cs.InitializeResult().ProtocolVersion)
		}
		if a["network.transport"] != "pipe" {
			t.Errorf("network.transport %q", a["network.transport"])
		}
		noSecret(t, sp)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	h := histogram(t, rm)
	byTool := map[string]uint64{}
	var total uint64
	for _, dp := range h.DataPoints {
		total += dp.Count
		for _, kv := range dp.Attributes.ToSlice() {
			if kv.Value.String() == secret {
				t.Errorf("secret in a metric attribute %s", kv.Key)
			}
			if kv.Key == "gen_ai.tool.name" {
				byTool[kv.Value.AsString()] += dp.Count
			}
			if kv.Key == "bulwark.correlation_id" || kv.Key == "mcp.session.id" || kv.Key == "mcp.resource.uri" {
				t.Errorf("unbounded attribute %s on the metric", kv.Key)
			}
		}
	}
	for name := range tools {
		if byTool[name] != 1 {
			t.Errorf("gen_ai.tool.name=%s counted %d times, want 1", name, byTool[name])
		}
	}
	if byTool["no_such_tool"] != 0 || byTool["_OTHER"] != 1 {
		t.Errorf("an unknown tool counted as %v, want _OTHER once", byTool)
	}
	if total < uint64(len(calls)) {
		t.Errorf("%d measurements for %d calls", total, len(calls))
	}
}

// histogram returns the one mcp.server.operation.duration histogram in rm.
func histogram(t *testing.T, rm metricdata.ResourceMetrics) metricdata.Histogram[float64] {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/bulwark-mcp/bulwark/otel" {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == "mcp.server.operation.duration" {
				if m.Unit != "s" {
					t.Errorf("unit %q, want s", m.Unit)
				}
				h, ok := m.Data.(metricdata.Histogram[float64])
				if !ok {
					t.Fatalf("data %T, want a float64 histogram", m.Data)
				}
				return h
			}
		}
	}
	t.Fatalf("no mcp.server.operation.duration in %+v", rm)
	return metricdata.Histogram[float64]{}
}

// set returns the attribute set as a map.
func set(s attribute.Set) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.ToSlice() {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// TestDuration measures calls with a clock the handler moves, so the
// recorded durations are exact, and checks the metric's attributes.
func TestDuration(t *testing.T) {
	clock := bulwarktest.NewFakeClock(t0)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	mw := bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp, MeterProvider: mp, Clock: clock})

	call := func(tool string, def *mcp.Tool, took time.Duration, err error) {
		req := bulwarktest.Request(tool, nil)
		req.Extra = &mcp.RequestExtra{Header: http.Header{"Mcp-Session-Id": {"s-1"}}}
		ctx, _ := bulwarktest.Context(context.Background(), req, def)
		mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			clock.Advance(took)
			if err != nil {
				return nil, err
			}
			return bulwarktest.TextResult("ok"), nil
		})(ctx, req)
	}
	def := &mcp.Tool{Name: "get_customer"}
	call("get_customer", def, 250*time.Millisecond, nil)
	call("get_customer", def, 1500*time.Millisecond, nil)
	call("get_customer", def, 40*time.Millisecond, bulwark.RateLimited("", 0))
	call("get_customer", def, 10*time.Millisecond, bulwark.Unauthenticated("", nil))
	call("made_up", nil, 10*time.Millisecond, bulwark.PermissionDenied(""))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	h := histogram(t, rm)
	if h.Temporality != metricdata.CumulativeTemporality {
		t.Errorf("temporality %v", h.Temporality)
	}
	base := map[attribute.Key]string{
		"mcp.method.name": "tools/call", "gen_ai.operation.name": "execute_tool",
		"gen_ai.tool.name": "get_customer", "network.transport": "tcp", "network.protocol.name": "http",
	}
	with := func(extra map[attribute.Key]string) map[attribute.Key]string {
		m := map[attribute.Key]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	want := []struct {
		attrs map[attribute.Key]string
		count uint64
		sum   float64
	}{
		{with(map[attribute.Key]string{"bulwark.outcome": "ok"}), 2, 1.75},
		{with(map[attribute.Key]string{"bulwark.outcome": "rate_limited", "error.type": "tool_error"}), 1, 0.04},
		{with(map[attribute.Key]string{"bulwark.outcome": "unauthenticated", "error.type": "-32060", "rpc.response.status_code": "-32060"}), 1, 0.01},
		// A name the server did not register is not an attribute value.
		{with(map[attribute.Key]string{"bulwark.outcome": "permission_denied", "error.type": "tool_error", "gen_ai.tool.name": "_OTHER"}), 1, 0.01},
	}
	if len(h.DataPoints) != len(want) {
		t.Fatalf("%d data points, want %d: %+v", len(h.DataPoints), len(want), h.DataPoints)
	}
	for _, w := range want {
		found := false
		for _, dp := range h.DataPoints {
			if !maps.Equal(set(dp.Attributes), w.attrs) {
				continue
			}
			found = true
			if dp.Count != w.count || math.Abs(dp.Sum-w.sum) > 1e-9 {
				t.Errorf("%v: count %d sum %v, want %d and %v", w.attrs, dp.Count, dp.Sum, w.count, w.sum)
			}
			if !slices.Equal(dp.Bounds, []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}) {
				t.Errorf("bounds %v, not the conventions'", dp.Bounds)
			}
		}
		if !found {
			t.Errorf("no data point with %v", w.attrs)
		}
	}

	// The spans take their times from the same clock.
	s := rec.Ended()[0]
	if !s.StartTime().Equal(t0) || s.EndTime().Sub(s.StartTime()) != 250*time.Millisecond {
		t.Errorf("span from %v to %v", s.StartTime(), s.EndTime())
	}
}

// With no meter provider set, the global one is a no-op and the layer
// measures nothing; the calls are served all the same.
func TestNoMeter(t *testing.T) {
	rec, mw := record(t)
	req := bulwarktest.Request("get_customer", nil)
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	res, err := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("ok"), nil
	})(ctx, req)
	if err != nil || bulwarktest.ResultText(res) != "ok" || len(rec.Ended()) != 1 {
		t.Fatalf("res %v err %v spans %d", res, err, len(rec.Ended()))
	}
}

// A caller that decided not to sample gets no span (the default sampler
// follows the parent), but the call is still measured and the handler's
// context still carries the caller's trace for its own outgoing calls.
func TestUnsampledParent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	mw := bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp, MeterProvider: mp})

	req := bulwarktest.Request("get_customer", nil)
	req.Params.Meta = mcp.Meta{"traceparent": "00-" + parentTrace + "-" + parentSpan + "-00"}
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	var inner string
	mw(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		inner = trace.SpanContextFromContext(ctx).TraceID().String()
		return bulwarktest.TextResult("ok"), nil
	})(ctx, req)
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded for an unsampled caller", n)
	}
	if inner != parentTrace {
		t.Errorf("handler in trace %q, want the caller's", inner)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if h := histogram(t, rm); len(h.DataPoints) != 1 || h.DataPoints[0].Count != 1 {
		t.Errorf("data points %+v, want one measurement", h.DataPoints)
	}
}

package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// call runs one call through mw around h and returns what the chain returned.
//
//lint:ignore ST1008 returns what the chain returned, in the handler's order, followed by the call record
func call(t testing.TB, ctx context.Context, mw bulwark.Middleware, h mcp.ToolHandler, tool string, args any) (*mcp.CallToolResult, error, *bulwark.Call) {
	t.Helper()
	req := bulwarktest.Request(tool, args)
	ctx, c := bulwarktest.Context(ctx, req, nil)
	res, err := mw(h)(ctx, req)
	return res, err, c
}

func TestMiddlewareOutcomes(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		h       mcp.ToolHandler
		outcome string
		reason  string
		detail  string
	}{
		{name: "ok", h: (&bulwarktest.Recorder{}).Handle, outcome: "ok"},
		{name: "tool error result", h: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r := &mcp.CallToolResult{}
			r.SetError(bulwark.ToolError("no such customer"))
			return r, nil
		}, outcome: "tool_error", reason: "no such customer"},
		{name: "tool result built by the handler", h: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "no such customer"}}}, nil
		}, outcome: "tool_error", reason: "no such customer"},
		{name: "unexpected error in a result", h: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r := &mcp.CallToolResult{}
			r.SetError(errors.New("shipping: connection refused"))
			return r, nil
		}, outcome: "internal", reason: "internal error (id ", detail: "shipping: connection refused"},
		{name: "typed refusal in a result", h: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r := &mcp.CallToolResult{}
			r.SetError(bulwark.InvalidArgument("email", "not an email address"))
			return r, nil
		}, outcome: "invalid_argument", reason: `argument "email": not an email address`},
		{name: "unauthenticated", h: errHandler(bulwark.Unauthenticated("missing credentials", errors.New("no header"))), outcome: "unauthenticated", reason: "missing credentials", detail: "no header"},
		{name: "permission denied", h: errHandler(bulwark.PermissionDenied("needs scope customers:write")), outcome: "permission_denied", reason: "needs scope customers:write"},
		{name: "rate limited", h: errHandler(bulwark.RateLimited("", 2*time.Second)), outcome: "rate_limited", reason: "rate limit exceeded; retry after 2s"},
		{name: "breaker open", h: errHandler(bulwark.Unavailable("database unavailable", time.Second, errors.New("breaker open"))), outcome: "unavailable", detail: "breaker open"},
		{name: "timeout", h: errHandler(&bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: context.DeadlineExceeded}), outcome: "deadline_exceeded"},
		{name: "internal with secret in cause", h: errHandler(errors.New("dial postgres://app:hunter2@db/x: refused")), outcome: "internal", reason: "internal error (id ", detail: "postgres://app:[REDACTED]@db/x"},
		{name: "panic", h: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { panic("boom") }, outcome: "internal", detail: "panic: boom"},
		{name: "client cancellation", ctx: canceled, h: errHandler(errors.New("pq: canceling statement")), outcome: "canceled"},
		{name: "protocol error", h: errHandler(&jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "unknown tool"}), outcome: "protocol_error", reason: "unknown tool"},
		{name: "refusal already in wire form (result)", h: func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return bulwark.ToWire(bulwark.CallFrom(ctx), nil, bulwark.RateLimited("", 2*time.Second), nil)
		}, outcome: "rate_limited", reason: "retry after 2s"},
		{name: "refusal already in wire form (JSON-RPC error)", h: func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, &jsonrpc.Error{Code: -32029, Message: "rate limit exceeded", Data: []byte(`{"code":"rate_limited","message":"rate limit exceeded"}`)}
		}, outcome: "rate_limited", reason: "rate limit exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{}
			l := newLogger(t, sink, audit.Config{})
			defer l.Close(context.Background())
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err, c := call(t, ctx, audit.Middleware(l), tt.h, "get_customer", map[string]any{"id": 7})
			recs := sink.records()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			if r.Outcome != tt.outcome || !strings.Contains(r.Reason, tt.reason) || !strings.Contains(r.Detail, tt.detail) {
				t.Fatalf("record outcome=%q reason=%q detail=%q", r.Outcome, r.Reason, r.Detail)
			}
			if r.ID != c.ID || r.Tool != "get_customer" || r.Kind != audit.KindCall || string(r.Arguments) != `{"id":7}` {
				t.Fatalf("record %+v", r)
			}
			if tt.name == "panic" && !errors.Is(err, bulwark.CodeInternal) {
				t.Fatalf("panic returned %v", err)
			}
		})
	}
}

func errHandler(err error) mcp.ToolHandler {
	return func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, err }
}

func TestMiddlewareRecordsInnerLayers(t *testing.T) {
	sink := &memSink{}
	clock := bulwarktest.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	l := newLogger(t, sink, audit.Config{Clock: clock})
	defer l.Close(context.Background())
	h := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := bulwark.CallFrom(ctx)
		c.SetPrincipal(&bulwark.Principal{ID: "alice", Method: "api_key"})
		c.AddAttempt()
		c.AddAttempt()
		c.SetField("cache", "miss")
		c.SetField("breaker", "closed")
		c.SetField("rows", "3")
		clock.Advance(1500 * time.Microsecond)
		return bulwarktest.TextResult("ok"), nil
	}
	req := bulwarktest.Request("get_customer", map[string]any{"id": 7, "api_key": "k"})
	req.Extra = &mcp.RequestExtra{Header: http.Header{"X-Test": {"1"}}}
	ctx, c := bulwarktest.Context(context.Background(), req, nil)
	c.Start = clock.Now()
	if _, err := audit.Middleware(l)(h)(ctx, req); err != nil {
		t.Fatal(err)
	}
	r := sink.records()[0]
	want := audit.Record{Seq: 1, Kind: "call", Time: clock.Now().Add(-1500 * time.Microsecond), ID: c.ID, Transport: "http",
		Principal: "alice", AuthMethod: "api_key", Method: "tools/call", Tool: "get_customer", Arguments: json.RawMessage(`{"api_key":"[REDACTED]","id":7}`),
		Outcome: "ok", Duration: 1500, Attempts: 2, Cache: "miss", Breaker: "closed", Fields: map[string]string{"rows": "3"}, MAC: r.MAC}
	got := *r
	if g, w := fmt.Sprintf("%+v", recordView(got)), fmt.Sprintf("%+v", recordView(want)); g != w {
		t.Fatalf("record\n got %s\nwant %s", g, w)
	}
}

// recordView drops the unexported signed line for comparison.
func recordView(r audit.Record) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func TestExactlyOneRecordUnderLoad(t *testing.T) {
	sink := &memSink{}
	// 10,000 callers queue for one writer; under -race on a busy machine the
	// default 2s wait can run out, which (without a buffer) is reported as
	// a refusal. This test is about exactly one record per call, so give the
	// queue time.
	l := newLogger(t, sink, audit.Config{WriteTimeout: 2 * time.Minute})
	mw := audit.Middleware(l)
	kinds := []mcp.ToolHandler{
		(&bulwarktest.Recorder{}).Handle,
		errHandler(bulwark.RateLimited("slow down", time.Second)),
		errHandler(bulwark.PermissionDenied("no")),
		errHandler(errors.New("bug")),
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { panic("boom") },
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r := &mcp.CallToolResult{}
			r.SetError(bulwark.ToolError("tool says no"))
			return r, nil
		},
	}
	const n = 10000
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := bulwarktest.Request(fmt.Sprintf("tool_%d", i%7), map[string]any{"i": i})
			ctx, c := bulwarktest.Context(context.Background(), req, nil)
			ids[i] = c.ID
			mw(kinds[i%len(kinds)])(ctx, req)
		}()
	}
	wg.Wait()
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int, n)
	outcomes := map[string]int{}
	for _, r := range sink.records() {
		if r.Kind == audit.KindCall {
			seen[r.ID]++
			outcomes[r.Outcome]++
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("call %s has %d records", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct records, want %d", len(seen), n)
	}
	for _, o := range []string{"ok", "rate_limited", "permission_denied", "internal", "tool_error"} {
		if outcomes[o] == 0 {
			t.Errorf("no %s outcomes: %v", o, outcomes)
		}
	}
	if _, err := audit.Verify(bytes.NewReader(sink.text()), testKey); err != nil {
		t.Fatal(err)
	}
}

// TestEndToEndThroughUse drives real clients through bulwark.Use, with
// audit outermost and an auth-like layer inside that refuses some callers.
func TestEndToEndThroughUse(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{})
	s := mcp.NewServer(&mcp.Implementation{Name: "srv", Version: "1"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "echo", InputSchema: map[string]any{"type": "object"}}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("echo"), nil
	})
	authish := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var a struct{ Who string }
			_ = json.Unmarshal(req.Params.Arguments, &a)
			if a.Who == "" {
				return nil, bulwark.Unauthenticated("who are you", nil)
			}
			bulwark.CallFrom(ctx).SetPrincipal(&bulwark.Principal{ID: a.Who, Method: "test"})
			if a.Who == "mallory" {
				return nil, bulwark.PermissionDenied("not you")
			}
			return next(ctx, req)
		}
	}
	bulwark.Use(s, audit.Middleware(l), bulwark.Recover(slog.New(slog.DiscardHandler)), authish)
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	const n = 60
	var wg sync.WaitGroup
	var okCount atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := []string{"alice", "mallory", ""}[i%3]
			res, err := bulwarktest.CallTool(ctx, cs, "echo", map[string]any{"Who": who})
			if err == nil && !res.IsError {
				okCount.Add(1)
			}
		}()
	}
	wg.Wait()
	byOutcome := map[string]int{}
	clients := map[string]bool{}
	for _, r := range sink.records() {
		byOutcome[r.Outcome]++
		clients[r.Client] = true
		if r.Outcome == "permission_denied" && r.Principal != "mallory" {
			t.Errorf("denial names %q", r.Principal)
		}
	}
	if byOutcome["ok"] != n/3 || byOutcome["permission_denied"] != n/3 || byOutcome["unauthenticated"] != n/3 || int(okCount.Load()) != n/3 {
		t.Fatalf("outcomes %v, ok seen by client %d", byOutcome, okCount.Load())
	}
	if clients[""] {
		t.Errorf("client name missing: %v", clients)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDigestOnly(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{DigestOnly: true})
	defer l.Close(context.Background())
	mw := audit.Middleware(l)
	for i := 0; i < 2; i++ {
		call(t, context.Background(), mw, (&bulwarktest.Recorder{}).Handle, "t", map[string]any{"pin": "1234"})
	}
	recs := sink.records()
	if recs[0].Arguments != nil || !strings.HasPrefix(recs[0].ArgumentsDigest, "hmac-sha256:") || recs[0].ArgumentsDigest != recs[1].ArgumentsDigest {
		t.Fatalf("records %+v / %+v", recs[0], recs[1])
	}
	if strings.Contains(string(sink.text()), "1234") {
		t.Fatal("argument leaked")
	}
}

func TestSizeCap(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{MaxRecordBytes: 2048})
	defer l.Close(context.Background())
	big := strings.Repeat("x ", 5000)
	call(t, context.Background(), audit.Middleware(l), errHandler(errors.New(big)), "t", map[string]any{"blob": big})
	recs := sink.records()
	if n := len(recs[0].Line()); n > 2048 {
		t.Fatalf("record is %d bytes", n)
	}
	if recs[0].Arguments != nil || recs[0].ArgumentsDigest == "" || recs[0].Fields["arguments_dropped"] == "" {
		t.Fatalf("arguments not replaced: %+v", recs[0].Fields)
	}
	if _, err := audit.New(audit.Discard, testKey, audit.Config{MaxRecordBytes: 100}); err == nil {
		t.Fatal("tiny cap accepted")
	}
}

func TestForgeryAttemptsStayInOneRecord(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{})
	evil := "x\"}\n{\"seq\":99,\"kind\":\"call\",\"outcome\":\"ok\"}\r\n\x1b[2K\x1b[1Afake"
	call(t, context.Background(), audit.Middleware(l), errHandler(bulwark.InvalidArgument("name", evil)), evil, map[string]any{evil: evil})
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := sink.text()
	if got := bytes.Count(out, []byte("\n")); got != 2 {
		t.Fatalf("%d lines, want the call and the seal:\n%s", got, out)
	}
	if bytes.ContainsAny(out[:len(out)-1], "\r\x1b") || bytes.Contains(out, []byte("\n{\"seq\":99")) {
		t.Fatalf("control characters or a forged line survived:\n%q", out)
	}
	if _, err := audit.Verify(bytes.NewReader(out), testKey); err != nil {
		t.Fatal(err)
	}
}

package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func boolPtr(b bool) *bool { return &b }

var (
	readOnly    = &mcp.Tool{Name: "get", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	idempotent  = &mcp.Tool{Name: "put", Annotations: &mcp.ToolAnnotations{IdempotentHint: true, DestructiveHint: boolPtr(false)}}
	destructive = &mcp.Tool{Name: "delete", Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true)}}
)

func TestMiddlewareEligibility(t *testing.T) {
	for _, tc := range []struct {
		name    string
		def     *mcp.Tool
		args    any
		meta    mcp.Meta
		ctxKey  string
		retried bool
	}{
		{"read-only tool", readOnly, nil, nil, "", true},
		{"idempotent tool", idempotent, nil, nil, "", true},
		{"destructive tool", destructive, map[string]any{"id": 1}, nil, "", false},
		{"unregistered tool", nil, nil, nil, "", false},
		// A key only counts once the idempotency layer found it: without
		// that layer nothing stops a retried write from repeating.
		{"destructive with key argument, no idempotency layer", destructive, map[string]any{"idempotency_key": "k-1"}, nil, "", false},
		{"destructive with key in _meta, no idempotency layer", destructive, nil, mcp.Meta{"idempotency_key": "k-1"}, "", false},
		{"destructive with key found by the idempotency layer", destructive, nil, nil, "k-1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, retry.Config{Rand: noJitter})
			rec := &bulwarktest.Recorder{Err: errUnavailable}
			h := retry.Middleware(r)(rec.Handle)
			req := bulwarktest.Request("x", tc.args)
			req.Params.Meta = tc.meta
			ctx, call := bulwarktest.Context(context.Background(), req, tc.def)
			if tc.ctxKey != "" {
				// The idempotency layer, further out, finds the key.
				store, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
				once, err := idempotency.New(store, idempotency.Config{})
				if err != nil {
					t.Fatal(err)
				}
				h = once(h)
				req = bulwarktest.Request("x", map[string]any{"idempotency_key": tc.ctxKey})
				ctx, call = bulwarktest.Context(context.Background(), req, tc.def)
			}
			_, err := h(ctx, req)
			if !errors.Is(err, bulwark.CodeUnavailable) {
				t.Fatalf("err %v", err)
			}
			want := 1
			if tc.retried {
				want = 3
			}
			if len(rec.Calls()) != want || call.Attempts() != want {
				t.Fatalf("handler ran %d times (recorded %d attempts), want %d", len(rec.Calls()), call.Attempts(), want)
			}
			if stop := call.Fields()[retry.StopField]; tc.retried && stop != "attempts" {
				t.Fatalf("stop reason %q, want attempts", stop)
			}
		})
	}
}

func TestMiddlewareResults(t *testing.T) {
	typedErr := &mcp.CallToolResult{}
	typedErr.SetError(retry.Safe(errors.New("connection lost before send")))
	refusal, _ := bulwark.ToWire(nil, nil, bulwark.Unavailable("upstream is unavailable", 0, nil), nil)
	invalid, _ := bulwark.ToWire(nil, nil, bulwark.InvalidArgument("id", "bad"), nil)
	answer := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "no such customer"}}, IsError: true}
	for _, tc := range []struct {
		name     string
		res      *mcp.CallToolResult
		attempts int
	}{
		{"success", bulwarktest.TextResult("ok"), 1},
		{"tool's error answer", answer, 1},
		{"typed handler's transient error", typedErr, 3},
		{"inner unavailable refusal", refusal, 3},
		{"inner invalid-argument refusal", invalid, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, retry.Config{Rand: noJitter})
			rec := &bulwarktest.Recorder{Result: tc.res}
			h := retry.Middleware(r)(rec.Handle)
			req := bulwarktest.Request("get", nil)
			ctx, _ := bulwarktest.Context(context.Background(), req, readOnly)
			res, err := h(ctx, req)
			if err != nil || res == nil || res.IsError != tc.res.IsError {
				t.Fatalf("res %+v err %v", res, err)
			}
			if len(rec.Calls()) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(rec.Calls()), tc.attempts)
			}
		})
	}
}

func TestMiddlewareWhen(t *testing.T) {
	r := mustNew(t, retry.Config{Rand: noJitter, When: func(context.Context, *mcp.CallToolRequest) bool { return false }})
	rec := &bulwarktest.Recorder{Err: errUnavailable}
	h := retry.Middleware(r)(rec.Handle)
	req := bulwarktest.Request("get", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, readOnly)
	_, _ = h(ctx, req)
	if len(rec.Calls()) != 1 || call.Attempts() != 1 {
		t.Fatalf("%d attempts", len(rec.Calls()))
	}
}

// Through bulwark.Use with a call deadline: retries stop at the deadline
// and the refusal reaches the client.
func TestMiddlewareEndToEnd(t *testing.T) {
	clk := clock()
	r := mustNew(t, retry.Config{Rand: noJitter, Clock: clk})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	n := 0
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "get", InputSchema: map[string]any{"type": "object"}, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			n++
			if n < 3 {
				return nil, errUnavailable
			}
			return bulwarktest.TextResult("third time lucky"), nil
		})
	var attempts int
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			attempts = bulwark.CallFrom(ctx).Attempts()
			return res, err
		}
	}, bulwark.Timeout(bulwark.Fixed(time.Minute)), retry.Middleware(r))
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "get", map[string]any{})
	if err != nil || bulwarktest.ResultText(res) != "third time lucky" || attempts != 3 {
		t.Fatalf("res %v err %v attempts %d", bulwarktest.ResultText(res), err, attempts)
	}
}

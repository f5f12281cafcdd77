package bulwark_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// observe is a layer of Use that records how the chain beneath it ended,
// as audit and metrics see it.
type observe struct {
	mu        sync.Mutex
	outcome   bulwark.Outcome
	rejection error // as the layer saw it once next returned
	call      *bulwark.Call
}

func (o *observe) layer(next mcp.ToolHandler) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := next(ctx, req)
		o.mu.Lock()
		o.outcome = bulwark.OutcomeOf(ctx, res, err)
		o.rejection = bulwark.CallFrom(ctx).Rejection()
		o.call = bulwark.CallFrom(ctx)
		o.mu.Unlock()
		return res, err
	}
}

// A refusal made by layers applied to one tool (Wrap, WrapFor) under Use is
// the same refusal to the layers of Use as one made by a layer of Use
// itself, and the client receives the same wire form.
func TestRefusalOfPerToolLayersUnderUse(t *testing.T) {
	limited := refuse(bulwark.RateLimited("too many calls", 3*time.Second))
	ok := func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("ok"), nil
	}
	typed := func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
		return nil, echoOut{Echo: in.Text}, nil
	}
	cases := []struct {
		name  string
		add   func(s *mcp.Server)
		inUse bool // the limit is a layer of Use
	}{
		{"layer of Use", func(s *mcp.Server) { bulwark.AddToolHandler(s, &mcp.Tool{Name: "t", InputSchema: objectSchema}, ok) }, true},
		{"Wrap", func(s *mcp.Server) {
			bulwark.AddToolHandler(s, &mcp.Tool{Name: "t", InputSchema: objectSchema}, bulwark.Wrap(ok, limited))
		}, false},
		{"WrapFor", func(s *mcp.Server) { bulwark.AddTool(s, &mcp.Tool{Name: "t"}, bulwark.WrapFor(typed, limited)) }, false},
	}
	var want *bulwark.Refusal
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
			tc.add(s)
			obs := &observe{}
			if tc.inUse {
				bulwark.Use(s, obs.layer, limited)
			} else {
				bulwark.Use(s, obs.layer)
			}
			cs := bulwarktest.Connect(t, s, nil)
			res, err := bulwarktest.CallTool(context.Background(), cs, "t", map[string]any{"text": "x"})
			obs.mu.Lock()
			defer obs.mu.Unlock()
			if obs.outcome != bulwark.Outcome(bulwark.CodeRateLimited) {
				t.Errorf("OutcomeOf at the Use level = %q, want rate_limited", obs.outcome)
			}
			// Per-tool layers record their refusal before Use's layers see
			// it; a refusal made by a layer of Use is recorded when it
			// leaves the chain.
			if !tc.inUse && !errors.Is(obs.rejection, bulwark.CodeRateLimited) {
				t.Errorf("Rejection() seen by the layer of Use = %v, want the rate-limit refusal", obs.rejection)
			}
			if !errors.Is(obs.call.Rejection(), bulwark.CodeRateLimited) {
				t.Errorf("Rejection() = %v, want the rate-limit refusal", obs.call.Rejection())
			}
			if err != nil || res == nil || !res.IsError {
				t.Fatalf("client received %v, %v; want an IsError result", res, err)
			}
			got := bulwark.RefusalOf(res, nil)
			if got == nil || got.Code != bulwark.CodeRateLimited || got.RetryAfterSeconds != 3 {
				t.Fatalf("refusal %+v", got)
			}
			got.CorrelationID = ""
			if text := bulwarktest.ResultText(res); text != "too many calls; retry after 3s" {
				t.Errorf("text %q", text)
			}
			if want == nil {
				want = got
			} else if *got != *want {
				t.Errorf("wire form %+v, want %+v (as from a layer of Use)", *got, *want)
			}
		})
	}
}

// The IsError results ToWire makes carry their *Error the SDK's way.
func TestToWireResultsCarryTheirError(t *testing.T) {
	ctx, c := bulwarktest.Context(context.Background(), bulwarktest.Request("t", nil), nil)
	for _, in := range []error{
		bulwark.RateLimited("slow down", time.Second),
		bulwark.InvalidArgument("id", "must be positive"),
		bulwark.PermissionDenied("needs scope x"),
		bulwark.Unavailable("down", 0, nil),
		&bulwark.Error{Code: bulwark.CodeDeadlineExceeded},
	} {
		res, err := bulwark.ToWire(c, nil, in, nil)
		if err != nil || res == nil || !res.IsError {
			t.Fatalf("%v: ToWire = %v, %v", in, res, err)
		}
		var e *bulwark.Error
		if !errors.As(res.GetError(), &e) || e.Code != bulwark.ErrorOf(in).Code {
			t.Errorf("%v: GetError() = %v", in, res.GetError())
		}
		if got := bulwark.OutcomeOf(ctx, res, nil); got.Code() != bulwark.ErrorOf(in).Code {
			t.Errorf("%v: OutcomeOf = %q", in, got)
		}
	}
	// An unexpected error becomes an IsError result too, whose error is the
	// internal refusal with the text the client reads.
	res, err := bulwark.ToWire(c, &mcp.CallToolResult{}, nil, nil)
	if err != nil || res.IsError {
		t.Fatalf("a plain result changed: %v, %v", res, err)
	}
	bad := &mcp.CallToolResult{}
	bad.SetError(errors.New("dial tcp 10.0.0.1: secret"))
	res, _ = bulwark.ToWire(c, bad, nil, nil)
	var e *bulwark.Error
	if !errors.As(res.GetError(), &e) || e.Code != bulwark.CodeInternal || e.Error() != bulwarktest.ResultText(res) {
		t.Errorf("internal: GetError() = %v, text %q", res.GetError(), bulwarktest.ResultText(res))
	}
}

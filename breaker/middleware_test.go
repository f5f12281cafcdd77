package breaker_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

//lint:ignore ST1008 returns what the chain returned, in the handler's order, followed by the call record
func callThrough(t *testing.T, h mcp.ToolHandler, tool string, def *mcp.Tool) (*mcp.CallToolResult, error, *bulwark.Call) {
	t.Helper()
	req := bulwarktest.Request(tool, map[string]any{"id": "c-1"})
	ctx, call := bulwarktest.Context(context.Background(), req, def)
	res, err := h(ctx, req)
	return res, err, call
}

func TestMiddlewareOpenRefusesWithoutCallingHandler(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{OpenFor: 20 * time.Second})
	rec := &bulwarktest.Recorder{Err: bulwark.Internal(errDown)}
	h := breaker.Middleware(b)(rec.Handle)
	for i := 0; i < 5; i++ {
		_, err, call := callThrough(t, h, "get_customer", nil)
		if !errors.Is(err, bulwark.CodeInternal) || call.Field("breaker") != "closed" {
			t.Fatalf("call %d: err %v, recorded state %q", i, err, call.Field("breaker"))
		}
	}
	clk.Advance(5 * time.Second)
	res, err, call := callThrough(t, h, "get_customer", nil)
	e := bulwark.ErrorOf(err)
	if res != nil || !errors.Is(err, bulwark.CodeUnavailable) || e.RetryAfter != 15*time.Second {
		t.Fatalf("open: res %v err %v retry %v", res, err, e.RetryAfter)
	}
	if len(rec.Calls()) != 5 {
		t.Fatalf("handler called %d times, want %d", len(rec.Calls()), 5)
	}
	if call.Field("breaker") != "open" || !errors.Is(call.Rejection(), bulwark.CodeUnavailable) {
		t.Fatalf("call record: state %q rejection %v", call.Field("breaker"), call.Rejection())
	}
	clk.Advance(15 * time.Second)
	rec.Err = nil
	if _, err, call := callThrough(t, h, "get_customer", nil); err != nil || call.Field("breaker") != "half-open" {
		t.Fatalf("probe: err %v, state %q", err, call.Field("breaker"))
	}
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("state %s", got)
	}
}

func TestMiddlewareErrorResults(t *testing.T) {
	errResult := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "no such customer"}}, IsError: true}
	refused, _ := bulwark.ToWire(nil, nil, bulwark.InvalidArgument("id", "bad"), nil)
	unavailable, _ := bulwark.ToWire(nil, nil, bulwark.Unavailable("upstream is unavailable", time.Second, nil), nil)
	withErr := &mcp.CallToolResult{}
	withErr.SetError(errDown)

	toolErrors := func(o bulwark.Outcome) bool { return o == bulwark.OutcomeToolError || breaker.DefaultIsFailure(o) }
	for _, tc := range []struct {
		name      string
		res       *mcp.CallToolResult
		isFailure func(bulwark.Outcome) bool
		failed    bool
	}{
		{"the tool's error answer counts as success by default", errResult, nil, false},
		{"the tool's error answer, counted by IsFailure", errResult, toolErrors, true},
		{"a typed handler's returned error is internal: a failure", withErr, nil, true},
		{"inner invalid-argument refusal is ignored", refused, toolErrors, false},
		{"inner unavailable refusal is a failure", unavailable, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBreaker(t, breaker.Config{TripAfter: 1, IsFailure: tc.isFailure})
			rec := &bulwarktest.Recorder{Result: tc.res}
			h := breaker.Middleware(b)(rec.Handle)
			if _, err, _ := callThrough(t, h, "t", nil); err != nil {
				t.Fatal(err)
			}
			if got := b.State() == breaker.StateOpen; got != tc.failed {
				t.Fatalf("counted as failure: %v, want %v", got, tc.failed)
			}
		})
	}
}

func TestMiddlewareClientCancelIgnored(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{TripAfter: 1})
	h := breaker.Middleware(b)(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	req := bulwarktest.Request("slow", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h(ctx, req); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if b.State() != breaker.StateClosed {
		t.Fatalf("state %s: a cancelled call must not count as a failure", b.State())
	}
}

func TestMiddlewarePanicIsFailure(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{TripAfter: 1})
	h := bulwark.Chain(bulwark.Recover(nil), breaker.Middleware(b))(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		panic("bug")
	})
	if _, err := h(context.Background(), bulwarktest.Request("t", nil)); !errors.Is(err, bulwark.CodeInternal) {
		t.Fatalf("err %v", err)
	}
	if b.State() != breaker.StateOpen {
		t.Fatalf("state %s", b.State())
	}
}

func TestSet(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	pg, _ := breaker.New("postgres", breaker.Config{Clock: clk})
	up, _ := breaker.New("upstream", breaker.Config{Clock: clk})
	set, err := breaker.NewSet(pg, up)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := breaker.NewSet(pg, pg); err == nil {
		t.Fatal("duplicate names accepted")
	}
	if _, err := set.New("postgres", breaker.Config{}); err == nil {
		t.Fatal("duplicate name accepted by Set.New")
	}
	var seen []string
	set.OnStateChange(func(_ context.Context, e breaker.StateChange) { seen = append(seen, e.Name+":"+string(e.To)) })
	later, err := set.New("cache", breaker.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.OpenBreakers(); len(got) != 0 {
		t.Fatalf("open: %v", got)
	}
	up.ForceOpen()
	later.ForceOpen()
	if got := set.OpenBreakers(); !slices.Equal(got, []string{"cache", "upstream"}) {
		t.Fatalf("OpenBreakers = %v", got)
	}
	if st := set.States(); st["postgres"] != breaker.StateClosed || st["upstream"] != breaker.StateOpen || len(st) != 3 {
		t.Fatalf("States = %v", st)
	}
	if !slices.Equal(seen, []string{"upstream:open", "cache:open"}) {
		t.Fatalf("set subscriber saw %v", seen)
	}
}

func TestPerTool(t *testing.T) {
	set, _ := breaker.NewSet()
	clk := bulwarktest.NewFakeClock(time.Time{})
	if _, err := set.PerTool(breaker.Config{OpenFor: -1}); err == nil {
		t.Fatal("bad settings accepted")
	}
	perTool, err := set.PerTool(breaker.Config{Clock: clk, TripAfter: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec := &bulwarktest.Recorder{Err: errDown}
	h := perTool(rec.Handle)
	a := &mcp.Tool{Name: "a"}
	callThrough(t, h, "a", a)
	if _, err, _ := callThrough(t, h, "a", a); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("tool a after a failure: %v", err)
	}
	// Tool b has its own breaker, still closed.
	if _, err, _ := callThrough(t, h, "b", &mcp.Tool{Name: "b"}); !errors.Is(err, errDown) {
		t.Fatalf("tool b: %v", err)
	}
	// Unregistered tools are not guarded and add nothing to the set.
	for i := 0; i < 3; i++ {
		if _, err, _ := callThrough(t, h, "made-up", nil); !errors.Is(err, errDown) {
			t.Fatalf("unregistered: %v", err)
		}
	}
	if names := len(set.States()); names != 2 {
		t.Fatalf("set holds %d breakers, want 2", names)
	}
	if got := set.OpenBreakers(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("open %v", got)
	}
}

// Through a real client: the open breaker's refusal reaches the model as an
// IsError result with a retry hint.
func TestEndToEnd(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{OpenFor: 42 * time.Second})
	b.ForceOpen()
	b.Reset()
	trip(t, b, 5)
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "get", InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t.Error("handler called through an open breaker")
		return bulwarktest.TextResult("x"), nil
	})
	bulwark.Use(s, breaker.Middleware(b))
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "get", map[string]any{})
	r := bulwark.RefusalOf(res, err)
	if err != nil || r == nil || r.Code != bulwark.CodeUnavailable || r.RetryAfterSeconds != 42 {
		t.Fatalf("res %+v err %v refusal %+v", res, err, r)
	}
	if got := bulwarktest.ResultText(res); got != "db is unavailable; retry after 42s" {
		t.Fatalf("text %q", got)
	}
}

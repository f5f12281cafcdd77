package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The layers in the documented order, through a real client: timeout →
// breaker → idempotency → retry → handler.
func TestChainEndToEnd(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Now())
	b, err := breaker.New("notes", breaker.Config{Clock: clk, OpenFor: time.Minute, TripAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := mustNew(t, retry.Config{Clock: clk, Rand: noJitter})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	var writes, attempts int
	failNext := 1 // the first attempt loses its connection before sending
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "add_note", InputSchema: map[string]any{"type": "object"}, Annotations: &mcp.ToolAnnotations{DestructiveHint: boolPtr(true)}},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			attempts++
			if failNext > 0 {
				failNext--
				return nil, retry.Safe(errors.New("connection reset before write"))
			}
			writes++
			return bulwarktest.TextResult("note added with key " + idempotency.KeyFrom(ctx)), nil
		})
	store, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{Clock: clk})
	once, err := idempotency.New(store, idempotency.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	bulwark.Use(s, bulwark.Timeout(bulwark.Fixed(time.Minute)), breaker.Middleware(b), once, retry.Middleware(r))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	args := map[string]any{"text": "hello", "idempotency_key": "n-1"}

	res, err := bulwarktest.CallTool(ctx, cs, "add_note", args)
	if err != nil || res.IsError || bulwarktest.ResultText(res) != "note added with key n-1" || attempts != 2 || writes != 1 {
		t.Fatalf("first call: %q %v (attempts %d, writes %d)", bulwarktest.ResultText(res), err, attempts, writes)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "add_note", args)
	if err != nil || bulwarktest.ResultText(res) != "note added with key n-1" || writes != 1 || res.Meta[idempotency.ReplayMetaKey] != true {
		t.Fatalf("duplicate: %q %v %v (writes %d)", bulwarktest.ResultText(res), err, res.Meta, writes)
	}
	// Without a key the destructive tool is not retried: one attempt, and
	// its failure reaches the breaker once.
	failNext = 10
	attempts = 0
	for i := 0; i < 2; i++ {
		if _, err := bulwarktest.CallTool(ctx, cs, "add_note", map[string]any{"text": "x"}); err == nil {
			t.Fatal("failure not reported")
		}
	}
	if attempts != 2 || b.State() != breaker.StateOpen {
		t.Fatalf("attempts %d (want 2, no retries), breaker %s", attempts, b.State())
	}
	// Open: refused at once, even for a keyed call that would be retried.
	res, err = bulwarktest.CallTool(ctx, cs, "add_note", map[string]any{"text": "y", "idempotency_key": "n-2"})
	if ref := bulwark.RefusalOf(res, err); ref == nil || ref.Code != bulwark.CodeUnavailable || ref.RetryAfterSeconds != 60 || attempts != 2 {
		t.Fatalf("open breaker: %+v %v, attempts %d", ref, err, attempts)
	}
}

// With Config.Breaker, Do runs all its attempts inside one Execute of the
// breaker: a call retried three times counts once, an open breaker refuses
// before any attempt, and what Do returns is permanent for an outer retry
// layer, so the tool-level Middleware does not wait out the open period.
func TestDoInsideBreaker(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Now())
	b, err := breaker.New("db", breaker.Config{Clock: clk, OpenFor: time.Minute, TripAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	dep := mustNew(t, retry.Config{Breaker: b, Clock: instantClock{}, Rand: noJitter, Budget: bigBudget(t)})
	attempts := 0
	failing := func(context.Context) error { attempts++; return errUnavailable }

	if err := dep.Do(context.Background(), failing); !errors.Is(err, errUnavailable) || attempts != 3 {
		t.Fatalf("first call: %v after %d attempts, want 3 attempts", err, attempts)
	}
	if b.State() != breaker.StateClosed {
		t.Fatalf("breaker %s after one call of three attempts: the call must count once", b.State())
	}
	_ = dep.Do(context.Background(), failing)
	if b.State() != breaker.StateOpen || attempts != 6 {
		t.Fatalf("breaker %s after two failed calls (attempts %d)", b.State(), attempts)
	}
	err = dep.Do(context.Background(), failing)
	if !errors.Is(err, breaker.ErrOpen) || attempts != 6 || retry.Transient(err) {
		t.Fatalf("open: %v (attempts %d, transient %v); want the breaker's refusal, no attempt, marked permanent", err, attempts, retry.Transient(err))
	}

	// A handler that calls the open dependency: the tool-level retry does
	// not repeat it, and the client gets the refusal at once.
	tools := mustNew(t, retry.Config{Clock: instantClock{}, Rand: noJitter, Budget: bigBudget(t)})
	runs := 0
	h := retry.Middleware(tools)(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		runs++
		return nil, dep.Do(ctx, failing)
	})
	req := bulwarktest.Request("get", nil)
	ctx, _ := bulwarktest.Context(context.Background(), req, readOnly)
	if _, err := h(ctx, req); !errors.Is(err, breaker.ErrOpen) || runs != 1 {
		t.Fatalf("tool call: %v after %d runs, want the refusal after one", err, runs)
	}
}

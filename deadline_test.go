package bulwark_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Both modes give the handler a context that ends at the deadline, and a
// handler that honours it is refused with deadline exceeded at the
// deadline.
func TestDeadlineModesHonouringHandler(t *testing.T) {
	for name, mw := range map[string]func(bulwark.PerCall[time.Duration]) bulwark.Middleware{
		"Timeout": bulwark.Timeout, "Deadline": bulwark.Deadline,
	} {
		t.Run(name, func(t *testing.T) {
			var reported time.Duration
			h := mw(bulwark.Fixed(30 * time.Millisecond))(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				dl, ok := ctx.Deadline()
				if !ok {
					t.Error("no deadline reported")
				}
				reported = time.Until(dl)
				<-ctx.Done()
				if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
					t.Errorf("context error %v", ctx.Err())
				}
				return nil, ctx.Err()
			})
			start := time.Now()
			res, err := h(context.Background(), bulwarktest.Request("slow", nil))
			el := time.Since(start)
			if res != nil || !errors.Is(err, bulwark.CodeDeadlineExceeded) {
				t.Fatalf("got %+v %v, want deadline exceeded", res, err)
			}
			if el < 30*time.Millisecond || el > 2*time.Second {
				t.Errorf("answered after %v, want at the 30ms deadline", el)
			}
			if reported <= 0 || reported > 30*time.Millisecond {
				t.Errorf("handler saw a deadline in %v", reported)
			}
		})
	}
}

// Deadline trusts the handler: one that ignores its context holds the
// call until it returns, and its late result is sent; a late error is
// refused as deadline exceeded, whatever its text.
func TestDeadlineHandlerIgnoresContext(t *testing.T) {
	late := func(err error) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			time.Sleep(60 * time.Millisecond) // ignores ctx
			if err != nil {
				return nil, err
			}
			return bulwarktest.TextResult("late"), nil
		}
	}
	mw := bulwark.Deadline(bulwark.Fixed(10 * time.Millisecond))

	start := time.Now()
	res, err := mw(late(nil))(context.Background(), bulwarktest.Request("slow", nil))
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("answered after %v, before the handler returned", el)
	}
	if err != nil || bulwarktest.ResultText(res) != "late" {
		t.Fatalf("got %+v %v, want the late result", res, err)
	}

	res, err = mw(late(errors.New("dial tcp 10.0.0.9: i/o timeout")))(context.Background(), bulwarktest.Request("slow", nil))
	if res != nil || !errors.Is(err, bulwark.CodeDeadlineExceeded) {
		t.Fatalf("got %+v %v, want deadline exceeded", res, err)
	}
	if e := bulwark.ErrorOf(err); e.Message != "" || e.Error() != "deadline exceeded" {
		t.Errorf("client text %q", e.Error())
	}
}

// Under Deadline, a late IsError result (a typed handler's error, as the
// SDK returns it) is refused like a late error; a result in time passes.
func TestDeadlineResults(t *testing.T) {
	mw := bulwark.Deadline(bulwark.Fixed(20 * time.Millisecond))
	lateToolError := mw(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		<-ctx.Done()
		res := &mcp.CallToolResult{}
		res.SetError(ctx.Err())
		return res, nil
	})
	if _, err := lateToolError(context.Background(), bulwarktest.Request("t", nil)); !errors.Is(err, bulwark.CodeDeadlineExceeded) {
		t.Fatalf("late IsError result: %v", err)
	}
	inTime := mw(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return nil, bulwark.PermissionDenied("no")
	})
	if _, err := inTime(context.Background(), bulwarktest.Request("t", nil)); !errors.Is(err, bulwark.CodePermissionDenied) {
		t.Fatalf("refusal in time: %v", err)
	}
}

func TestDeadlineDistinguishesClientCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := bulwark.Deadline(bulwark.Fixed(time.Minute))(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if _, err := h(ctx, bulwarktest.Request("t", nil)); !errors.Is(err, bulwark.CodeCanceled) {
		t.Fatalf("got %v, want canceled", err)
	}
}

// A nil PerCall, or a value of zero, bounds nothing; an outer deadline
// that is earlier stays the one the handler sees.
func TestDeadlinePerTool(t *testing.T) {
	var bounded bool
	var in time.Duration
	h := bulwark.Deadline(bulwark.ByTool(time.Minute, map[string]time.Duration{"free": 0}))(
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			dl, ok := ctx.Deadline()
			bounded, in = ok, time.Until(dl)
			return &mcp.CallToolResult{}, nil
		})
	if _, err := h(context.Background(), bulwarktest.Request("free", nil)); err != nil || bounded {
		t.Fatalf("free: %v, bounded %v", err, bounded)
	}
	outer, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := h(outer, bulwarktest.Request("other", nil)); err != nil || !bounded || in > time.Second {
		t.Fatalf("other: %v, bounded %v in %v", err, bounded, in)
	}
	if _, err := bulwark.Deadline(nil)(h)(context.Background(), bulwarktest.Request("free", nil)); err != nil || bounded {
		t.Fatalf("nil: %v, bounded %v", err, bounded)
	}
}

func ExampleDeadline() {
	// The handler honours its context, so the cheaper Deadline suffices.
	h := bulwark.Deadline(bulwark.Fixed(10 * time.Millisecond))(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		<-ctx.Done() // a query that outlives its deadline
		return nil, ctx.Err()
	})
	_, err := h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "search"}})
	fmt.Println(err)
	// Output: deadline exceeded
}

package retry_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The documented nesting, through a real client: audit → retry.Middleware
// (the tool level) → handler, and inside the handler each dependency call
// runs as breaker.Execute → Retrier.Do → call (the dependency level). A
// dependency that fails transiently is called at most MaxAttempts times per
// client call, not MaxAttempts², however the handler reports the failure,
// and its breaker counts one outcome per client call, so it does not open
// on the first call. The call record and the audit record show both
// counts.
func TestRetriesHappenAtOneLevel(t *testing.T) {
	const (
		maxAttempts = 3
		clientCalls = 2
		tripAfter   = 3 // consecutive failures open a breaker
	)
	for _, tc := range []struct {
		name string
		// handler calls the dependency through dep (breaker + Do) and
		// reports its failure in its own way.
		handler         func(ctx context.Context, dep func(ctx context.Context, which int) error) (*mcp.CallToolResult, error)
		depCallsPerCall int
		// recovers makes the dependency answer on the last of its
		// retrier's attempts (it fails otherwise).
		recovers bool
	}{
		{"failure returned as a Go error", func(ctx context.Context, dep func(ctx context.Context, which int) error) (*mcp.CallToolResult, error) {
			return nil, dep(ctx, 0)
		}, maxAttempts, false},
		{"failure turned into a different transient refusal", func(ctx context.Context, dep func(ctx context.Context, which int) error) (*mcp.CallToolResult, error) {
			if err := dep(ctx, 0); err != nil {
				return nil, bulwark.Unavailable("the records service is down", time.Millisecond, nil)
			}
			return bulwarktest.TextResult("ok"), nil
		}, maxAttempts, false},
		{"failure in an IsError result", func(ctx context.Context, dep func(ctx context.Context, which int) error) (*mcp.CallToolResult, error) {
			res := &mcp.CallToolResult{}
			res.SetError(dep(ctx, 0))
			return res, nil
		}, maxAttempts, false},
		{"two dependency calls at once", func(ctx context.Context, dep func(ctx context.Context, which int) error) (*mcp.CallToolResult, error) {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = dep(ctx, i) }()
			}
			wg.Wait()
			return nil, errors.Join(errs...)
		}, 2 * maxAttempts, false},
		{"dependency recovers on its last attempt, then another step fails", func(ctx context.Context, dep func(ctx context.Context, which int) error) (*mcp.CallToolResult, error) {
			if err := dep(ctx, 0); err != nil {
				return nil, err
			}
			return nil, bulwark.Unavailable("the next step is down", 0, nil)
		}, maxAttempts, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var depCalls atomic.Int64
			dependency := func(context.Context) error {
				if n := depCalls.Add(1); tc.recovers && n%maxAttempts == 0 {
					return nil
				}
				return errUnavailable
			}
			big, err := retry.NewBudget(retry.BudgetConfig{Ratio: 10, MaxTokens: 1000})
			if err != nil {
				t.Fatal(err)
			}
			policy := retry.Config{MaxAttempts: maxAttempts, Rand: noJitter, Clock: instantClock{}, Budget: big}
			toolLevel := mustNew(t, policy)
			// Two dependencies, each with its breaker and retrier.
			var brs [2]*breaker.Breaker
			var depLevels [2]*retry.Retrier
			for i := range brs {
				if brs[i], err = breaker.New("dependency-"+strconv.Itoa(i), breaker.Config{OpenFor: time.Minute, TripAfter: tripAfter}); err != nil {
					t.Fatal(err)
				}
				depLevels[i] = mustNew(t, policy)
			}
			dep := func(ctx context.Context, which int) error {
				return brs[which].Execute(ctx, func(ctx context.Context) error { return depLevels[which].Do(ctx, dependency) })
			}

			var mu sync.Mutex
			var records []*audit.Record
			trail, err := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
				mu.Lock()
				defer mu.Unlock()
				records = append(records, r)
				return nil
			}), make([]byte, 32), audit.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer trail.Close(context.Background())

			var calls []*bulwark.Call
			s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
			bulwark.AddToolHandler(s, &mcp.Tool{Name: "lookup", InputSchema: map[string]any{"type": "object"},
				Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
				func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return tc.handler(ctx, dep)
				})
			record := func(next mcp.ToolHandler) mcp.ToolHandler {
				return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					calls = append(calls, bulwark.CallFrom(ctx))
					return next(ctx, req)
				}
			}
			bulwark.Use(s, audit.Middleware(trail), record, retry.Middleware(toolLevel))
			cs := bulwarktest.Connect(t, s, nil)

			for i := 1; i <= clientCalls; i++ {
				res, err := bulwarktest.CallTool(context.Background(), cs, "lookup", map[string]any{})
				if err == nil && (res == nil || !res.IsError) {
					t.Fatalf("call %d succeeded", i)
				}
				if got, want := depCalls.Load(), int64(i*tc.depCallsPerCall); got != want {
					t.Fatalf("after %d client calls: %d dependency calls, want %d", i, got, want)
				}
				for _, br := range brs {
					if br.State() != breaker.StateClosed {
						t.Fatalf("after %d client calls: breaker %s is %s", i, br.Name(), br.State())
					}
				}
				c := calls[i-1]
				if c.Attempts() != 1 {
					t.Errorf("call %d: record shows %d tool attempts, want 1", i, c.Attempts())
				}
				if got := c.Fields()[retry.DependencyAttemptsField]; got != strconv.Itoa(tc.depCallsPerCall) {
					t.Errorf("call %d: record shows %q dependency attempts, want %d", i, got, tc.depCallsPerCall)
				}
				if got := c.Fields()[retry.StopField]; got != "inner" {
					t.Errorf("call %d: %s = %q, want inner", i, retry.StopField, got)
				}
			}
			if err := trail.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(records) != clientCalls {
				t.Fatalf("%d audit records, want %d", len(records), clientCalls)
			}
			for _, r := range records {
				if r.Attempts != 1 || r.Fields[retry.DependencyAttemptsField] != strconv.Itoa(tc.depCallsPerCall) {
					t.Errorf("audit record: attempts %d, fields %v", r.Attempts, r.Fields)
				}
			}
		})
	}
}

// A Do inside a Do: the inner one retries, the outer one does not repeat
// a failure the inner one gave up on.
func TestNestedDoRetriesOnce(t *testing.T) {
	outer := mustNew(t, retry.Config{Rand: noJitter, Clock: instantClock{}})
	inner := mustNew(t, retry.Config{Rand: noJitter, Clock: instantClock{}})
	n := 0
	err := outer.Do(context.Background(), func(ctx context.Context) error {
		return inner.Do(ctx, func(context.Context) error { n++; return errUnavailable })
	})
	if !errors.Is(err, bulwark.CodeUnavailable) || n != 3 {
		t.Fatalf("err %v after %d calls, want %d", err, n, 3)
	}
	// A handler that does not retry on its own is still retried by the
	// outer level.
	n = 0
	_ = outer.Do(context.Background(), func(context.Context) error { n++; return errUnavailable })
	if n != 3 {
		t.Fatalf("%d calls without an inner retrier, want %d", n, 3)
	}
}

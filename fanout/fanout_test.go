package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
)

// Every part runs at once: each waits until all have started, which only
// happens when none waits for another to finish.
func TestAllRunsPartsConcurrently(t *testing.T) {
	const n = 8
	var started atomic.Int32
	all := make(chan struct{})
	parts := make([]Part, n)
	for i := range parts {
		parts[i] = Part{Name: string(rune('a' + i)), Run: func(ctx context.Context) error {
			if started.Add(1) == n {
				close(all)
			}
			select {
			case <-all:
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("the other parts did not start")
			}
		}}
	}
	errs := All(context.Background(), parts...)
	if len(errs) != n {
		t.Fatalf("%d outcomes for %d parts", len(errs), n)
	}
	for name, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A failure cancels nothing, a panic is recovered as that part's internal
// error, and All returns only when every part has.
func TestAllKeepsEveryOutcome(t *testing.T) {
	down := errors.New("connection refused")
	var slowDone atomic.Bool
	errs := All(context.Background(),
		Part{Name: "fails", Run: func(context.Context) error { return down }},
		Part{Name: "panics", Run: func(context.Context) error { panic("boom") }},
		Part{Name: "slow", Run: func(ctx context.Context) error {
			time.Sleep(50 * time.Millisecond)
			if ctx.Err() != nil {
				return ctx.Err() // cancelled by a sibling's failure: wrong
			}
			slowDone.Store(true)
			return nil
		}},
	)
	if !slowDone.Load() || errs["slow"] != nil {
		t.Fatalf("slow part: done %v, %v", slowDone.Load(), errs["slow"])
	}
	if !errors.Is(errs["fails"], down) {
		t.Fatalf("fails: %v", errs["fails"])
	}
	var pe *bulwark.PanicError
	if !errors.Is(errs["panics"], bulwark.CodeInternal) || !errors.As(errs["panics"], &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Fatalf("panics: %#v", errs["panics"])
	}
}

// The call's context reaches every part: its end stops them all.
func TestAllPassesTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	wait := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	time.AfterFunc(20*time.Millisecond, cancel)
	errs := All(ctx, Part{Name: "a", Run: wait}, Part{Name: "b", Run: wait})
	if !errors.Is(errs["a"], context.Canceled) || !errors.Is(errs["b"], context.Canceled) {
		t.Fatalf("%v", errs)
	}
	if got := All(ctx); len(got) != 0 {
		t.Fatalf("no parts: %v", got)
	}
}

// Package budgettest is the conformance suite every budget.Store must pass.
package budgettest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/budget"
)

// RunStore runs the suite against stores made by newStore, one per subtest.
// Keys are unique to each subtest, so a shared backend needs no cleanup
// between them.
func RunStore(t *testing.T, newStore func(t *testing.T) budget.Store) {
	ctx := context.Background()
	t.Run("counts up to max", func(t *testing.T) {
		s := newStore(t)
		for i := int64(1); i <= 3; i++ {
			u, err := s.Take(ctx, "k", 1, 3, time.Minute)
			if err != nil || !u.OK || u.Used != i {
				t.Fatalf("take %d: %+v, %v", i, u, err)
			}
			if u.ResetIn <= 0 || u.ResetIn > time.Minute {
				t.Fatalf("ResetIn = %v", u.ResetIn)
			}
		}
		u, err := s.Take(ctx, "k", 1, 3, time.Minute)
		if err != nil || u.OK || u.Used != 3 {
			t.Fatalf("over max: %+v, %v", u, err)
		}
	})
	t.Run("n units", func(t *testing.T) {
		s := newStore(t)
		if u, _ := s.Take(ctx, "k", 7, 10, time.Minute); !u.OK || u.Used != 7 {
			t.Fatalf("%+v", u)
		}
		if u, _ := s.Take(ctx, "k", 4, 10, time.Minute); u.OK || u.Used != 7 {
			t.Fatalf("a refused take was counted: %+v", u)
		}
		if u, _ := s.Take(ctx, "k", 3, 10, time.Minute); !u.OK || u.Used != 10 {
			t.Fatalf("%+v", u)
		}
	})
	t.Run("more than max at once", func(t *testing.T) {
		s := newStore(t)
		if u, err := s.Take(ctx, "k", 5, 4, time.Minute); err != nil || u.OK || u.Used != 0 {
			t.Fatalf("%+v, %v", u, err)
		}
	})
	t.Run("keys are apart", func(t *testing.T) {
		s := newStore(t)
		s.Take(ctx, "a", 1, 1, time.Minute)
		if u, _ := s.Take(ctx, "b", 1, 1, time.Minute); !u.OK {
			t.Fatal("b counted a's call")
		}
		if u, _ := s.Take(ctx, "a", 1, 1, time.Minute); u.OK {
			t.Fatal("a over max")
		}
	})
	t.Run("concurrent takes are exact", func(t *testing.T) {
		s := newStore(t)
		var granted atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					u, err := s.Take(ctx, "k", 1, 50, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if u.OK {
						granted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if g := granted.Load(); g != 50 {
			t.Fatalf("granted %d of 160 takes with max 50", g)
		}
	})
}

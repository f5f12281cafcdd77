package budget_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/budget"
	"github.com/bulwark-mcp/bulwark/budget/budgettest"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
)

func TestMemoryStoreConformance(t *testing.T) {
	budgettest.RunStore(t, func(t *testing.T) budget.Store {
		s, err := budget.NewMemoryStore(budget.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMemoryStoreWindow(t *testing.T) {
	clock := bulwarktest.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, _ := budget.NewMemoryStore(budget.MemoryConfig{Clock: clock})
	ctx := context.Background()
	s.Take(ctx, "k", 2, 2, time.Minute)
	clock.Advance(45 * time.Second)
	if u, _ := s.Take(ctx, "k", 1, 2, time.Minute); u.OK || u.ResetIn != 15*time.Second {
		t.Fatalf("inside the window: %+v", u)
	}
	clock.Advance(15 * time.Second)
	if u, _ := s.Take(ctx, "k", 1, 2, time.Minute); !u.OK || u.Used != 1 || u.ResetIn != time.Minute {
		t.Fatalf("a new window: %+v", u)
	}
}

func TestMemoryStoreBounded(t *testing.T) {
	s, _ := budget.NewMemoryStore(budget.MemoryConfig{Capacity: 1000})
	ctx := context.Background()
	for i := range 50_000 {
		s.Take(ctx, fmt.Sprint("principal-", i), 1, 10, time.Hour)
	}
	if s.Len() != 1000 {
		t.Fatalf("Len = %d, want the capacity 1000", s.Len())
	}
	if _, err := budget.NewMemoryStore(budget.MemoryConfig{Capacity: -1}); err == nil {
		t.Fatal("negative capacity accepted")
	}
	if _, err := s.Take(ctx, "k", 1, 1, 0); err == nil {
		t.Fatal("zero window accepted")
	}
}

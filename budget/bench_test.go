package budget_test

import (
	"testing"

	"github.com/bulwark-mcp/bulwark/budget"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
)

// BenchmarkLedger compares a bare handler with one behind the loop check
// alone, and with the loop check and session and principal budgets of calls
// and cost (five counters per call), on the memory store.
func BenchmarkLedger(b *testing.B) {
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-000123", "fields": []string{"name", "email"}})
	loop, _ := budget.New(budget.Config{Repeats: 1 << 30})
	full, _ := budget.New(budget.Config{
		Repeats:   1 << 30,
		Session:   budget.Allowance{Calls: 1 << 40, Cost: 1 << 40},
		Principal: budget.Allowance{Calls: 1 << 40, Cost: 1 << 40},
	})
	b.Run("bare", func(b *testing.B) { bulwarktest.BenchLayer(b, nil, req, nil) })
	b.Run("loop", func(b *testing.B) { bulwarktest.BenchLayer(b, budget.Middleware(loop), req, nil) })
	b.Run("loop_and_budgets", func(b *testing.B) { bulwarktest.BenchLayer(b, budget.Middleware(full), req, nil) })
}

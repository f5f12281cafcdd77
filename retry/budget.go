package retry

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
)

// BudgetConfig configures a [Budget]. Every zero field means the default
// stated beside it.
type BudgetConfig struct {
	// Ratio is how many retries each call earns: retries stay within
	// Ratio × calls, so at 100% failure a busy service makes at most
	// (1 + Ratio) × calls attempts. Zero means 0.1; at most 1000.
	Ratio float64
	// MinPerSecond is a floor for quiet periods: while the calls of the
	// last second earn fewer than MinPerSecond retries, up to MinPerSecond
	// retries per second are allowed anyway, so a service with little
	// traffic can still ride out a blip. The floor never applies while
	// traffic is high enough for Ratio to provide the minimum, so it does
	// not loosen the bound above. Zero means 1; a negative value disables
	// the floor.
	MinPerSecond float64
	// MaxTokens caps the retries a long healthy stretch can save up for the
	// next burst of failures; a new budget starts with this many, lent
	// against its first calls. Zero means 10.
	MaxTokens float64
	// Clock measures the seconds of the floor. Nil means the system clock.
	Clock bulwark.Clock
}

// Budget limits retries across calls, in the manner of a token bucket:
// every call deposits Ratio tokens, every retry spends one.
//
// A new budget starts with MaxTokens tokens, so a fresh service can retry
// at once, but they are lent, not given: the first deposits repay them
// before any token is saved. Over its lifetime a budget therefore grants at
// most max(MaxTokens, Ratio × calls) retries, plus the quiet-period floor;
// with 10,000 calls at 100% failure and the defaults that is 1,000 retries,
// 11,000 attempts. Token amounts are kept in fixed point so that the bound
// is exact.
//
// Budget is safe for concurrent use; share one per dependency.
type Budget struct {
	ratio, max int64 // in micro-tokens
	min        float64
	clock      bulwark.Clock

	mu       sync.Mutex
	tokens   int64     // micro-tokens available
	unearned int64     // micro-tokens lent at start, repaid by deposits first
	floor    float64   // retries the quiet-period floor can still grant
	start    time.Time // start of the current traffic sample
	calls    int       // calls in the current sample
	rate     float64   // calls per second in the previous sample; +Inf before the first
	refilled time.Time // last floor refill
}

const micro = 1_000_000

// NewBudget returns a budget holding MaxTokens lent tokens.
func NewBudget(s BudgetConfig) (*Budget, error) {
	if s.Ratio < 0 || math.IsNaN(s.Ratio) || s.Ratio > 1000 {
		return nil, errors.New("retry: BudgetConfig.Ratio must be between 0 and 1000")
	}
	if math.IsNaN(s.MinPerSecond) || math.IsInf(s.MinPerSecond, 0) {
		return nil, errors.New("retry: BudgetConfig.MinPerSecond must be finite")
	}
	if s.MaxTokens < 0 || math.IsNaN(s.MaxTokens) || s.MaxTokens > 1e9 {
		return nil, errors.New("retry: BudgetConfig.MaxTokens must be between 0 and 1e9")
	}
	if s.Ratio == 0 {
		s.Ratio = 0.1
	}
	if s.MaxTokens == 0 {
		s.MaxTokens = 10
	}
	b := &Budget{
		ratio: int64(math.Round(s.Ratio * micro)),
		max:   int64(math.Round(s.MaxTokens * micro)),
		min:   s.MinPerSecond,
		clock: sysclock.Or(s.Clock),
	}
	switch {
	case b.min == 0:
		b.min = 1
	case b.min < 0:
		b.min = 0
	}
	b.tokens, b.unearned = b.max, b.max
	now := b.clock.Now()
	b.start, b.refilled = now, now
	// Until a second of traffic has been seen, assume a busy service: the
	// floor must not add to the ratio during a burst at start-up.
	b.rate = math.Inf(1)
	return b, nil
}

// deposit records one call (its first attempt). It is cheap: no clock read.
func (b *Budget) deposit() {
	b.mu.Lock()
	d := b.ratio
	if b.unearned > 0 {
		repay := min(d, b.unearned)
		b.unearned -= repay
		d -= repay
	}
	b.tokens = min(b.tokens+d, b.max)
	b.calls++
	b.mu.Unlock()
}

// withdraw asks for one retry and reports whether the budget allows it.
func (b *Budget) withdraw() bool {
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if el := now.Sub(b.start); el >= time.Second {
		b.rate = float64(b.calls) / el.Seconds()
		b.calls = 0
		b.start = now
	}
	if b.min > 0 {
		if el := now.Sub(b.refilled); el > 0 {
			b.floor = min(b.floor+b.min*el.Seconds(), max(b.min, 1))
			b.refilled = now
		}
	}
	if b.tokens >= micro {
		b.tokens -= micro
		// A retry the ratio pays for also counts against the floor, so
		// that the floor only makes up for what the ratio does not
		// provide.
		b.floor = max(b.floor-1, 0)
		return true
	}
	if b.min > 0 && float64(b.ratio)/micro*b.rate < b.min && b.floor >= 1 {
		b.floor--
		return true
	}
	return false
}

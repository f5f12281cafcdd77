package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Limit is a token bucket: Burst tokens at most, refilled at Rate tokens per
// second. Every counted call takes one token. The zero Limit means "no
// limit": a [Limiter] whose limit function returns it lets the call through
// without touching the store.
type Limit struct {
	// Rate is how many tokens are added per second. It may be fractional
	// (PerMinute(30) is 0.5). It must be between 1e-9 (one token in about 32 years) and 1e6.
	Rate float64
	// Burst is the size of the bucket: how many calls may arrive at once
	// after a quiet period. It must be at least 1.
	Burst int
}

// PerSecond allows n calls per second with bursts of n.
func PerSecond(n int) Limit { return Limit{Rate: float64(n), Burst: n} }

// PerMinute allows n calls per minute with bursts of n.
func PerMinute(n int) Limit { return Limit{Rate: float64(n) / 60, Burst: n} }

// PerHour allows n calls per hour with bursts of n.
func PerHour(n int) Limit { return Limit{Rate: float64(n) / 3600, Burst: n} }

// Every allows one call per interval on average, with bursts of burst.
// A non-positive interval, or one longer than about 32 years, gives an
// invalid Limit.
func Every(interval time.Duration, burst int) Limit {
	if interval <= 0 {
		return Limit{Rate: math.Inf(1), Burst: burst}
	}
	return Limit{Rate: float64(time.Second) / float64(interval), Burst: burst}
}

// minRate and maxRate bound a valid Limit's Rate. Outside it the arithmetic of the
// stores stops being exact: a Redis bucket counts time in microseconds
// and cannot keep a key for longer than Redis's expiry allows, so a rate
// of 1e-300 would fail every decision (and so let every call through
// when the Redis store fails open), and one far above a million per second would round its
// interval to nothing.
const (
	minRate = 1e-9 // one token in about 32 years
	maxRate = 1e6  // a million tokens per second
)

// ErrInvalidLimit is wrapped by the errors [Limit.Validate] returns.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// Validate returns an error wrapping ErrInvalidLimit unless l is the zero
// Limit or has a Rate between 1e-9 and 1e6 and a Burst of at least 1.
func (l Limit) Validate() error {
	if l == (Limit{}) {
		return nil
	}
	if !(l.Rate >= minRate && l.Rate <= maxRate) {
		return fmt.Errorf("%w: rate %v must be between %v and %v per second", ErrInvalidLimit, l.Rate, minRate, maxRate)
	}
	if l.Burst < 1 {
		return fmt.Errorf("%w: burst %d must be at least 1", ErrInvalidLimit, l.Burst)
	}
	return nil
}

// String describes l, for example "10/s burst 20".
func (l Limit) String() string {
	if l == (Limit{}) {
		return "unlimited"
	}
	return strconv.FormatFloat(l.Rate, 'g', -1, 64) + "/s burst " + strconv.Itoa(l.Burst)
}

// Bucket names one token bucket in a [Store]: the name of the [Limiter]
// that owns it and the key its key function produced. Two limiters sharing
// a store must have different names, or they share buckets.
type Bucket struct {
	Limiter string
	Key     string
	// Principal is the ID of the caller the bucket belongs to, when its key
	// is that caller's own ([ByPrincipal], [ByPrincipalAndTool],
	// [BySession]); empty for keys callers may share ([Global], a custom
	// [KeyFunc]) and for calls without a principal. It is not part of the
	// bucket's identity: a store uses it to bound the buckets of each
	// principal ([MemoryConfig].PerPrincipal).
	Principal string
}

// Decision is a store's answer for one call.
type Decision struct {
	// Allowed reports whether the call took a token.
	Allowed bool
	// Remaining is how many more calls the bucket would allow right now
	// (after this one, when it was allowed).
	Remaining int
	// RetryAfter is how long until one token is available, when the call
	// was refused; zero when it was allowed.
	RetryAfter time.Duration
}

// Store holds token buckets. Allow takes one token from bucket b, which is
// governed by limit, at time now, and must do so atomically: concurrent
// calls for one bucket never admit more than the limit together. A store
// may use its own clock instead of now (the Redis store of ratelimit/redislimit uses the
// server's clock by default, so instances with skewed clocks still agree).
//
// A limit passed for a bucket that already exists replaces the old one, so
// changing a limit takes effect on the next call. limit is never the zero
// Limit and has passed [Limit.Validate].
type Store interface {
	Allow(ctx context.Context, b Bucket, limit Limit, now time.Time) (Decision, error)
}

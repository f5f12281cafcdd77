package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Config says how to retry. Every zero field means the default stated
// beside it.
type Config struct {
	// MaxAttempts is the total number of attempts, the first included.
	// Zero means 3; 1 means no retries.
	MaxAttempts int
	// Base is the backoff before the first retry's ceiling: the delay
	// before retry n (from 1) is drawn uniformly from
	// [0, min(Cap, Base·2ⁿ⁻¹)] ("full jitter"). Zero means 50ms.
	Base time.Duration
	// Cap bounds every delay. It also bounds how long a refusal's own
	// retry-after may make a retry wait: a transient refusal that asks for
	// longer than Cap is not retried. Zero means 2s.
	Cap time.Duration
	// PerAttemptTimeout bounds each attempt with its own deadline, so one
	// hung attempt does not use up the whole call. An attempt that runs out
	// of its own time (not the call's) is retried. When the last attempt
	// runs out of its own time while the call still has some, Do returns an
	// unavailable refusal whose cause is the attempt's error: the
	// dependency did not answer, which is not the caller's deadline
	// passing. Zero means none: each attempt may use all the time the call
	// has left.
	PerAttemptTimeout time.Duration
	// Budget limits retries across calls so a failing dependency is not
	// hammered. Nil means a budget with default settings, owned by the
	// [Retrier] built from this Config (see [NewBudget]). Share one Budget
	// between Retriers that guard the same dependency.
	Budget *Budget
	// Retryable decides which failures are worth another attempt. Nil
	// means [Transient].
	Retryable func(error) bool
	// When selects the tool calls [Middleware] retries; the others run
	// once. Nil means calls to read-only or idempotent tools
	// ([bulwark.IsIdempotent]) and calls whose idempotency key the
	// idempotency layer (outside retry) found ([idempotency.KeyFrom]);
	// every other call, in particular to an unregistered or destructive
	// tool, runs exactly once. [Retrier.Do] ignores it.
	When bulwark.Matcher
	// Breaker, when set, guards the dependency [Retrier.Do] calls: each
	// call to Do runs all its attempts inside one Breaker.Execute, so an
	// open breaker stops a retry storm before it starts and a retried
	// call counts once for the breaker. What Do then returns (the
	// breaker's refusal included) is marked [Permanent]: the dependency's
	// own level has decided, and no outer retry layer repeats it.
	// [Middleware] ignores it (put breaker.Middleware outside it).
	Breaker *breaker.Breaker
	// Clock times delays and per-attempt timeouts. Nil means the system
	// clock.
	Clock bulwark.Clock
	// Rand returns a uniformly distributed integer in [0, n); n > 0. Nil
	// means math/rand/v2's Int64N.
	Rand func(n int64) int64
}

// Retrier runs functions under a validated [Config]. Create it with [New];
// it is safe for concurrent use and meant to be shared: its budget (unless
// the Config names one) is per Retrier.
type Retrier struct {
	max       int
	base, cap time.Duration
	attempt   time.Duration
	budget    *Budget
	retryable func(error) bool
	when      bulwark.Matcher
	breaker   *breaker.Breaker
	clock     bulwark.Clock
	system    bool // clock is the real clock: per-attempt deadlines can use context timers
	rand      func(int64) int64
}

// New validates c, fills in its defaults and returns a Retrier.
func New(c Config) (*Retrier, error) {
	switch {
	case c.MaxAttempts < 0:
		return nil, errors.New("retry: MaxAttempts must not be negative")
	case c.Base < 0, c.Cap < 0, c.PerAttemptTimeout < 0:
		return nil, errors.New("retry: durations must not be negative")
	}
	r := &Retrier{
		max:       c.MaxAttempts,
		base:      c.Base,
		cap:       c.Cap,
		attempt:   c.PerAttemptTimeout,
		budget:    c.Budget,
		retryable: c.Retryable,
		when:      c.When,
		breaker:   c.Breaker,
		clock:     sysclock.Or(c.Clock),
		rand:      c.Rand,
	}
	if r.max == 0 {
		r.max = 3
	}
	if r.base == 0 {
		r.base = 50 * time.Millisecond
	}
	if r.cap == 0 {
		r.cap = 2 * time.Second
	}
	if r.cap < r.base {
		return nil, fmt.Errorf("retry: Cap (%v) must not be below Base (%v)", r.cap, r.base)
	}
	if r.budget == nil {
		b, err := NewBudget(BudgetConfig{Clock: c.Clock})
		if err != nil {
			return nil, err
		}
		r.budget = b
	}
	if r.retryable == nil {
		r.retryable = Transient
	}
	if r.when == nil {
		r.when = retriable
	}
	if r.rand == nil {
		r.rand = rand.Int64N
	}
	_, r.system = r.clock.(sysclock.Clock)
	return r, nil
}

// retriable is the default of Config.When.
func retriable(ctx context.Context, _ *mcp.CallToolRequest) bool {
	return bulwark.IsIdempotent(bulwark.ToolFrom(ctx)) || idempotency.KeyFrom(ctx) != ""
}

// Do calls fn until it succeeds, fails in a way that is not retryable, or
// the policy says stop: attempts are used up, the budget is spent, the
// next attempt could not finish before ctx's deadline (it needs the
// per-attempt timeout, or without one as long as the last attempt took),
// or ctx is done. It
// returns nil or fn's last error; when ctx ends during a backoff it
// returns ctx's cause instead.
//
// Do is for dependency calls inside a handler; only wrap calls that are
// safe to repeat (reads, idempotent writes, writes keyed by an idempotency
// key the dependency honours).
//
// Retries happen at one level: code that calls Do owns its retries, so
// the attempt of the [Middleware] (or of an outer Do) that Do runs in is
// not repeated when it fails (see the package documentation). Do adds the
// attempts it made to the call record's field [DependencyAttemptsField];
// the record's attempt count ([bulwark.Call.Attempts]) stays the number of
// attempts of the handler, which [Middleware] counts.
//
// With Config.Breaker set, the attempts run inside the breaker, and what
// Do returns is marked [Permanent].
func (r *Retrier) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	levelFrom(ctx).owned()
	if r.breaker == nil {
		return r.run(ctx, fn)
	}
	return Permanent(r.breaker.Execute(ctx, func(ctx context.Context) error { return r.run(ctx, fn) }))
}

// run makes the attempts of Do and counts them on the call record.
func (r *Retrier) run(ctx context.Context, fn func(ctx context.Context) error) error {
	n, err := r.do(ctx, fn)
	addDependencyAttempts(bulwark.CallFrom(ctx), n)
	return err
}

// do runs the attempts of Do and returns how many it made.
func (r *Retrier) do(ctx context.Context, fn func(ctx context.Context) error) (int, error) {
	r.budget.deposit()
	for n := 1; ; n++ {
		start := r.startOf(ctx)
		actx, cancel := r.attemptContext(ctx)
		lvl := newLevel(actx)
		err := fn(lvl)
		timedOut := attemptTimedOut(ctx, actx)
		cancel()
		if err == nil {
			return n, nil
		}
		if lvl.inner.Load() || (!timedOut && !r.retryable(err)) {
			return n, err
		}
		wait, stop := r.next(ctx, n, retryAfterOf(err), start)
		if stop != "" {
			if timedOut && ctx.Err() == nil {
				return n, bulwark.Unavailable("a dependency did not answer in time", 0, err)
			}
			return n, err
		}
		if werr := r.sleep(ctx, wait); werr != nil {
			return n, werr
		}
	}
}

// level is one attempt of a retrying layer ([Middleware] or [Retrier.Do]):
// the attempt's context, through which a Do running inside it can say
// that retries are taken care of further in. It is its own context value
// so that an attempt costs one allocation.
type level struct {
	context.Context
	inner atomic.Bool
}

type levelKey struct{}

// newLevel returns the context of an attempt run under ctx.
func newLevel(ctx context.Context) *level { return &level{Context: ctx} }

func (l *level) Value(key any) any {
	if key == (levelKey{}) {
		return l
	}
	return l.Context.Value(key)
}

func levelFrom(ctx context.Context) *level {
	l, _ := ctx.Value(levelKey{}).(*level)
	return l
}

// owned notes that a Do ran inside the attempt: the code it runs owns its
// retries, so the attempt must not be repeated (that would multiply the
// Do's attempts). Safe on nil (no retrying layer around).
func (l *level) owned() {
	if l != nil {
		l.inner.Store(true)
	}
}

// DependencyAttemptsField is the call-record field ([bulwark.Call.SetField])
// in which [Retrier.Do] counts the attempts of dependency calls made during
// the call, all Do calls together (audit records it). It is absent when
// the handler made no call through Do.
const DependencyAttemptsField = "dependency_attempts"

// fieldMu serialises the read-modify-write of DependencyAttemptsField:
// Do may run on several goroutines of one call at once.
var fieldMu sync.Mutex

func addDependencyAttempts(c *bulwark.Call, n int) {
	if c == nil || n == 0 {
		return
	}
	fieldMu.Lock()
	defer fieldMu.Unlock()
	prev, _ := strconv.Atoi(c.Fields()[DependencyAttemptsField])
	c.SetField(DependencyAttemptsField, strconv.Itoa(prev+n))
}

// StopField is the call-record field ([bulwark.Call.SetField]) in which
// [Middleware] notes why retrying stopped with a retryable failure:
// "attempts" (all used), "deadline" (the next attempt could not finish in time), "budget" (the
// retry budget is spent), "retry_after" (the failure asked for a longer
// wait than the policy's Cap), "canceled" (the caller went away) or
// "inner" (the handler calls [Retrier.Do], so its retries happen there).
const StopField = "retry_stop"

var noCancel context.CancelFunc = func() {}

// errAttemptTimeout is the cause of a per-attempt deadline.
var errAttemptTimeout = fmt.Errorf("retry: attempt timed out: %w", context.DeadlineExceeded)

func (r *Retrier) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.attempt <= 0 {
		return ctx, noCancel
	}
	if r.system {
		return context.WithTimeoutCause(ctx, r.attempt, errAttemptTimeout)
	}
	// An injected clock: the attempt's deadline follows it.
	actx, cancel := context.WithCancelCause(ctx)
	fire := r.clock.After(r.attempt)
	go func() {
		select {
		case <-fire:
			cancel(errAttemptTimeout)
		case <-actx.Done():
		}
	}()
	return actx, func() { cancel(context.Canceled) }
}

// attemptTimedOut reports whether the attempt ran out of its own time
// while the call still had some.
func attemptTimedOut(ctx, actx context.Context) bool {
	return actx != ctx && ctx.Err() == nil && context.Cause(actx) == errAttemptTimeout
}

// startOf returns the time an attempt starts, when ctx has a deadline that
// the next attempt's duration must be checked against (zero otherwise).
func (r *Retrier) startOf(ctx context.Context) time.Time {
	if r.attempt > 0 {
		return time.Time{} // the per-attempt timeout bounds the next attempt
	}
	if _, ok := ctx.Deadline(); !ok {
		return time.Time{}
	}
	return r.clock.Now()
}

// next decides whether retry n (n attempts done, the last started at
// start) may start and after what delay. stop names the reason when it may
// not.
func (r *Retrier) next(ctx context.Context, n int, hint time.Duration, start time.Time) (time.Duration, string) {
	if n >= r.max {
		return 0, "attempts"
	}
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.Canceled) {
			return 0, "canceled"
		}
		return 0, "deadline"
	}
	if hint > r.cap {
		return 0, "retry_after"
	}
	wait := r.delay(n)
	if hint > wait {
		wait = hint
	}
	if dl, ok := ctx.Deadline(); ok {
		// The next attempt needs the per-attempt timeout if there is one,
		// else as long as the last attempt took.
		now := r.clock.Now()
		left := dl.Sub(now)
		need := r.attempt
		if need == 0 && !start.IsZero() {
			need = now.Sub(start)
		}
		if wait >= left || wait+need > left {
			return 0, "deadline"
		}
	}
	if !r.budget.withdraw() {
		return 0, "budget"
	}
	return wait, ""
}

// delay draws the backoff before retry n (from 1): uniform in
// [0, min(cap, base·2ⁿ⁻¹)].
func (r *Retrier) delay(n int) time.Duration {
	ceil := r.cap
	if shift := n - 1; shift < 62 {
		if d := r.base << shift; d > 0 && d>>shift == r.base && d < ceil {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(r.rand(int64(ceil) + 1))
}

func (r *Retrier) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	select {
	case <-r.clock.After(d):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// retryAfterOf returns the retry-after of a refusal in err's chain.
func retryAfterOf(err error) time.Duration {
	var e *bulwark.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

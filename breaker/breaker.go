package breaker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/sony/gobreaker/v2"
)

// State is a breaker state. The values are the spelling gobreaker and the
// metrics package use, and what [bulwark.Call.SetBreakerState] records.
type State string

// The breaker states.
const (
	StateClosed   State = "closed"    // calls flow; failures are counted
	StateHalfOpen State = "half-open" // a bounded number of probe calls test the dependency
	StateOpen     State = "open"      // calls are refused at once
)

// Sentinel causes of a breaker's refusals, reachable with errors.Is through
// the [bulwark.Error] it returns.
var (
	// ErrOpen: the breaker is open (tripped or forced).
	ErrOpen = errors.New("circuit breaker is open")
	// ErrProbeLimit: the breaker is half-open and all its probe slots are taken.
	ErrProbeLimit = errors.New("circuit breaker is half-open and its probe calls are in flight")
)

// Counts are the breaker's counters for the current period: since the last
// state change, or since the last Interval boundary while closed.
type Counts struct {
	Requests             uint32
	TotalSuccesses       uint32
	TotalFailures        uint32
	TotalExclusions      uint32 // outcomes that counted neither way (see Ignored)
	ConsecutiveSuccesses uint32
	ConsecutiveFailures  uint32
}

// Settings configures a [Breaker]. Every zero field means the default stated
// beside it.
type Settings struct {
	// MaxRequests is how many probe calls the half-open breaker admits at a
	// time, and how many consecutive successes close it again. Zero means 1.
	MaxRequests uint32
	// Timeout is how long the breaker stays open before it lets probes
	// through. Zero means 30 seconds. It is measured on Clock.
	Timeout time.Duration
	// Interval is the period after which a closed breaker clears its counts.
	// Zero means never: counts clear only on state changes. gobreaker
	// measures it with the system clock, not Clock.
	Interval time.Duration
	// ReadyToTrip decides, after each failure while closed, whether to open.
	// Nil means: after 5 consecutive failures.
	ReadyToTrip func(Counts) bool
	// Classify sorts an outcome into success, failure or ignored. Nil means
	// [Classify].
	Classify func(ctx context.Context, err error) Outcome
	// Clock measures the open period. Nil means the system clock.
	Clock bulwark.Clock
}

// DefaultTimeout is the open period when Settings.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultTripAfter is the number of consecutive failures that opens a
// breaker when Settings.ReadyToTrip is nil.
const DefaultTripAfter = 5

// Event reports a state change. It is delivered to subscribers after the
// breaker's locks are released, in the order the changes happened.
type Event struct {
	Name string
	From State
	To   State
	// At is when the change happened, on the breaker's clock.
	At time.Time
	// Forced is set for changes made by ForceOpen, ForceClose and Reset.
	Forced bool
}

// Breaker is a circuit breaker for one dependency or tool, built on
// gobreaker's TwoStepCircuitBreaker. Create it with [New]; it is safe for
// concurrent use.
//
// gobreaker reads time.Now directly and offers no clock hook, so Breaker
// keeps the open period itself, on Settings.Clock: gobreaker is given an
// open timeout of one nanosecond, and Breaker does not consult it again
// until its own clock says the timeout has passed. Every call into
// gobreaker happens under Breaker's own mutex, so no call can reach
// gobreaker while the clock-driven open period lasts. State changes that
// gobreaker reports (under its lock) are queued and delivered after both
// locks are released.
type Breaker struct {
	name      string
	message   string   // the client-facing refusal text
	causes    [2]error // wrapped ErrOpen and ErrProbeLimit, built once
	timeout   time.Duration
	clock     bulwark.Clock
	classify  func(ctx context.Context, err error) Outcome
	gsettings gobreaker.Settings

	mu         sync.Mutex
	cb         *gobreaker.TwoStepCircuitBreaker[struct{}]
	state      State     // as of the last call into cb
	openUntil  time.Time // end of the open period; zero unless open
	forced     State     // "" unless forced
	ctx        context.Context
	pending    []queued
	delivering bool

	subs atomic.Pointer[[]*subscriber]
}

type queued struct {
	ctx context.Context
	ev  Event
}

type subscriber struct {
	fn func(context.Context, Event)
}

// Outcomes reported to gobreaker. Breaker classifies errors itself and
// hands gobreaker only these markers, so gobreaker's IsExcluded can express
// "neither success nor failure".
var (
	errFailed  = errors.New("breaker: failure")
	errIgnored = errors.New("breaker: ignored")
)

// New returns a closed breaker. name identifies it in refusals, events,
// metrics and readiness; it must not be empty.
func New(name string, s Settings) (*Breaker, error) {
	if name == "" {
		return nil, errors.New("breaker: name must not be empty")
	}
	if s.Timeout < 0 {
		return nil, fmt.Errorf("breaker %q: Timeout must not be negative", name)
	}
	if s.Interval < 0 {
		return nil, fmt.Errorf("breaker %q: Interval must not be negative", name)
	}
	b := &Breaker{
		name:     name,
		message:  name + " is unavailable",
		causes:   [2]error{fmt.Errorf("breaker %q: %w", name, ErrOpen), fmt.Errorf("breaker %q: %w", name, ErrProbeLimit)},
		timeout:  s.Timeout,
		clock:    sysclock.Or(s.Clock),
		classify: s.Classify,
		state:    StateClosed,
	}
	if b.timeout == 0 {
		b.timeout = DefaultTimeout
	}
	if b.classify == nil {
		b.classify = Classify
	}
	trip := s.ReadyToTrip
	if trip == nil {
		trip = func(c Counts) bool { return c.ConsecutiveFailures >= DefaultTripAfter }
	}
	b.gsettings = gobreaker.Settings{
		Name:        name,
		MaxRequests: s.MaxRequests,
		Interval:    s.Interval,
		// The open period is ours (see the type documentation).
		Timeout:     time.Nanosecond,
		ReadyToTrip: func(c gobreaker.Counts) bool { return trip(Counts(c)) },
		IsExcluded:  func(err error) bool { return err == errIgnored },
	}
	b.fresh()
	return b, nil
}

// fresh installs a new gobreaker instance. Calls admitted by the one it
// replaces may still report to it; its state changes are then ignored.
// Callers hold b.mu (or own b exclusively).
func (b *Breaker) fresh() {
	var self *gobreaker.TwoStepCircuitBreaker[struct{}]
	st := b.gsettings
	st.OnStateChange = func(_ string, from, to gobreaker.State) {
		if b.cb == self {
			b.changed(from, to)
		}
	}
	self = gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
	b.cb = self
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// changed is gobreaker's OnStateChange. It runs under gobreaker's mutex,
// which is only ever taken while b.mu is held, so it may touch b's fields
// but must not lock anything or call out.
func (b *Breaker) changed(from, to gobreaker.State) {
	now := b.clock.Now()
	st := fromGo(to)
	switch st {
	case StateOpen:
		b.openUntil = now.Add(b.timeout)
	default:
		b.openUntil = time.Time{}
	}
	b.state = st
	b.queue(b.ctx, Event{Name: b.name, From: fromGo(from), To: st, At: now})
}

// queue records an event for delivery once b.mu is released. Callers hold b.mu.
func (b *Breaker) queue(ctx context.Context, ev Event) {
	if ctx == nil {
		ctx = context.Background()
	} else {
		// The event may be delivered after the call that caused it has
		// ended: keep its values (call record, trace) but not its
		// cancellation.
		ctx = context.WithoutCancel(ctx)
	}
	b.pending = append(b.pending, queued{ctx: ctx, ev: ev})
}

func fromGo(s gobreaker.State) State {
	switch s {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	default:
		return StateClosed
	}
}

// State returns the breaker's current state. A breaker whose open period
// has passed reports half-open (and its subscribers hear of the change).
func (b *Breaker) State() State {
	b.mu.Lock()
	st := b.stateLocked(context.Background())
	notify := len(b.pending) > 0
	b.mu.Unlock()
	if notify {
		b.deliver()
	}
	return st
}

func (b *Breaker) stateLocked(ctx context.Context) State {
	if b.forced != "" {
		return b.forced
	}
	if !b.openUntil.IsZero() && b.clock.Now().Before(b.openUntil) {
		return StateOpen
	}
	b.ctx = ctx
	b.cb.State() // lets gobreaker move from open to half-open
	b.ctx = nil
	return b.state
}

// Counts returns the counters of the current period.
func (b *Breaker) Counts() Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Counts(b.cb.Counts())
}

// RetryAfter returns how long until an open breaker admits a probe, or zero
// when it is not open on its own (forced open has no end).
func (b *Breaker) RetryAfter() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.forced != "" || b.openUntil.IsZero() {
		return 0
	}
	if d := b.openUntil.Sub(b.clock.Now()); d > 0 {
		return d
	}
	return 0
}

// ForceOpen holds the breaker open until ForceClose or Reset: every call is
// refused. For operators draining a dependency, and for tests.
func (b *Breaker) ForceOpen() { b.force(StateOpen) }

// ForceClose holds the breaker closed until ForceOpen or Reset: every call
// passes and outcomes are not counted.
func (b *Breaker) ForceClose() { b.force(StateClosed) }

func (b *Breaker) force(st State) {
	b.mu.Lock()
	from := b.stateLocked(context.Background())
	b.forced = st
	if from != st {
		b.queue(context.Background(), Event{Name: b.name, From: from, To: st, At: b.clock.Now(), Forced: true})
	}
	b.mu.Unlock()
	b.deliver()
}

// Reset ends any forcing and returns the breaker to a fresh closed state
// with cleared counts.
func (b *Breaker) Reset() {
	b.mu.Lock()
	from := b.stateLocked(context.Background())
	b.forced = ""
	b.openUntil = time.Time{}
	b.state = StateClosed
	b.fresh()
	if from != StateClosed {
		b.queue(context.Background(), Event{Name: b.name, From: from, To: StateClosed, At: b.clock.Now(), Forced: true})
	}
	b.mu.Unlock()
	b.deliver()
}

// OnStateChange subscribes fn to the breaker's state changes and returns a
// function that unsubscribes it. fn runs on the goroutine of a call that
// happened to cause or deliver the change, outside every lock, so it may
// call back into the breaker; it should be quick. Its context carries the
// values of the call that caused the change (context.Background for forced
// changes) but is never cancelled.
func (b *Breaker) OnStateChange(fn func(ctx context.Context, e Event)) (remove func()) {
	s := &subscriber{fn: fn}
	b.mu.Lock()
	var next []*subscriber
	if cur := b.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, s)
	b.subs.Store(&next)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		cur := b.subs.Load()
		if cur == nil {
			return
		}
		kept := make([]*subscriber, 0, len(*cur))
		for _, x := range *cur {
			if x != s {
				kept = append(kept, x)
			}
		}
		b.subs.Store(&kept)
	}
}

// deliver hands queued events to subscribers. One goroutine delivers at a
// time, draining the queue, so subscribers see changes in order even when
// several calls cause them concurrently.
func (b *Breaker) deliver() {
	b.mu.Lock()
	if b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	defer func() {
		// Reached with b.mu unlocked, also when a subscriber panics.
		b.mu.Lock()
		b.delivering = false
		rest := len(b.pending) > 0
		b.mu.Unlock()
		if rest {
			b.deliver()
		}
	}()
	for len(b.pending) > 0 {
		batch := b.pending
		b.pending = nil
		b.mu.Unlock()
		if subs := b.subs.Load(); subs != nil {
			for _, q := range batch {
				for _, s := range *subs {
					s.fn(q.ctx, q.ev)
				}
			}
		}
		b.mu.Lock()
	}
	b.mu.Unlock()
}

// ticket is an admitted call's handle for reporting its outcome.
type ticket struct {
	done   func(error) // nil when the breaker was forced closed
	notify bool        // events were queued while admitting
}

// allow admits or refuses one call. It returns the state the call saw.
func (b *Breaker) allow(ctx context.Context) (ticket, State, error) {
	b.mu.Lock()
	switch b.forced {
	case StateOpen:
		b.mu.Unlock()
		return ticket{}, StateOpen, b.refusal(0, ErrOpen)
	case StateClosed:
		b.mu.Unlock()
		return ticket{}, StateClosed, nil
	}
	if !b.openUntil.IsZero() {
		if now := b.clock.Now(); now.Before(b.openUntil) {
			wait := b.openUntil.Sub(now)
			b.mu.Unlock()
			return ticket{}, StateOpen, b.refusal(wait, ErrOpen)
		}
	}
	b.ctx = ctx
	done, err := b.cb.Allow()
	for i := 0; err == gobreaker.ErrOpenState && i < 100; i++ {
		// Our open period is over but gobreaker's one-nanosecond timeout
		// has not yet passed on the system clock (possible only on a
		// coarse clock): let it tick.
		runtime.Gosched()
		done, err = b.cb.Allow()
	}
	b.ctx = nil
	st := b.state
	t := ticket{done: done, notify: len(b.pending) > 0}
	b.mu.Unlock()
	if t.notify {
		b.deliver()
	}
	switch {
	case err == gobreaker.ErrTooManyRequests:
		return ticket{}, StateHalfOpen, b.refusal(0, ErrProbeLimit)
	case err != nil:
		return ticket{}, StateOpen, b.refusal(0, ErrOpen)
	}
	return t, st, nil
}

// finish reports an admitted call's outcome.
func (b *Breaker) finish(ctx context.Context, t ticket, o Outcome) {
	if t.done == nil {
		return
	}
	var marker error
	switch o {
	case Failure:
		marker = errFailed
	case Ignored:
		marker = errIgnored
	}
	b.mu.Lock()
	b.ctx = ctx
	t.done(marker)
	b.ctx = nil
	notify := len(b.pending) > 0
	b.mu.Unlock()
	if notify {
		b.deliver()
	}
}

func (b *Breaker) refusal(wait time.Duration, cause error) *bulwark.Error {
	c := b.causes[0]
	if cause == ErrProbeLimit {
		c = b.causes[1]
	}
	return bulwark.Unavailable(b.message, wait, c)
}

// Execute runs fn if the breaker admits the call and records its outcome,
// classified by Settings.Classify. It is the form for guarding a
// dependency inside a handler:
//
//	err := pg.Execute(ctx, func(ctx context.Context) error {
//		return pool.QueryRow(ctx, q, id).Scan(&c.Name, &c.Email)
//	})
//
// When the breaker refuses, fn is not called and Execute returns a
// [bulwark.Unavailable] refusal whose RetryAfter is the time until the next
// probe (zero when unknown). Otherwise it returns fn's error unchanged. A
// panic in fn counts as a failure and is re-raised.
func (b *Breaker) Execute(ctx context.Context, fn func(ctx context.Context) error) error {
	t, _, err := b.allow(ctx)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			b.finish(ctx, t, Failure)
		}
	}()
	err = fn(ctx)
	ok = true
	b.finish(ctx, t, b.classify(ctx, err))
	return err
}

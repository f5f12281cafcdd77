package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
)

// State is a breaker state. The values are the spelling the metrics
// package uses, and what a call records in its "breaker" field ([bulwark.Call.SetField]).
type State string

// The breaker states.
const (
	StateClosed   State = "closed"    // calls flow; failures are counted
	StateHalfOpen State = "half-open" // a bounded number of probe calls test the dependency
	StateOpen     State = "open"      // calls are refused at once
)

// ErrOpen is the cause of a breaker's refusals, reachable with errors.Is
// through the [bulwark.Error] it returns: the breaker is open (tripped or
// forced), or half-open with all its probe calls in flight.
var ErrOpen = errors.New("circuit breaker is open")

// Config configures a [Breaker]. Every zero field means the default stated
// beside it.
type Config struct {
	// TripAfter is how many consecutive failures open a closed breaker.
	// Zero means 5.
	TripAfter int
	// OpenFor is how long the breaker stays open before it lets probes
	// through. Zero means 30 seconds. It is measured on Clock.
	OpenFor time.Duration
	// Probes is how many probe calls a half-open breaker admits at a time,
	// and how many consecutive successes close it again. Zero means 1.
	Probes int
	// IsFailure says which outcomes (as [bulwark.OutcomeOf] classifies
	// them) are the dependency's trouble. An outcome that is not a failure
	// counts as a success when it is [bulwark.OutcomeOK] or
	// [bulwark.OutcomeToolError] (the dependency answered) and counts
	// neither way otherwise. Nil means: internal, unavailable (an inner
	// breaker is open, a pool is exhausted) and deadline_exceeded (the
	// dependency was too slow, including the call's own deadline) are
	// failures; refusals about the caller (invalid_argument,
	// unauthenticated, permission_denied, rate_limited), the client's
	// cancellation and JSON-RPC errors such as an unknown tool count
	// neither way. To count a tool's error results as failures too:
	//
	//	cfg := breaker.Config{IsFailure: func(o bulwark.Outcome) bool {
	//		return o == bulwark.OutcomeToolError || breaker.DefaultIsFailure(o)
	//	}}
	IsFailure func(bulwark.Outcome) bool
	// Clock measures the open period. Nil means the system clock.
	Clock bulwark.Clock
}

// DefaultIsFailure is the default of Config.IsFailure: every outcome with
// a code is a failure, except the refusals about the caller
// (invalid_argument, unauthenticated, permission_denied, rate_limited) and
// the caller's cancellation.
func DefaultIsFailure(o bulwark.Outcome) bool {
	if o == "" {
		return true // an error whose refusal code is empty is still an error
	}
	switch o.Code() {
	case "", bulwark.CodeInvalidArgument, bulwark.CodeUnauthenticated, bulwark.CodePermissionDenied,
		bulwark.CodeRateLimited, bulwark.CodeCanceled:
		return false
	}
	return true
}

// StateChange is a change of a breaker's state. It is delivered to
// subscribers after the breaker's lock is released, in the order the
// changes happened.
type StateChange struct {
	Name string
	From State
	To   State
	// At is when the change happened, on the breaker's clock.
	At time.Time
	// Forced is set for changes made by ForceOpen, ForceClose and Reset.
	Forced bool
}

// Breaker is a circuit breaker for one dependency or tool. Create it with
// [New]; it is safe for concurrent use.
//
// It is a small state machine of its own on [bulwark.Clock] rather than a
// wrapper of sony/gobreaker (see the package documentation for the
// measurement behind that choice): a closed breaker reads no clock and
// takes one short lock per call.
type Breaker struct {
	name      string
	message   string   // the client-facing refusal text
	causes    [2]error // wrapped ErrOpen: open, and half-open with its probes busy
	tripAfter int
	probes    int
	openFor   time.Duration
	isFailure func(bulwark.Outcome) bool
	clock     bulwark.Clock

	mu        sync.Mutex
	state     State
	forced    State     // "" unless forced
	gen       uint64    // bumped at every change: outcomes of calls admitted before it are dropped
	failures  int       // consecutive failures while closed
	successes int       // consecutive probe successes while half-open
	inFlight  int       // probes admitted while half-open
	openUntil time.Time // end of the open period, while open

	pending    []queued
	delivering bool
	subs       atomic.Pointer[[]*subscriber]
}

type queued struct {
	ctx context.Context
	ev  StateChange
}

type subscriber struct {
	fn func(context.Context, StateChange)
}

// New returns a closed breaker. name identifies it in refusals, state
// changes, metrics and readiness; it must not be empty.
func New(name string, c Config) (*Breaker, error) {
	switch {
	case name == "":
		return nil, errors.New("breaker: name must not be empty")
	case c.TripAfter < 0, c.Probes < 0:
		return nil, fmt.Errorf("breaker %q: TripAfter and Probes must not be negative", name)
	case c.OpenFor < 0:
		return nil, fmt.Errorf("breaker %q: OpenFor must not be negative", name)
	}
	b := &Breaker{
		name:    name,
		message: name + " is unavailable",
		causes: [2]error{
			fmt.Errorf("breaker %q: %w", name, ErrOpen),
			fmt.Errorf("breaker %q: half-open, its probe calls in flight: %w", name, ErrOpen),
		},
		tripAfter: c.TripAfter,
		probes:    c.Probes,
		openFor:   c.OpenFor,
		isFailure: c.IsFailure,
		clock:     c.Clock,
		state:     StateClosed,
	}
	if b.tripAfter == 0 {
		b.tripAfter = 5
	}
	if b.probes == 0 {
		b.probes = 1
	}
	if b.openFor == 0 {
		b.openFor = 30 * time.Second
	}
	if b.isFailure == nil {
		b.isFailure = DefaultIsFailure
	}
	if b.clock == nil {
		b.clock = sysclock.Clock{}
	}
	return b, nil
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// State returns the breaker's current state. A breaker whose open period
// has passed reports half-open (and its subscribers hear of the change).
func (b *Breaker) State() State {
	b.mu.Lock()
	st := b.stateLocked(context.Background())
	b.unlockAndDeliver()
	return st
}

// stateLocked moves an open breaker whose period is over to half-open and
// returns the state. Callers hold b.mu.
func (b *Breaker) stateLocked(ctx context.Context) State {
	if b.forced != "" {
		return b.forced
	}
	if b.state == StateOpen {
		if now := b.clock.Now(); !now.Before(b.openUntil) {
			b.change(ctx, StateHalfOpen, now, false)
		}
	}
	return b.state
}

// change moves the breaker to st and queues the state change for
// delivery. Callers hold b.mu.
func (b *Breaker) change(ctx context.Context, st State, now time.Time, forced bool) {
	from := b.state
	b.state = st
	b.gen++
	b.failures, b.successes, b.inFlight = 0, 0, 0
	if st == StateOpen {
		b.openUntil = now.Add(b.openFor)
	}
	if from != st {
		b.queue(ctx, StateChange{Name: b.name, From: from, To: st, At: now, Forced: forced})
	}
}

// queue records a state change for delivery once b.mu is released.
// Callers hold b.mu. The change may be delivered after the call that
// caused it has ended: its context keeps the call's values (call record,
// trace) but not its cancellation.
func (b *Breaker) queue(ctx context.Context, ev StateChange) {
	b.pending = append(b.pending, queued{ctx: context.WithoutCancel(ctx), ev: ev})
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
		b.queue(context.Background(), StateChange{Name: b.name, From: from, To: st, At: b.clock.Now(), Forced: true})
	}
	b.unlockAndDeliver()
}

// Reset ends any forcing and returns the breaker to a fresh closed state
// with cleared counts. Calls admitted before it report to no one.
func (b *Breaker) Reset() {
	b.mu.Lock()
	from := b.stateLocked(context.Background())
	b.forced = ""
	b.state = from // what callers last saw, so the change reads from there
	b.change(context.Background(), StateClosed, b.clock.Now(), true)
	b.unlockAndDeliver()
}

// OnStateChange subscribes fn to the breaker's state changes and returns a
// function that unsubscribes it. fn runs on the goroutine of a call that
// happened to cause or deliver the change, outside every lock, so it may
// call back into the breaker; it should be quick. Its context carries the
// values of the call that caused the change (context.Background for forced
// changes) but is never cancelled.
func (b *Breaker) OnStateChange(fn func(ctx context.Context, c StateChange)) (remove func()) {
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

// unlockAndDeliver releases b.mu and hands queued state changes to
// subscribers.
func (b *Breaker) unlockAndDeliver() {
	notify := len(b.pending) > 0
	b.mu.Unlock()
	if notify {
		b.deliver()
	}
}

// deliver hands queued state changes to subscribers. One goroutine
// delivers at a time, draining the queue, so subscribers see changes in
// order even when several calls cause them concurrently.
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
	gen    uint64
	probe  bool
	forced bool // admitted by ForceClose: the outcome is not counted
}

// allow admits or refuses one call. It returns the state the call saw.
func (b *Breaker) allow(ctx context.Context) (ticket, State, error) {
	b.mu.Lock()
	switch b.forced {
	case StateOpen:
		b.mu.Unlock()
		return ticket{}, StateOpen, b.refusal(0, 0)
	case StateClosed:
		b.mu.Unlock()
		return ticket{forced: true}, StateClosed, nil
	}
	var err error
	t := ticket{gen: b.gen}
	switch st := b.stateLocked(ctx); st {
	case StateOpen:
		err = b.refusal(b.openUntil.Sub(b.clock.Now()), 0)
	case StateHalfOpen:
		if b.inFlight >= b.probes {
			err = b.refusal(0, 1)
			break
		}
		b.inFlight++
		t = ticket{gen: b.gen, probe: true}
	}
	st := b.state
	b.unlockAndDeliver()
	return t, st, err
}

// finish reports an admitted call's outcome.
func (b *Breaker) finish(ctx context.Context, t ticket, o bulwark.Outcome) {
	if t.forced {
		return
	}
	fail := b.isFailure(o)
	success := !fail && (o == bulwark.OutcomeOK || o == bulwark.OutcomeToolError)
	b.mu.Lock()
	if t.gen != b.gen || b.forced != "" {
		// The breaker changed since the call was admitted (or is held
		// by an operator): the outcome speaks of a period that is over.
		b.mu.Unlock()
		return
	}
	switch {
	case t.probe:
		b.inFlight--
		if fail {
			b.change(ctx, StateOpen, b.clock.Now(), false)
		} else if success {
			if b.successes++; b.successes >= b.probes {
				b.change(ctx, StateClosed, b.clock.Now(), false)
			}
		}
	case fail:
		if b.failures++; b.failures >= b.tripAfter {
			b.change(ctx, StateOpen, b.clock.Now(), false)
		}
	case success:
		b.failures = 0
	}
	b.unlockAndDeliver()
}

// refusal is the unavailable refusal of an open (cause 0) or busy
// half-open (cause 1) breaker.
func (b *Breaker) refusal(wait time.Duration, cause int) *bulwark.Error {
	return bulwark.Unavailable(b.message, max(wait, 0), b.causes[cause])
}

// Execute runs fn if the breaker admits the call and records its outcome,
// classified by [bulwark.OutcomeOf] and Config.IsFailure. It is the form
// for guarding a dependency inside a handler:
//
//	var name, email string
//	err := pg.Execute(ctx, func(ctx context.Context) error {
//		return pool.QueryRow(ctx, "SELECT name, email FROM customers WHERE id = $1", id).Scan(&name, &email)
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
			b.finish(ctx, t, bulwark.Outcome(bulwark.CodeInternal))
		}
	}()
	err = fn(ctx)
	ok = true
	o := bulwark.OutcomeOK
	if err != nil {
		o = bulwark.OutcomeOf(ctx, nil, err)
	}
	b.finish(ctx, t, o)
	return err
}

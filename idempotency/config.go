package idempotency

import (
	"errors"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
)

// Config configures [New]. Every zero field means the default stated
// beside it.
type Config struct {
	// Keys says where calls carry their idempotency key. The zero value
	// reads the argument "idempotency_key" and the _meta entry of the
	// same name.
	Keys KeySource
	// TTL is how long a completed call's result is kept for replay. Zero
	// means 24 hours.
	TTL time.Duration
	// PendingTTL is how long a claim on a key lasts without renewal: if
	// the process dies mid-call, the key frees up after this. With a store
	// that is a [Renewer] (the memory, Redis and PostgreSQL stores) the
	// claim is renewed while the handler runs, however long it takes; with
	// other stores make it longer than any handler can run. Every instance
	// sharing a store must use the same PendingTTL. Zero means 5 minutes.
	PendingTTL time.Duration
	// Wait is how long a duplicate waits for the call already running
	// with its key; it stops a poll interval before its own deadline in
	// any case, and is then refused with a retry-after. A claim whose
	// owner stopped renewing it is refused without waiting. Negative
	// refuses duplicates at once; zero means 30 seconds.
	Wait time.Duration
	// PollInterval is how often a waiting duplicate checks the store.
	// Zero means 50ms.
	PollInterval time.Duration
	// RequireKey makes the layer refuse calls that carry no key, with an
	// invalid-argument refusal naming the key argument. Apply it to the
	// tools whose writes must never repeat, with [bulwark.Only].
	RequireKey bool
	// Clock is what duplicates wait on. Nil means the system clock.
	Clock bulwark.Clock
}

const (
	defaultTTL        = 24 * time.Hour
	defaultPendingTTL = 5 * time.Minute
	defaultWait       = 30 * time.Second
	defaultPoll       = 50 * time.Millisecond
)

// options is a validated Config with its defaults filled in.
type options struct {
	keys       KeySource
	ttl        time.Duration
	pendingTTL time.Duration
	wait       time.Duration
	poll       time.Duration
	requireKey bool
	clock      bulwark.Clock
}

func (c Config) options() (options, error) {
	if c.TTL < 0 || c.PendingTTL < 0 || c.PollInterval < 0 {
		return options{}, errors.New("idempotency: TTL, PendingTTL and PollInterval must not be negative")
	}
	o := options{
		keys: c.Keys, ttl: c.TTL, pendingTTL: c.PendingTTL, wait: c.Wait, poll: c.PollInterval,
		requireKey: c.RequireKey, clock: sysclock.Or(c.Clock),
	}
	if o.ttl == 0 {
		o.ttl = defaultTTL
	}
	if o.pendingTTL == 0 {
		o.pendingTTL = defaultPendingTTL
	}
	if o.wait == 0 {
		o.wait = defaultWait
	}
	if o.poll == 0 {
		o.poll = defaultPoll
	}
	return o, nil
}

package idempotency

import (
	"context"
	"errors"
	"time"
)

// Entry is what an idempotency store keeps for one key.
type Entry struct {
	// Fingerprint identifies the arguments of the call that claimed the
	// key (a hex SHA-256 of their canonical JSON).
	Fingerprint string
	// Done is false while the claiming call runs, true once its result is
	// stored.
	Done bool
	// Result is the stored *mcp.CallToolResult as JSON, when Done.
	Result []byte
	// Remaining is how long the entry lives on, as Claim reports it for
	// the live entry that holds a key: for a pending entry, how long until
	// its claim lapses unless its owner renews it. Zero means the store
	// does not say. Complete ignores it.
	Remaining time.Duration
}

// Store keeps idempotency entries. Implementations must be atomic across
// every process that shares them: of many concurrent Claims of one key,
// exactly one succeeds. Every method takes a context. [NewMemoryStore],
// redisidem.New and pgidem.New are provided; idempotencytest.Run checks an
// implementation.
type Store interface {
	// Claim records a pending entry with fingerprint for key, owned by
	// token and expiring after ttl, unless the key has a live entry. It
	// returns claimed=true when it recorded one, and otherwise the live
	// entry, with its Remaining time when the store knows it.
	Claim(ctx context.Context, key, token, fingerprint string, ttl time.Duration) (existing Entry, claimed bool, err error)
	// Complete replaces the pending entry owned by token with e, expiring
	// after ttl. It returns ErrNotOwner when the key is not held by token
	// (the claim expired, or was never made).
	Complete(ctx context.Context, key, token string, e Entry, ttl time.Duration) error
	// Release deletes the pending entry owned by token, so that a later
	// call with the key runs again. It is not an error if token does not
	// hold the key.
	Release(ctx context.Context, key, token string) error
}

// Renewer is implemented by stores that can extend a pending claim.
// [New] renews its claim while the handler runs (every third of
// the pending TTL), so a handler slower than the pending TTL keeps the key
// and a duplicate cannot run the write a second time; the pending TTL then
// only bounds how long a key stays blocked after the process died
// mid-call. With a store that is not a Renewer, the pending TTL must
// exceed the longest a handler can run, abandoned handlers included.
// [MemoryStore], redisidem.Store and pgidem.Store are Renewers.
type Renewer interface {
	// Renew resets the expiry of the pending entry owned by token to ttl
	// from now. It returns ErrNotOwner when token does not hold a pending
	// entry for key (it expired, was released or completed, or was never
	// claimed).
	Renew(ctx context.Context, key, token string, ttl time.Duration) error
}

// Errors returned by stores.
var (
	// ErrNotOwner: Complete or Renew was called with a token that does not
	// hold the key.
	ErrNotOwner = errors.New("idempotency: idempotency key is not held by this token")
	// ErrStoreFull: a bounded store has no room for a new pending entry.
	ErrStoreFull = errors.New("idempotency: idempotency store is full")
	// ErrPrincipalFull: the calling principal holds as many pending
	// entries as a bounded store allows one principal.
	ErrPrincipalFull = errors.New("idempotency: too many idempotency keys of this principal are in progress")
)

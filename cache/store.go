package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Store holds cached results and the generation counters that make
// invalidation work. [MemoryStore] keeps them in the process;
// the Redis store of cache/rediscache shares them between instances. The conformance suite in
// cache/cachetest checks any implementation.
//
// Keys are opaque hex strings (SHA-256 of the key material); they never
// contain argument values or principal IDs in clear. Every method must be
// safe for concurrent use.
type Store interface {
	// Get returns the entry under key, and false when there is none. It may
	// return an entry whose Expires has passed (the cache may serve it as
	// stale); freshness is decided by the cache with its own clock.
	Get(ctx context.Context, key string) (Entry, bool, error)
	// Set stores e under key for at least keep (its TTL plus the stale
	// window), after which the store may drop it. The store owns e.Value
	// afterwards and must not modify it.
	Set(ctx context.Context, key string, e Entry, keep time.Duration) error
	// Generations returns the current generation of each tag. A tag never
	// bumped (or forgotten) has a generation the store chooses, with one
	// rule: a value a tag had before a Bump must never come back for it.
	Generations(ctx context.Context, tags []string) ([]uint64, error)
	// Bump moves every tag to a new generation never used before, so every
	// entry stored under an older generation of one of them becomes
	// unreachable. keep is the longest time an entry may be kept; a store
	// that forgets generations by time must remember a bumped one for at
	// least that long.
	Bump(ctx context.Context, tags []string, keep time.Duration) error
}

// Entry is one cached result as a store holds it.
type Entry struct {
	// Value is the result encoded as JSON (as the SDK sends it).
	Value []byte
	// Stored is when the result was stored, by the cache's clock.
	Stored time.Time
	// Expires is when the entry stops being fresh.
	Expires time.Time
	// Owner names the principal whose call stored the entry, as an opaque
	// hash (never the principal's ID in clear), or "" for a call without
	// a principal. It is not part of the key: a store uses it to bound
	// each principal's share ([MemoryConfig].PrincipalShare). Stores
	// need not keep it; Get may return it empty.
	Owner string

	// result is Value decoded once, kept by in-process stores so a hit
	// costs a copy rather than a JSON decode.
	result *mcp.CallToolResult
}

var errCorrupt = errors.New("cache: stored entry is malformed")

// entryHeader is the size of the binary header of an encoded entry:
// version byte, stored and expires as Unix nanoseconds.
const entryHeader = 1 + 8 + 8

const entryVersion = 1

// MarshalBinary encodes e for stores that keep bytes (Redis). The
// encoding leaves Owner out.
func (e Entry) MarshalBinary() ([]byte, error) {
	b := make([]byte, entryHeader, entryHeader+len(e.Value))
	b[0] = entryVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(e.Stored.UnixNano()))
	binary.BigEndian.PutUint64(b[9:17], uint64(e.Expires.UnixNano()))
	return append(b, e.Value...), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (e *Entry) UnmarshalBinary(b []byte) error {
	if len(b) < entryHeader || b[0] != entryVersion {
		return errCorrupt
	}
	*e = Entry{
		Stored:  time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))),
		Expires: time.Unix(0, int64(binary.BigEndian.Uint64(b[9:17]))),
		Value:   b[entryHeader:],
	}
	return nil
}

package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// DefaultCapacity is the number of buckets a [MemoryStore] keeps when its
// capacity is not set.
const DefaultCapacity = 100_000

// memoryShards splits the store so that concurrent calls for different keys
// rarely wait on one another. Stores smaller than this use fewer shards.
const memoryShards = 16

// MemoryStore keeps token buckets (golang.org/x/time/rate limiters) in
// process memory, in a bounded LRU structure: it never holds more than its
// capacity, however many distinct keys arrive.
//
// # Eviction
//
// A bucket that has been idle long enough to refill completely is the same
// as no bucket: recreating it later hands the caller a full bucket, which is
// what it would have had anyway. Such a bucket is dropped freely when room
// is needed. When the store is full and the least recently used bucket is
// NOT full, it is dropped all the same (memory stays bounded, which matters
// more) and the drop is counted as a forced eviction: if that key returns
// before its bucket would have refilled, it starts with a full bucket and
// may get up to Burst more calls than its limit allowed. A forced eviction
// count above zero means the capacity is too small for the number of keys
// active within one refill period; raise it.
type MemoryStore struct {
	shards []memoryShard
	seed   maphash.Seed
	cap    int

	evictions atomic.Uint64
	forced    atomic.Uint64
}

type memoryShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[Bucket, *memoryBucket]
	// now is the latest time any call on the shard has carried, read by
	// the eviction callback. Calls read the clock before taking the lock,
	// so their times can arrive slightly out of order; judging fullness
	// at the latest time keeps a late caller from counting a refilled
	// bucket as forced.
	now time.Time
	_   [40]byte // keep shards on separate cache lines
}

// NewMemoryStore returns a store holding at most capacity buckets (zero
// means DefaultCapacity).
func NewMemoryStore(capacity int) (*MemoryStore, error) {
	if capacity < 0 {
		return nil, errors.New("ratelimit: negative capacity")
	}
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	n := memoryShards
	if capacity < n*64 {
		n = 1
	}
	s := &MemoryStore{shards: make([]memoryShard, n), seed: maphash.MakeSeed(), cap: capacity}
	for i := range s.shards {
		size := capacity / n
		if i < capacity%n {
			size++
		}
		sh := &s.shards[i]
		lru, err := simplelru.NewLRU(size, func(_ Bucket, mb *memoryBucket) { s.evicted(sh, mb) })
		if err != nil {
			return nil, err
		}
		sh.lru = lru
	}
	return s, nil
}

// memoryBucket is one bucket and the limit it was last used with, kept
// beside it so the common case (limit unchanged) costs no extra locking.
type memoryBucket struct {
	lim   *rate.Limiter
	limit Limit
	// last is the latest time the bucket has been used at. Callers read
	// the clock before taking the shard's lock, so times can arrive out of
	// order; rate.Limiter would move its own clock back for a late one and
	// later count the refill between the two times again.
	last time.Time
}

func (mb *memoryBucket) full(now time.Time) bool {
	return mb.lim.TokensAt(now) >= float64(mb.limit.Burst)
}

// evicted runs inside Add and Remove, under the shard's lock.
func (s *MemoryStore) evicted(sh *memoryShard, mb *memoryBucket) {
	s.evictions.Add(1)
	if !mb.full(sh.now) {
		s.forced.Add(1)
	}
}

// Allow implements [Store]. It never fails.
func (s *MemoryStore) Allow(_ context.Context, b Bucket, limit Limit, now time.Time) (Decision, error) {
	sh := &s.shards[0]
	if len(s.shards) > 1 {
		sh = &s.shards[maphash.String(s.seed, b.Key)%uint64(len(s.shards))]
	}
	sh.mu.Lock()
	mb, ok := sh.lru.Get(b)
	if !ok {
		mb = &memoryBucket{lim: rate.NewLimiter(rate.Limit(limit.Rate), limit.Burst), limit: limit, last: now}
		if now.After(sh.now) {
			sh.now = now
		}
		sh.lru.Add(b, mb)
	} else if now.Before(mb.last) {
		now = mb.last
	} else {
		mb.last = now
	}
	if mb.limit != limit {
		if mb.limit.Rate != limit.Rate {
			mb.lim.SetLimitAt(now, rate.Limit(limit.Rate))
		}
		if mb.limit.Burst != limit.Burst {
			mb.lim.SetBurstAt(now, limit.Burst)
		}
		mb.limit = limit
	}
	allowed := mb.lim.AllowN(now, 1)
	tokens := mb.lim.TokensAt(now)
	sh.mu.Unlock()

	if allowed {
		return Decision{Allowed: true, Remaining: int(math.Max(0, math.Floor(tokens)))}, nil
	}
	wait := time.Duration(math.Ceil((1 - tokens) / limit.Rate * float64(time.Second)))
	if wait < 1 {
		wait = 1
	}
	return Decision{RetryAfter: wait}, nil
}

// Len returns the number of buckets held.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.lru.Len()
		sh.mu.Unlock()
	}
	return n
}

// MemoryStats describes a [MemoryStore].
type MemoryStats struct {
	Buckets  int // buckets held now
	Capacity int // the most buckets the store will hold
	// Evictions counts buckets dropped to make room or by Prune.
	Evictions uint64
	// ForcedEvictions counts the evictions of buckets that were not full,
	// each of which may have let one key exceed its limit by up to Burst
	// calls (see the type's documentation).
	ForcedEvictions uint64
}

// Stats returns the store's counters.
func (s *MemoryStore) Stats() MemoryStats {
	return MemoryStats{
		Buckets:         s.Len(),
		Capacity:        s.cap,
		Evictions:       s.evictions.Load(),
		ForcedEvictions: s.forced.Load(),
	}
}

// Prune drops every bucket that is full at now (idle long enough to have
// refilled), which frees memory without giving any caller more than its
// limit. It returns how many were dropped. Calling it is optional: the
// store stays within its capacity without it.
func (s *MemoryStore) Prune(now time.Time) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if now.After(sh.now) {
			sh.now = now
		}
		for _, k := range sh.lru.Keys() {
			mb, ok := sh.lru.Peek(k)
			if ok && mb.full(now) {
				sh.lru.Remove(k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

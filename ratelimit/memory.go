package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// The defaults of [MemoryConfig].
const (
	defaultCapacity     = 100_000
	defaultPerPrincipal = 1000
)

// memoryShards splits the store so that concurrent calls for different keys
// rarely wait on one another. Stores smaller than this use fewer shards.
const memoryShards = 16

// MemoryStore keeps token buckets (golang.org/x/time/rate limiters) in
// process memory, in a bounded LRU structure: it never holds more than its
// capacity, however many distinct keys arrive, and never more than a set
// number of one principal's buckets per limiter.
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
//
// # Buckets per principal
//
// A bucket whose key is the caller's own ([Bucket].Principal set: keys of
// [ByPrincipal], [ByPrincipalAndTool] and [BySession]) counts against that
// principal. A principal holding its cap of buckets of one limiter
// ([MemoryConfig].PerPrincipal, default 1000) gets no new bucket for a
// new key: every call with a key it has no bucket for draws from one
// overflow bucket, kept per principal, limiter and limit (so a principal
// has one per distinct limit its limiter hands out, a number the
// configuration bounds; a LimitFunc that invents limits per call should
// not be used with caller keys). Nothing is
// evicted to make room, so no bucket is ever reset early: a caller naming
// made-up tools or opening session after session gains nothing from it,
// since its extra keys together get the allowance of a single key, less
// than each would have had alone. When one of its buckets is dropped
// (refilled and evicted, or pruned), a new key gets its own bucket again.
// Buckets with no principal (Global, custom keys, calls without auth) are
// bounded by the capacity alone.
type MemoryStore struct {
	shards []memoryShard
	seed   maphash.Seed
	cap    int
	per    int // buckets per principal and limiter

	omu   sync.Mutex // guards owned; taken inside a shard's lock
	owned map[owner]int

	evictions  atomic.Uint64
	forced     atomic.Uint64
	overflowed atomic.Uint64
}

// owner is a principal's buckets of one limiter.
type owner struct{ limiter, principal string }

// bucketID is a bucket's identity: Bucket without the Principal.
type bucketID struct{ limiter, key string }

type memoryShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[bucketID, *memoryBucket]
	// now is the latest time any call on the shard has carried, read by
	// the eviction callback. Calls read the clock before taking the lock,
	// so their times can arrive slightly out of order; judging fullness
	// at the latest time keeps a late caller from counting a refilled
	// bucket as forced.
	now time.Time
	_   [40]byte // keep shards on separate cache lines
}

// MemoryConfig configures a [MemoryStore]. Every zero field means the
// documented default.
type MemoryConfig struct {
	// Capacity is the most buckets the store holds; default 100,000.
	Capacity int
	// PerPrincipal is how many buckets of one limiter a principal may hold
	// (see the type's documentation, "Buckets per principal"); default
	// 1000, or the capacity when that is smaller. A value of at least the
	// capacity turns the cap off.
	PerPrincipal int
}

// NewMemoryStore returns a store configured by cfg.
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	if cfg.Capacity < 0 || cfg.PerPrincipal < 0 {
		return nil, errors.New("ratelimit: MemoryConfig fields must not be negative")
	}
	capacity := cfg.Capacity
	if capacity == 0 {
		capacity = defaultCapacity
	}
	per := cfg.PerPrincipal
	if per == 0 {
		per = defaultPerPrincipal
	}
	n := memoryShards
	if capacity < n*64 {
		n = 1
	}
	s := &MemoryStore{
		shards: make([]memoryShard, n), seed: maphash.MakeSeed(), cap: capacity,
		per: min(per, capacity), owned: make(map[owner]int),
	}
	for i := range s.shards {
		size := capacity / n
		if i < capacity%n {
			size++
		}
		sh := &s.shards[i]
		lru, err := simplelru.NewLRU(size, func(_ bucketID, mb *memoryBucket) { s.evicted(sh, mb) })
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
	// owner is who the bucket counts against; zero for none.
	owner owner
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
	if mb.owner.principal != "" {
		s.omu.Lock()
		if s.owned[mb.owner]--; s.owned[mb.owner] <= 0 {
			delete(s.owned, mb.owner)
		}
		s.omu.Unlock()
	}
}

// claim counts one more bucket against o, unless o holds its cap already.
func (s *MemoryStore) claim(o owner) bool {
	s.omu.Lock()
	defer s.omu.Unlock()
	if s.owned[o] >= s.per {
		return false
	}
	s.owned[o]++
	return true
}

// overflowKey is the key of o's overflow bucket for limit. The principal's
// length goes first so no principal and limit can spell another's.
func overflowKey(o owner, limit Limit) bucketID {
	return bucketID{
		limiter: o.limiter + ":overflow", // a Limiter's name never holds ':'
		key:     strconv.Itoa(len(o.principal)) + ":" + o.principal + ":" + limit.String(),
	}
}

// Allow implements [Store]. It never fails.
func (s *MemoryStore) Allow(_ context.Context, b Bucket, limit Limit, now time.Time) (Decision, error) {
	id := bucketID{b.Limiter, b.Key}
	o := owner{b.Limiter, b.Principal}
	if b.Principal == "" {
		o = owner{}
	}
	for {
		d, over := s.allow(id, o, limit, now)
		if !over {
			return d, nil
		}
		// o holds its cap: the call draws from o's overflow bucket, which
		// counts against no one.
		s.overflowed.Add(1)
		id, o = overflowKey(o, limit), owner{}
	}
}

// allow decides one call on bucket id; over reports that the bucket did
// not exist and o may not create another.
func (s *MemoryStore) allow(id bucketID, o owner, limit Limit, now time.Time) (_ Decision, over bool) {
	sh := &s.shards[0]
	if len(s.shards) > 1 {
		sh = &s.shards[maphash.String(s.seed, id.key)%uint64(len(s.shards))]
	}
	sh.mu.Lock()
	mb, ok := sh.lru.Get(id)
	if !ok {
		if o.principal != "" && !s.claim(o) {
			sh.mu.Unlock()
			return Decision{}, true
		}
		mb = &memoryBucket{lim: rate.NewLimiter(rate.Limit(limit.Rate), limit.Burst), limit: limit, last: now, owner: o}
		if now.After(sh.now) {
			sh.now = now
		}
		sh.lru.Add(id, mb)
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
		return Decision{Allowed: true, Remaining: int(math.Max(0, math.Floor(tokens)))}, false
	}
	wait := time.Duration(math.Ceil((1 - tokens) / limit.Rate * float64(time.Second)))
	if wait < 1 {
		wait = 1
	}
	return Decision{RetryAfter: wait}, false
}

// len returns the number of buckets held.
func (s *MemoryStore) len() int {
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
	// PerPrincipal is the most buckets of one limiter a principal may hold.
	PerPrincipal int
	// Principals is the number of principal and limiter pairs holding
	// buckets now (at most Buckets).
	Principals int
	// Overflowed counts calls from principals at their cap that drew from
	// an overflow bucket because their key had no bucket of its own.
	Overflowed uint64
}

// Stats returns the store's counters.
func (s *MemoryStore) Stats() MemoryStats {
	return MemoryStats{
		Buckets:         s.len(),
		Capacity:        s.cap,
		Evictions:       s.evictions.Load(),
		ForcedEvictions: s.forced.Load(),
		PerPrincipal:    s.per,
		Principals:      s.principals(),
		Overflowed:      s.overflowed.Load(),
	}
}

func (s *MemoryStore) principals() int {
	s.omu.Lock()
	defer s.omu.Unlock()
	return len(s.owned)
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

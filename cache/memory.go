package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	lru "github.com/hashicorp/golang-lru/v2"
)

// MemorySettings configures a [MemoryStore]. Zero fields take the
// documented defaults.
type MemorySettings struct {
	// MaxEntries bounds the number of cached results; the least recently
	// used is evicted beyond it. Default 4096. Together with the cache's
	// MaxItemBytes it bounds the memory the store can use.
	MaxEntries int
	// MaxTags bounds the number of tag generations remembered. When a tag
	// is forgotten, every tag never bumped since moves to a new generation
	// too (see Generations), so set it well above the number of tags
	// invalidated within an entry's lifetime. Default 65536.
	MaxTags int
	// Clock decides when entries expire. Default bulwark.SystemClock; give
	// the cache and its store the same clock.
	Clock bulwark.Clock
}

// MemoryStore is a bounded, in-process [Store]: an LRU of entries with a
// per-entry deadline, and an LRU of tag generations. Create it with
// [NewMemoryStore].
type MemoryStore struct {
	clock   bulwark.Clock
	entries *lru.Cache[string, memEntry]
	gens    *lru.Cache[string, uint64]

	mu        sync.Mutex // orders Bump against the floor update
	seq       uint64     // last generation handed out; guarded by mu
	floor     atomic.Uint64
	evictions atomic.Uint64
}

type memEntry struct {
	e    Entry
	keep time.Time // dropped after this
}

// NewMemoryStore returns a memory store with settings s.
func NewMemoryStore(s MemorySettings) (*MemoryStore, error) {
	if s.MaxEntries < 0 || s.MaxTags < 0 {
		return nil, errors.New("cache: MemorySettings bounds must not be negative")
	}
	if s.MaxEntries == 0 {
		s.MaxEntries = 4096
	}
	if s.MaxTags == 0 {
		s.MaxTags = 65536
	}
	m := &MemoryStore{clock: bulwark.ClockOr(s.Clock)}
	var err error
	if m.entries, err = lru.New[string, memEntry](s.MaxEntries); err != nil {
		return nil, err
	}
	// Generations are only ever evicted (never removed), so the callback
	// sees exactly the forgotten tags. Raising the floor to the forgotten
	// generation keeps the store's promise: the tag now reads as the floor,
	// which is at least its last generation and so never an older one.
	m.gens, err = lru.NewWithEvict[string, uint64](s.MaxTags, func(_ string, g uint64) {
		for {
			f := m.floor.Load()
			if g <= f || m.floor.CompareAndSwap(f, g) {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Get implements [Store].
func (m *MemoryStore) Get(_ context.Context, key string) (Entry, bool, error) {
	me, ok := m.entries.Get(key)
	if !ok {
		return Entry{}, false, nil
	}
	if m.clock.Now().After(me.keep) {
		m.entries.Remove(key)
		return Entry{}, false, nil
	}
	return me.e, true, nil
}

// Set implements [Store].
func (m *MemoryStore) Set(_ context.Context, key string, e Entry, keep time.Duration) error {
	if m.entries.Add(key, memEntry{e: e, keep: m.clock.Now().Add(keep)}) {
		m.evictions.Add(1)
	}
	return nil
}

// Generations implements [Store]. A tag not remembered reads as the floor:
// zero until some tag is forgotten, then the highest forgotten generation.
func (m *MemoryStore) Generations(_ context.Context, tags []string) ([]uint64, error) {
	out := make([]uint64, len(tags))
	for i, t := range tags {
		g, ok := m.gens.Peek(t)
		if f := m.floor.Load(); !ok || g < f {
			g = f
		}
		out[i] = g
	}
	return out, nil
}

// Bump implements [Store]. Generations come from one counter, so a bumped
// tag never returns to a value it (or any tag) had.
func (m *MemoryStore) Bump(_ context.Context, tags []string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range tags {
		m.seq++
		if f := m.floor.Load(); m.seq <= f {
			m.seq = f + 1
		}
		m.gens.Add(t, m.seq)
	}
	return nil
}

// Len returns the number of entries held, expired ones included.
func (m *MemoryStore) Len() int { return m.entries.Len() }

// Evictions returns how many entries were evicted to respect MaxEntries.
// The cache adds it to its [Stats].
func (m *MemoryStore) Evictions() uint64 { return m.evictions.Load() }

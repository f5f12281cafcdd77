package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	lru "github.com/hashicorp/golang-lru/v2"
)

// MemoryConfig configures a [MemoryStore]. Zero fields take the
// documented defaults.
type MemoryConfig struct {
	// MaxEntries bounds the number of cached results; beyond it an entry
	// is evicted (see PrincipalShare for which). Default 4096. Together
	// with the cache's MaxItemBytes it bounds the memory the store can use.
	MaxEntries int
	// PrincipalShare is the number of entries each principal is sure to
	// keep when the store is full. When room is needed the store evicts,
	// in this order: the least recently used entry if it is past its keep
	// time, or belongs to a principal holding more than its share, or to
	// the storing principal holding its share; else the storing
	// principal's own least recently used entry if it holds its share;
	// else an entry of the principals holding more than their share, taken
	// in turn; and only when nobody holds more than its share, the least
	// recently used entry. So one principal calling with random arguments
	// recycles its own entries and cannot flush anyone else's, principals
	// over their share compete by recency, and a store with room to spare
	// lets any principal use it all. Entries stored by calls without
	// a principal (no auth layer) have no share and are only evicted as
	// least recently used. Default MaxEntries/16 (256 of the default
	// 4096), at least 1; MaxEntries turns the share off (a plain LRU).
	PrincipalShare int
	// MaxTags bounds the number of tag generations remembered. When a tag
	// is forgotten, every tag never bumped since moves to a new generation
	// too (see Generations), so set it well above the number of tags
	// invalidated within an entry's lifetime. Default 65536.
	MaxTags int
	// Clock decides when entries expire. Default: the system clock; give
	// the cache and its store the same clock.
	Clock bulwark.Clock
}

// MemoryStore is a bounded, in-process [Store]: an LRU of entries with a
// per-entry deadline and a share per principal (see
// MemoryConfig.PrincipalShare), and an LRU of tag generations. Create it
// with [NewMemoryStore].
type MemoryStore struct {
	clock bulwark.Clock
	gens  *lru.Cache[string, uint64]

	emu     sync.Mutex // guards entries, owners, lru, over
	entries map[string]*memNode
	// owners holds one record per principal that has entries, so its size
	// is bounded by the number of entries.
	owners  map[string]*memOwner
	lru     memNode  // sentinel of the list of all entries, most recent first
	over    memOwner // sentinel of the ring of owners holding more than share
	max     int
	share   int
	evicted uint64 // guarded by emu
	shared  uint64 // share evictions, guarded by emu

	mu    sync.Mutex // orders Bump against the floor update
	seq   uint64     // last generation handed out; guarded by mu
	floor atomic.Uint64
}

// memNode is one entry, linked into the store's list and, when it has an
// owner, into the owner's list.
type memNode struct {
	key          string
	e            Entry
	keep         time.Time // dropped after this
	owner        *memOwner
	prev, next   *memNode
	oprev, onext *memNode
}

// memOwner is a principal's entries, most recent first.
type memOwner struct {
	id         string
	n          int
	list       memNode   // sentinel; uses oprev/onext
	prev, next *memOwner // in the over ring while n > share
}

// NewMemoryStore returns a memory store with settings s.
func NewMemoryStore(s MemoryConfig) (*MemoryStore, error) {
	if s.MaxEntries < 0 || s.MaxTags < 0 || s.PrincipalShare < 0 {
		return nil, errors.New("cache: MemoryConfig bounds must not be negative")
	}
	if s.MaxEntries == 0 {
		s.MaxEntries = 4096
	}
	if s.PrincipalShare == 0 {
		s.PrincipalShare = max(1, s.MaxEntries/16)
	}
	if s.PrincipalShare > s.MaxEntries {
		return nil, errors.New("cache: MemoryConfig.PrincipalShare must not exceed MaxEntries")
	}
	if s.MaxTags == 0 {
		s.MaxTags = 65536
	}
	m := &MemoryStore{
		clock:   sysclock.Or(s.Clock),
		entries: make(map[string]*memNode),
		owners:  make(map[string]*memOwner),
		max:     s.MaxEntries,
		share:   s.PrincipalShare,
	}
	m.lru.prev, m.lru.next = &m.lru, &m.lru
	m.over.prev, m.over.next = &m.over, &m.over
	var err error
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
	now := m.clock.Now()
	m.emu.Lock()
	defer m.emu.Unlock()
	n, ok := m.entries[key]
	if !ok {
		return Entry{}, false, nil
	}
	if now.After(n.keep) {
		m.remove(n)
		return Entry{}, false, nil
	}
	m.touch(n)
	return n.e, true, nil
}

// Set implements [Store]. e.Owner decides whose share the entry counts
// against.
func (m *MemoryStore) Set(_ context.Context, key string, e Entry, keep time.Duration) error {
	now := m.clock.Now()
	deadline := now.Add(keep)
	m.emu.Lock()
	defer m.emu.Unlock()
	if n, ok := m.entries[key]; ok {
		if n.owner == nil && e.Owner == "" || n.owner != nil && n.owner.id == e.Owner {
			n.e, n.keep = e, deadline
			m.touch(n)
			return nil
		}
		m.remove(n) // stored again by someone else: it moves to their share
	}
	o := m.owner(e.Owner)
	for len(m.entries) >= m.max {
		m.evict(o, now)
	}
	n := &memNode{key: key, e: e, keep: deadline}
	m.entries[key] = n
	link(&m.lru, n)
	if o != nil {
		m.own(o, n)
	}
	return nil
}

// owner returns the record of id, creating it; nil for "" (no principal).
// A new record is not in m.owners until it owns an entry.
func (m *MemoryStore) owner(id string) *memOwner {
	if id == "" {
		return nil
	}
	if o, ok := m.owners[id]; ok {
		return o
	}
	o := &memOwner{id: id}
	o.list.oprev, o.list.onext = &o.list, &o.list
	return o
}

// evict drops one entry to make room for an entry of o (nil: no owner) at
// now. In order of preference: the store's least recently used entry if it
// is past its keep time (nobody loses anything) or belongs to a principal
// over its share (so such principals compete by recency among
// themselves), or to o at its share; then o's own least recently used
// entry if o holds its share; then an entry of the principals over their
// share, taken in turn; and only then the least recently used entry.
func (m *MemoryStore) evict(o *memOwner, now time.Time) {
	victim := m.lru.prev
	share := true
	switch to := victim.owner; {
	case now.After(victim.keep):
		share = false
	case to != nil && (to.n > m.share || to == o && to.n >= m.share):
	case o != nil && o.n >= m.share:
		victim = o.list.oprev
	case m.over.next != &m.over:
		v := m.over.next
		victim = v.list.oprev
		if v.next != &m.over {
			unring(v)
			ring(m.over.prev, v)
		}
	default:
		share = false
	}
	m.remove(victim)
	m.evicted++
	if share {
		m.shared++
	}
}

// touch makes n the most recently used entry, of the store and its owner.
func (m *MemoryStore) touch(n *memNode) {
	if m.lru.next != n {
		unlink(n)
		link(&m.lru, n)
	}
	if o := n.owner; o != nil && o.list.onext != n {
		ounlink(n)
		olink(&o.list, n)
	}
}

func (m *MemoryStore) own(o *memOwner, n *memNode) {
	if o.n == 0 {
		m.owners[o.id] = o
	}
	n.owner = o
	olink(&o.list, n)
	o.n++
	if o.n == m.share+1 {
		ring(m.over.prev, o)
	}
}

func (m *MemoryStore) remove(n *memNode) {
	delete(m.entries, n.key)
	unlink(n)
	o := n.owner
	if o == nil {
		return
	}
	ounlink(n)
	n.owner = nil
	if o.n == m.share+1 {
		unring(o)
	}
	o.n--
	if o.n == 0 {
		delete(m.owners, o.id)
	}
}

// link puts n after at in the store's list.
func link(at, n *memNode) {
	n.prev, n.next = at, at.next
	at.next.prev = n
	at.next = n
}

func unlink(n *memNode) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

// olink puts n after at in an owner's list.
func olink(at, n *memNode) {
	n.oprev, n.onext = at, at.onext
	at.onext.oprev = n
	at.onext = n
}

func ounlink(n *memNode) {
	n.oprev.onext, n.onext.oprev = n.onext, n.oprev
	n.oprev, n.onext = nil, nil
}

// ring puts o after at in the ring of owners over their share.
func ring(at, o *memOwner) {
	o.prev, o.next = at, at.next
	at.next.prev = o
	at.next = o
}

func unring(o *memOwner) {
	o.prev.next, o.next.prev = o.next, o.prev
	o.prev, o.next = nil, nil
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

// len returns the number of entries held, expired ones included.
func (m *MemoryStore) len() int {
	m.emu.Lock()
	defer m.emu.Unlock()
	return len(m.entries)
}

// principals returns the number of principals holding entries (at most
// MaxEntries).
func (m *MemoryStore) principals() int {
	m.emu.Lock()
	defer m.emu.Unlock()
	return len(m.owners)
}

// evictions returns how many entries were evicted to respect MaxEntries,
// and how many of those took an entry from a principal at or over its
// share (MemoryConfig.PrincipalShare) rather than the least recently used
// entry of the store. The cache reports both in its [Stats].
func (m *MemoryStore) evictions() (all, share uint64) {
	m.emu.Lock()
	defer m.emu.Unlock()
	return m.evicted, m.shared
}

package retry

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MemoryConfig configures [NewMemoryStore]. Every zero field means the
// default stated beside it.
type MemoryConfig struct {
	// MaxEntries bounds the number of keys kept. When the store is full,
	// expired entries go first, then the oldest completed ones (so an old
	// key replayed after that runs again); pending entries are never
	// evicted, and a claim that finds only pending entries fails with
	// ErrStoreFull. Zero means 10,000.
	MaxEntries int
	// Clock measures TTLs. Nil means the system clock.
	Clock bulwark.Clock
}

// MemoryStore is an in-process, bounded [Store]. It suits a single
// instance; several instances behind a load balancer need a shared store
// such as [RedisStore].
type MemoryStore struct {
	max   int
	clock bulwark.Clock

	mu    sync.Mutex
	items map[string]*memItem
	order *list.List // of *memItem, oldest write first
}

type memItem struct {
	key     string
	token   string
	entry   Entry
	tmpl    *mcp.CallToolResult // entry.Result decoded, once replayed
	expires time.Time
	el      *list.Element
}

// NewMemoryStore returns an empty store.
func NewMemoryStore(c MemoryConfig) (*MemoryStore, error) {
	if c.MaxEntries < 0 {
		return nil, errors.New("retry: MemoryConfig.MaxEntries must not be negative")
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 10000
	}
	return &MemoryStore{max: c.MaxEntries, clock: bulwark.ClockOr(c.Clock), items: make(map[string]*memItem), order: list.New()}, nil
}

// Claim implements [Store].
func (s *MemoryStore) Claim(_ context.Context, key, token, fingerprint string, ttl time.Duration) (Entry, bool, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it, claimed, err := s.claimLocked(now, key, token, fingerprint, ttl)
	if it != nil {
		return copyEntry(it.entry), false, nil
	}
	return Entry{}, claimed, err
}

// claimDecoded is Claim for [Idempotency]: a live completed entry comes
// with its result decoded, once per entry, for replays to copy. The
// returned Entry shares its Result with the store and must not be
// modified.
func (s *MemoryStore) claimDecoded(key, token, fingerprint string, ttl time.Duration) (Entry, *mcp.CallToolResult, bool, error) {
	now := s.clock.Now()
	s.mu.Lock()
	it, claimed, err := s.claimLocked(now, key, token, fingerprint, ttl)
	if it == nil {
		s.mu.Unlock()
		return Entry{}, nil, claimed, err
	}
	e, tmpl := it.entry, it.tmpl
	s.mu.Unlock()
	if !e.Done || tmpl != nil {
		return e, tmpl, false, nil
	}
	// Decode outside the lock. A completed entry's Result is never
	// changed in place, only replaced, so it can be read unlocked.
	tmpl, derr := decodeResult(e.Result)
	if derr != nil {
		return e, nil, false, nil // the caller decodes again and reports it
	}
	s.mu.Lock()
	if s.items[key] == it {
		it.tmpl = tmpl
	}
	s.mu.Unlock()
	return e, tmpl, false, nil
}

// claimLocked claims key, or returns the item holding it. Callers hold s.mu.
func (s *MemoryStore) claimLocked(now time.Time, key, token, fingerprint string, ttl time.Duration) (live *memItem, claimed bool, err error) {
	if it, ok := s.items[key]; ok {
		if now.Before(it.expires) {
			return it, false, nil
		}
		s.remove(it)
	}
	if len(s.items) >= s.max && !s.evict(now) {
		return nil, false, ErrStoreFull
	}
	it := &memItem{key: key, token: token, entry: Entry{Fingerprint: fingerprint}, expires: now.Add(ttl)}
	it.el = s.order.PushBack(it)
	s.items[key] = it
	return nil, true, nil
}

// evict makes room for one entry, reporting whether it could.
func (s *MemoryStore) evict(now time.Time) bool {
	for el := s.order.Front(); el != nil; {
		next := el.Next()
		it := el.Value.(*memItem)
		if !now.Before(it.expires) || it.entry.Done {
			s.remove(it)
			if len(s.items) < s.max {
				return true
			}
		}
		el = next
	}
	return len(s.items) < s.max
}

func (s *MemoryStore) remove(it *memItem) {
	s.order.Remove(it.el)
	delete(s.items, it.key)
}

// Complete implements [Store].
func (s *MemoryStore) Complete(_ context.Context, key, token string, e Entry, ttl time.Duration) error {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[key]
	if !ok || it.token != token || !now.Before(it.expires) {
		return ErrNotOwner
	}
	it.entry = copyEntry(e)
	it.tmpl = nil
	it.expires = now.Add(ttl)
	s.order.MoveToBack(it.el)
	return nil
}

// Renew implements [Renewer].
func (s *MemoryStore) Renew(_ context.Context, key, token string, ttl time.Duration) error {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[key]
	if !ok || it.token != token || it.entry.Done || !now.Before(it.expires) {
		return ErrNotOwner
	}
	it.expires = now.Add(ttl)
	return nil
}

// Release implements [Store].
func (s *MemoryStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.items[key]; ok && it.token == token && !it.entry.Done {
		s.remove(it)
	}
	return nil
}

// Len returns the number of entries held, expired ones included until they
// are found.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

func copyEntry(e Entry) Entry {
	e.Result = append([]byte(nil), e.Result...)
	return e
}

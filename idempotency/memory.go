package idempotency

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
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
	// MaxEntriesPerPrincipal bounds the keys of one principal, so that one
	// caller cannot take the whole store, nor push other callers' results
	// out of it. A principal at its bound loses its own expired entries
	// first, then its own oldest completed one (that key, replayed later,
	// runs again); when all its entries are pending, its claim fails with
	// ErrPrincipalFull ([New] refuses the call as rate limited).
	// Calls without a principal (no auth layer) share MaxEntries only.
	// Zero means a tenth of MaxEntries (1,000 by default), at least 1.
	MaxEntriesPerPrincipal int
	// Clock measures TTLs. Nil means the system clock.
	Clock bulwark.Clock
}

// MemoryStore is an in-process, bounded [Store]. It suits a single
// instance; several instances behind a load balancer need a shared store
// such as redisidem.Store or pgidem.Store.
type MemoryStore struct {
	max, perPrincipal int
	clock             bulwark.Clock

	mu     sync.Mutex
	items  map[string]*memItem
	order  *list.List            // of *memItem, oldest write first
	scopes map[string]*list.List // principal scope -> its *memItem, oldest write first
}

type memItem struct {
	key     string
	scope   string // the claiming principal's scope; "" without one
	token   string
	entry   Entry
	tmpl    *mcp.CallToolResult // entry.Result decoded, once replayed
	expires time.Time
	el      *list.Element
	scopeEl *list.Element // in scopes[scope], when scope != ""
}

// NewMemoryStore returns an empty store.
func NewMemoryStore(c MemoryConfig) (*MemoryStore, error) {
	if c.MaxEntries < 0 || c.MaxEntriesPerPrincipal < 0 {
		return nil, errors.New("idempotency: MemoryConfig.MaxEntries and MaxEntriesPerPrincipal must not be negative")
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 10000
	}
	if c.MaxEntriesPerPrincipal == 0 {
		c.MaxEntriesPerPrincipal = max(c.MaxEntries/10, 1)
	}
	return &MemoryStore{
		max: c.MaxEntries, perPrincipal: c.MaxEntriesPerPrincipal, clock: sysclock.Or(c.Clock),
		items: make(map[string]*memItem), order: list.New(), scopes: make(map[string]*list.List),
	}, nil
}

// Claim implements [Store]. Called by [New], it counts the key
// against the calling principal's bound (MaxEntriesPerPrincipal).
func (s *MemoryStore) Claim(ctx context.Context, key, token, fingerprint string, ttl time.Duration) (Entry, bool, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it, claimed, err := s.claimLocked(now, scopeFrom(ctx), key, token, fingerprint, ttl)
	if it != nil {
		e := copyEntry(it.entry)
		e.Remaining = it.expires.Sub(now)
		return e, false, nil
	}
	return Entry{}, claimed, err
}

// claimDecoded is Claim for [New]: a live completed entry comes
// with its result decoded, once per entry, for replays to copy. The
// returned Entry shares its Result with the store and must not be
// modified.
func (s *MemoryStore) claimDecoded(scope, key, token, fingerprint string, ttl time.Duration) (Entry, *mcp.CallToolResult, bool, error) {
	now := s.clock.Now()
	s.mu.Lock()
	it, claimed, err := s.claimLocked(now, scope, key, token, fingerprint, ttl)
	if it == nil {
		s.mu.Unlock()
		return Entry{}, nil, claimed, err
	}
	e, tmpl := it.entry, it.tmpl
	e.Remaining = it.expires.Sub(now)
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

// claimLocked claims key for scope, or returns the item holding it.
// Callers hold s.mu.
func (s *MemoryStore) claimLocked(now time.Time, scope, key, token, fingerprint string, ttl time.Duration) (live *memItem, claimed bool, err error) {
	if it, ok := s.items[key]; ok {
		if now.Before(it.expires) {
			return it, false, nil
		}
		s.remove(it)
	}
	if scope != "" {
		if l := s.scopes[scope]; l != nil && l.Len() >= s.perPrincipal && !s.evict(now, l, s.perPrincipal) {
			return nil, false, ErrPrincipalFull
		}
	}
	if len(s.items) >= s.max && !s.evict(now, s.order, s.max) {
		return nil, false, ErrStoreFull
	}
	it := &memItem{key: key, scope: scope, token: token, entry: Entry{Fingerprint: fingerprint}, expires: now.Add(ttl)}
	it.el = s.order.PushBack(it)
	if scope != "" {
		l := s.scopes[scope]
		if l == nil {
			l = list.New()
			s.scopes[scope] = l
		}
		it.scopeEl = l.PushBack(it)
	}
	s.items[key] = it
	return nil, true, nil
}

// evict removes entries of order (the whole store's or one scope's list)
// until it holds fewer than limit: expired ones first, then completed
// ones, oldest first; it reports whether it could.
func (s *MemoryStore) evict(now time.Time, order *list.List, limit int) bool {
	for _, done := range [...]bool{false, true} {
		for el := order.Front(); el != nil && order.Len() >= limit; {
			next := el.Next()
			if it := el.Value.(*memItem); !now.Before(it.expires) || done && it.entry.Done {
				s.remove(it)
			}
			el = next
		}
	}
	return order.Len() < limit
}

func (s *MemoryStore) remove(it *memItem) {
	s.order.Remove(it.el)
	if it.scopeEl != nil {
		l := s.scopes[it.scope]
		l.Remove(it.scopeEl)
		if l.Len() == 0 {
			delete(s.scopes, it.scope)
		}
	}
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
	if it.scopeEl != nil {
		s.scopes[it.scope].MoveToBack(it.scopeEl)
	}
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

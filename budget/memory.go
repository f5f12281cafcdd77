package budget

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultCapacity is how many counters a [MemoryStore] keeps by default.
const DefaultCapacity = 100_000

// MemoryConfig configures a [MemoryStore].
type MemoryConfig struct {
	// Capacity bounds how many counters are kept (one per session, per
	// principal and per distinct repeated call, for each kind of budget in
	// use); zero means DefaultCapacity (some 30 MB at most, with keys of
	// 100 bytes). When full the
	// least recently used counter is forgotten, which lets the calls it
	// counted start again from zero: size it above the number of sessions
	// and principals active within a window.
	Capacity int
	// Clock is the time source; nil means the system clock.
	Clock bulwark.Clock
}

// MemoryStore is the in-process [Store]: bounded, least recently used
// counters forgotten first.
type MemoryStore struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, *counter]
	clock bulwark.Clock
}

type counter struct {
	used  int64
	reset time.Time
}

// NewMemoryStore builds a MemoryStore.
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	if cfg.Capacity < 0 {
		return nil, errors.New("budget: MemoryConfig.Capacity must not be negative")
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	lru, err := simplelru.NewLRU[string, *counter](cfg.Capacity, nil)
	if err != nil {
		return nil, err
	}
	return &MemoryStore{lru: lru, clock: sysclock.Or(cfg.Clock)}, nil
}

// Take implements [Store].
func (s *MemoryStore) Take(_ context.Context, key string, n, max int64, window time.Duration) (Tally, error) {
	if window <= 0 {
		return Tally{}, errors.New("budget: a window must be positive")
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.lru.Get(key)
	if !ok || !now.Before(c.reset) {
		c = &counter{reset: now.Add(window)}
		s.lru.Add(key, c)
	}
	if c.used+n > max {
		return Tally{Used: c.used, ResetIn: c.reset.Sub(now)}, nil
	}
	c.used += n
	return Tally{Used: c.used, OK: true, ResetIn: c.reset.Sub(now)}, nil
}

// Len returns how many counters s holds.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

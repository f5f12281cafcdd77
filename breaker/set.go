package breaker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/bulwark-mcp/bulwark"
)

// Set is a registry of named breakers, so that readiness can ask which are
// open, metrics can follow their states, and one subscriber hears every
// breaker's changes. The zero value is not usable; create it with [NewSet].
type Set struct {
	mu       sync.RWMutex
	breakers map[string]*Breaker
	subs     []func(context.Context, StateChange)
}

// NewSet returns a Set holding bs. Names must be unique.
func NewSet(bs ...*Breaker) (*Set, error) {
	s := &Set{breakers: make(map[string]*Breaker)}
	if err := s.add(bs...); err != nil {
		return nil, err
	}
	return s, nil
}

// add registers breakers. It fails, adding none, if a name is already taken.
func (s *Set) add(bs ...*Breaker) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(bs))
	for _, b := range bs {
		if b == nil {
			return errors.New("breaker: nil breaker")
		}
		if _, dup := s.breakers[b.name]; dup || seen[b.name] {
			return fmt.Errorf("breaker: a breaker named %q is already registered", b.name)
		}
		seen[b.name] = true
	}
	for _, b := range bs {
		s.addLocked(b)
	}
	return nil
}

func (s *Set) addLocked(b *Breaker) {
	s.breakers[b.name] = b
	for _, fn := range s.subs {
		b.OnStateChange(fn)
	}
}

// New creates a breaker with New(name, c) and registers it.
func (s *Set) New(name string, c Config) (*Breaker, error) {
	b, err := New(name, c)
	if err != nil {
		return nil, err
	}
	if err := s.add(b); err != nil {
		return nil, err
	}
	return b, nil
}

// sorted returns the registered breakers sorted by name.
func (s *Set) sorted() []*Breaker {
	s.mu.RLock()
	out := make([]*Breaker, 0, len(s.breakers))
	for _, b := range s.breakers {
		out = append(out, b)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// States returns every breaker's current state by name.
func (s *Set) States() map[string]State {
	out := make(map[string]State)
	for _, b := range s.sorted() {
		out[b.name] = b.State()
	}
	return out
}

// OpenBreakers returns the names of the breakers that are open now, sorted.
// Half-open breakers are not included: they are already letting calls
// through. Readiness checks use this to report a degraded dependency.
func (s *Set) OpenBreakers() []string {
	var out []string
	for _, b := range s.sorted() {
		if b.State() == StateOpen {
			out = append(out, b.name)
		}
	}
	return out
}

// OnStateChange subscribes fn to the changes of every breaker in the set,
// present and future (see [Breaker.OnStateChange]).
func (s *Set) OnStateChange(fn func(ctx context.Context, c StateChange)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
	for _, b := range s.breakers {
		b.OnStateChange(fn)
	}
}

// PerTool returns a middleware that gives each registered tool its own
// breaker, named after the tool and created with c on its first call,
// then kept in the set (see [Middleware] for what it does per call). Calls
// to tools missing from bulwark's registry (see [bulwark.ToolFrom]) are
// left unguarded, so a client sending made-up tool names cannot grow the
// set. It returns New's error for an invalid c.
func (s *Set) PerTool(c Config) (bulwark.Middleware, error) {
	if _, err := New("probe", c); err != nil {
		return nil, err
	}
	return pick(func(ctx context.Context) *Breaker {
		def := bulwark.ToolFrom(ctx)
		if def == nil {
			return nil
		}
		s.mu.RLock()
		b := s.breakers[def.Name]
		s.mu.RUnlock()
		if b != nil {
			return b
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if b := s.breakers[def.Name]; b != nil {
			return b
		}
		b, _ = New(def.Name, c) // c was checked above and the name is not empty
		s.addLocked(b)
		return b
	}), nil
}

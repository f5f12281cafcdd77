package breaker

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Set is a registry of named breakers, so that readiness can ask which are
// open, metrics can follow their states, and one subscriber hears every
// breaker's changes. The zero value is not usable; create it with [NewSet].
type Set struct {
	mu       sync.RWMutex
	breakers map[string]*Breaker
	subs     []func(context.Context, Event)
}

// NewSet returns a Set holding bs. Names must be unique.
func NewSet(bs ...*Breaker) (*Set, error) {
	s := &Set{breakers: make(map[string]*Breaker)}
	if err := s.Add(bs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Add registers breakers. It fails, adding none, if a name is already taken.
func (s *Set) Add(bs ...*Breaker) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(bs))
	for _, b := range bs {
		if b == nil {
			return fmt.Errorf("breaker: Set.Add: nil breaker")
		}
		if _, dup := s.breakers[b.name]; dup || seen[b.name] {
			return fmt.Errorf("breaker: Set.Add: a breaker named %q is already registered", b.name)
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

// New creates a breaker with New(name, st) and registers it.
func (s *Set) New(name string, st Settings) (*Breaker, error) {
	b, err := New(name, st)
	if err != nil {
		return nil, err
	}
	if err := s.Add(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Get returns the named breaker, or nil.
func (s *Set) Get(name string) *Breaker {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.breakers[name]
}

// Breakers returns the registered breakers sorted by name.
func (s *Set) Breakers() []*Breaker {
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
	for _, b := range s.Breakers() {
		out[b.name] = b.State()
	}
	return out
}

// OpenBreakers returns the names of the breakers that are open now, sorted.
// Half-open breakers are not included: they are already letting calls
// through. Readiness checks use this to report a degraded dependency.
func (s *Set) OpenBreakers() []string {
	var out []string
	for _, b := range s.Breakers() {
		if b.State() == StateOpen {
			out = append(out, b.name)
		}
	}
	return out
}

// OnStateChange subscribes fn to the changes of every breaker in the set,
// present and future (see [Breaker.OnStateChange]).
func (s *Set) OnStateChange(fn func(ctx context.Context, e Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
	for _, b := range s.breakers {
		b.OnStateChange(fn)
	}
}

// PerTool returns a Picker that gives each registered tool its own breaker,
// named after the tool and created with st on its first call, then kept in
// the set. Calls to tools missing from bulwark's registry (see
// [bulwark.ToolFrom]) are left unguarded, so a client sending made-up tool
// names cannot grow the set.
func (s *Set) PerTool(st Settings) (Picker, error) {
	if _, err := New("probe", st); err != nil {
		return nil, err
	}
	return PickerFunc(func(ctx context.Context, _ *mcp.CallToolRequest) *Breaker {
		def := bulwark.ToolFrom(ctx)
		if def == nil {
			return nil
		}
		if b := s.Get(def.Name); b != nil {
			return b
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if b := s.breakers[def.Name]; b != nil {
			return b
		}
		b, err := New(def.Name, st)
		if err != nil {
			return nil // unreachable: st was validated above and the name is not empty
		}
		s.addLocked(b)
		return b
	}), nil
}

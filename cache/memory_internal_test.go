package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
)

// check verifies the store's bookkeeping: the list holds exactly the
// entries, each owner's list exactly its entries, and the ring exactly the
// owners over their share.
func (m *MemoryStore) check(t *testing.T) {
	t.Helper()
	m.emu.Lock()
	defer m.emu.Unlock()
	n := 0
	for e := m.lru.next; e != &m.lru; e = e.next {
		if m.entries[e.key] != e {
			t.Fatalf("listed entry %q is not in the map", e.key)
		}
		n++
	}
	if n != len(m.entries) || n > m.max {
		t.Fatalf("list holds %d, map %d, bound %d", n, len(m.entries), m.max)
	}
	owned := 0
	over := map[*memOwner]bool{}
	for o := m.over.next; o != &m.over; o = o.next {
		over[o] = true
	}
	for id, o := range m.owners {
		k := 0
		for e := o.list.onext; e != &o.list; e = e.onext {
			if e.owner != o || m.entries[e.key] != e {
				t.Fatalf("owner %s lists a foreign or dropped entry %q", id, e.key)
			}
			k++
		}
		if k != o.n || k == 0 {
			t.Fatalf("owner %s counts %d, lists %d", id, o.n, k)
		}
		if over[o] != (o.n > m.share) {
			t.Fatalf("owner %s holds %d (share %d), in ring %v", id, o.n, m.share, over[o])
		}
		delete(over, o)
		owned += k
	}
	if len(over) != 0 {
		t.Fatalf("%d owners in the ring hold no entries", len(over))
	}
	for _, e := range m.entries {
		if e.owner != nil {
			owned--
		}
	}
	if owned != 0 {
		t.Fatalf("owner lists and entries disagree by %d", owned)
	}
}

// TestMemoryStoreBookkeeping runs random operations and checks the
// bookkeeping after each.
func TestMemoryStoreBookkeeping(t *testing.T) {
	ctx := context.Background()
	clock := bulwarktest.NewFakeClock(time.Time{})
	for _, share := range []int{1, 3, 8, 20} {
		m, err := NewMemoryStore(MemoryConfig{MaxEntries: 20, PrincipalShare: share, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(share), 1))
		for range 5000 {
			key := fmt.Sprint(rng.IntN(60))
			switch rng.IntN(4) {
			case 0:
				m.Get(ctx, key)
			case 1:
				clock.Advance(time.Duration(rng.IntN(10)) * time.Second)
			default:
				owner := ""
				if p := rng.IntN(6); p > 0 {
					owner = fmt.Sprint("p", p)
				}
				m.Set(ctx, key, Entry{Owner: owner}, time.Duration(rng.IntN(60))*time.Second)
			}
			m.check(t)
		}
	}
}

package rediscache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
)

// go-redis sends a command again when its reply is lost (a read timeout,
// a dropped connection). A retried owner script must name the same entries
// over the cap as the first run did, or the entries it named are never
// deleted: here the first run's reply is lost, Set runs the script again,
// and the oldest entry still goes.
func TestRetriedOwnerScriptDropsTheSameEntries(t *testing.T) {
	ctx := context.Background()
	client := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, err := New(client, Config{Prefix: prefix, PerPrincipal: 2})
	if err != nil {
		t.Fatal(err)
	}
	key := func(i int) string { return fmt.Sprintf("%064x", i) }
	entry := cache.Entry{Value: []byte(`{}`), Owner: "o1", Stored: time.Now(), Expires: time.Now()}
	for i := 0; i < 2; i++ {
		if err := s.Set(ctx, key(i), entry, time.Duration(i+1)*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// The first run of the third entry's script, whose reply is lost.
	now := time.Now()
	first, err := ownerScript.Eval(ctx, client, []string{prefix + "o:o1"},
		key(2), now.Add(3*time.Minute).UnixMilli(), now.UnixMilli(), 2, genMargin.Milliseconds()).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(first) != fmt.Sprint([]string{key(0)}) {
		t.Fatalf("first run named %v, want the oldest entry", first)
	}
	// The retry.
	if err := s.Set(ctx, key(2), entry, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	var kept []int
	for i := 0; i < 3; i++ {
		if _, ok, err := s.Get(ctx, key(i)); err != nil {
			t.Fatal(err)
		} else if ok {
			kept = append(kept, i)
		}
	}
	if fmt.Sprint(kept) != "[1 2]" || s.ShareEvictions() != 1 {
		t.Fatalf("kept %v with %d share evictions; want [1 2] and 1", kept, s.ShareEvictions())
	}
	if n := client.ZCard(ctx, prefix+"o:o1").Val(); n != 2 {
		t.Fatalf("owner set holds %d entries, want 2", n)
	}
}

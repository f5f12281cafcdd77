// Package audittest is the conformance suite every audit.ErasureKeys
// implementation passes: one key per subject under concurrent first use,
// keys of different subjects apart, destruction that makes a key
// unreadable (audit.ErrKeyDestroyed) without wiping copies handed out
// earlier, and a fresh key for a subject after its purge.
package audittest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
)

// Run runs the conformance suite of audit.ErasureKeys against the key
// store newKeys makes (one per run, empty).
func Run(t *testing.T, newKeys func(t *testing.T) audit.ErasureKeys) {
	ks := newKeys(t)
	ctx := context.Background()
	// Concurrent first use of one subject yields one key.
	ids := make([]string, 16)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, key, err := ks.SubjectKey(ctx, "alice")
			if err != nil || len(key) != 32 {
				t.Errorf("SubjectKey: %v (key %d bytes)", err, len(key))
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one subject got several keys: %v", ids)
		}
	}
	aliceKey, err := ks.Key(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	bobID, bobKey, err := ks.SubjectKey(ctx, "bob")
	if err != nil || bobID == ids[0] || bytes.Equal(bobKey, aliceKey) {
		t.Fatalf("bob shares alice's key or failed: %v", err)
	}
	destroyed, err := ks.Destroy(ctx, "alice")
	if err != nil || len(destroyed) != 1 || destroyed[0] != ids[0] {
		t.Fatalf("Destroy = %v, %v", destroyed, err)
	}
	if _, err := ks.Key(ctx, ids[0]); !errors.Is(err, audit.ErrKeyDestroyed) {
		t.Fatalf("destroyed key still readable: %v", err)
	}
	if !bytes.Equal(aliceKey, aliceKey[:32]) || bytes.Equal(aliceKey, make([]byte, 32)) {
		t.Fatal("a key handed out earlier was wiped")
	}
	if k, err := ks.Key(ctx, bobID); err != nil || !bytes.Equal(k, bobKey) {
		t.Fatalf("bob's key lost: %v", err)
	}
	if ids, err := ks.Destroy(ctx, "nobody"); err != nil || len(ids) != 0 {
		t.Fatalf("Destroy(nobody) = %v, %v", ids, err)
	}
	newID, _, err := ks.SubjectKey(ctx, "alice")
	if err != nil || newID == ids[0] {
		t.Fatalf("alice after purge: %q, %v", newID, err)
	}
}

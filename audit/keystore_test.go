package audit_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
)

// testKeyStore is the contract every KeyStore meets.
func testKeyStore(t *testing.T, ks audit.KeyStore) {
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

func TestMemoryKeyStore(t *testing.T) {
	testKeyStore(t, audit.NewMemoryKeyStore())
	var zero audit.MemoryKeyStore
	testKeyStore(t, &zero)
}

func TestPostgresKeyStore(t *testing.T) {
	pool := newPool(t)
	ks, err := audit.NewPostgresKeyStore(pool, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	testKeyStore(t, ks)
}

func TestPostgresConcurrentWriters(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	sink := migratedSink(t, pool, "")
	l := newLogger(t, sink, audit.Config{})
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if err := l.Log(ctx, &audit.Record{Tool: "t"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := sink.Verify(ctx, testKey, true)
	if err != nil || rep.Records != 1+64*5+1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

func TestPostgresWriteBatchIsIdempotent(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	sink := migratedSink(t, pool, "")
	// Sign three records without storing them, then store them twice.
	var recs []*audit.Record
	collect := namedSink{audit.SinkFunc(func(_ context.Context, r *audit.Record) error { recs = append(recs, r); return nil }), sink.Instance()}
	l := newLogger(t, collect, audit.Config{})
	for _, tool := range []string{"a", "b", "c"} {
		if err := l.Log(ctx, &audit.Record{Tool: tool}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := sink.WriteBatch(ctx, recs); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if err := sink.Write(ctx, recs[1]); err != nil {
			t.Fatalf("single write %d: %v", i, err)
		}
	}
	// A different record under a taken sequence number is refused.
	other := newLogger(t, collect, audit.Config{})
	if err := other.Log(ctx, &audit.Record{Tool: "intruder"}); err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteBatch(ctx, recs[3:]); err == nil {
		t.Fatal("conflicting batch accepted")
	}
	if err := sink.Write(ctx, recs[4]); err == nil {
		t.Fatal("conflicting record accepted")
	}
	if rep, err := sink.Verify(ctx, testKey, false); err != nil || rep.Records != 4 {
		t.Fatalf("report %+v %v", rep, err)
	}
}

// namedSink is a sink that writes the chain of one instance of a shared
// trail, like a PostgresSink.
type namedSink struct {
	audit.SinkFunc
	name string
}

func (s namedSink) Instance() string { return s.name }

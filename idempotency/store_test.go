package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/idempotencytest"
)

func TestMemoryStore(t *testing.T) {
	var clk *bulwarktest.FakeClock
	idempotencytest.Run(t, idempotencytest.Harness{
		New: func(t *testing.T) idempotency.Store {
			clk = bulwarktest.NewFakeClock(time.Time{})
			s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Advance: func(d time.Duration) { clk.Advance(d) },
	})
}

func TestMemoryStoreBound(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	if _, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: -1}); err == nil {
		t.Fatal("negative MaxEntries accepted")
	}
	s, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 2, Clock: clk})
	ctx := context.Background()
	s.Claim(ctx, "a", "t", "fp", time.Minute)
	s.Claim(ctx, "b", "t", "fp", time.Minute)
	if _, _, err := s.Claim(ctx, "c", "t", "fp", time.Minute); !errors.Is(err, idempotency.ErrStoreFull) {
		t.Fatalf("full of pending entries: %v, want ErrStoreFull", err)
	}
	// A completed entry makes way.
	if err := s.Complete(ctx, "a", "t", idempotency.Entry{Fingerprint: "fp", Done: true}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Claim(ctx, "c", "t", "fp", time.Minute); err != nil || !ok {
		t.Fatalf("claim after a completed entry could be evicted: %v %v", ok, err)
	}
	// So does an expired one.
	clk.Advance(time.Minute)
	if _, ok, err := s.Claim(ctx, "d", "t", "fp", time.Minute); err != nil || !ok {
		t.Fatalf("claim after expiry: %v %v", ok, err)
	}
	if s.Len() > 2 {
		t.Fatalf("store holds %d entries, bound 2", s.Len())
	}
}

// A full store drops an expired entry before the oldest completed one,
// whose key would otherwise run again on replay.
func TestMemoryStoreEvictsExpiredFirst(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	s, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 3, Clock: clk})
	ctx := context.Background()
	done := idempotency.Entry{Fingerprint: "fp", Done: true, Result: []byte(`{}`)}
	s.Claim(ctx, "a", "t", "fp", time.Minute)
	if err := s.Complete(ctx, "a", "t", done, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.Claim(ctx, "b", "t", "fp", time.Minute) // pending, expires first
	s.Claim(ctx, "c", "t", "fp", time.Hour)
	clk.Advance(2 * time.Minute)
	if _, ok, err := s.Claim(ctx, "d", "t", "fp", time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if e, ok, _ := s.Claim(ctx, "a", "t2", "fp", time.Minute); ok || !e.Done {
		t.Fatal("the completed entry was evicted while an expired one was kept")
	}
}

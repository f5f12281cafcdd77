package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/retry/retrytest"
)

func TestMemoryStore(t *testing.T) {
	var clk *bulwarktest.FakeClock
	retrytest.TestStore(t, retrytest.Harness{
		New: func(t *testing.T) retry.Store {
			clk = bulwarktest.NewFakeClock(time.Time{})
			s, err := retry.NewMemoryStore(retry.MemoryConfig{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Advance: func(d time.Duration) { clk.Advance(d) },
	})
}

func newRedisStore(t *testing.T) *retry.RedisStore {
	t.Helper()
	s, err := retry.NewRedisStore(testenv.NewRedis(t), testenv.RedisPrefix(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedisStore(t *testing.T) {
	retrytest.TestStore(t, retrytest.Harness{
		New: func(t *testing.T) retry.Store { return newRedisStore(t) },
	})
}

// Redis expiry runs on the server's clock: check that claims and results
// carry the TTLs they were given.
func TestRedisStoreSetsTTL(t *testing.T) {
	rdb := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, _ := retry.NewRedisStore(rdb, prefix)
	ctx := context.Background()
	if _, ok, err := s.Claim(ctx, "k", "tok", "fp", 90*time.Second); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ttl := rdb.PTTL(ctx, prefix+"k").Val(); ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("pending TTL %v, want about 90s", ttl)
	}
	if err := s.Complete(ctx, "k", "tok", retry.Entry{Fingerprint: "fp", Done: true, Result: []byte(`{"a":1}`)}, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, prefix+"k").Val(); ttl <= 2*time.Hour || ttl > 3*time.Hour {
		t.Fatalf("result TTL %v, want about 3h", ttl)
	}
	// A corrupted value is an error, not a panic or a silent claim.
	rdb.Set(ctx, prefix+"bad", "garbage", time.Minute)
	if _, ok, err := s.Claim(ctx, "bad", "tok", "fp", time.Minute); err == nil || ok {
		t.Fatalf("corrupt entry: ok=%v err=%v", ok, err)
	}
	if _, err := retry.NewRedisStore(nil, ""); err == nil {
		t.Fatal("nil client accepted")
	}
}

func TestMemoryStoreBound(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	if _, err := retry.NewMemoryStore(retry.MemoryConfig{MaxEntries: -1}); err == nil {
		t.Fatal("negative MaxEntries accepted")
	}
	s, _ := retry.NewMemoryStore(retry.MemoryConfig{MaxEntries: 2, Clock: clk})
	ctx := context.Background()
	s.Claim(ctx, "a", "t", "fp", time.Minute)
	s.Claim(ctx, "b", "t", "fp", time.Minute)
	if _, _, err := s.Claim(ctx, "c", "t", "fp", time.Minute); !errors.Is(err, retry.ErrStoreFull) {
		t.Fatalf("full of pending entries: %v, want ErrStoreFull", err)
	}
	// A completed entry makes way.
	if err := s.Complete(ctx, "a", "t", retry.Entry{Fingerprint: "fp", Done: true}, time.Hour); err != nil {
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

// Renew sets the pending TTL again on the server.
func TestRedisStoreRenewSetsTTL(t *testing.T) {
	rdb := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, _ := retry.NewRedisStore(rdb, prefix)
	ctx := context.Background()
	if _, ok, err := s.Claim(ctx, "k", "tok", "fp", 10*time.Second); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := s.Renew(ctx, "k", "tok", 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, prefix+"k").Val(); ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("renewed TTL %v, want about 90s", ttl)
	}
}

// A full store drops an expired entry before the oldest completed one,
// whose key would otherwise run again on replay.
func TestMemoryStoreEvictsExpiredFirst(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	s, _ := retry.NewMemoryStore(retry.MemoryConfig{MaxEntries: 3, Clock: clk})
	ctx := context.Background()
	done := retry.Entry{Fingerprint: "fp", Done: true, Result: []byte(`{}`)}
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

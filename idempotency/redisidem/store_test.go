package redisidem_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/idempotencytest"
	"github.com/bulwark-mcp/bulwark/idempotency/redisidem"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
)

func newRedisStore(t *testing.T) *redisidem.Store {
	t.Helper()
	s, err := redisidem.New(testenv.NewRedis(t), redisidem.Config{Prefix: testenv.RedisPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedisStore(t *testing.T) {
	idempotencytest.Run(t, idempotencytest.Harness{
		New: func(t *testing.T) idempotency.Store { return newRedisStore(t) },
	})
}

// Redis expiry runs on the server's clock: check that claims and results
// carry the TTLs they were given.
func TestRedisStoreSetsTTL(t *testing.T) {
	rdb := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, _ := redisidem.New(rdb, redisidem.Config{Prefix: prefix})
	ctx := context.Background()
	if _, ok, err := s.Claim(ctx, "k", "tok", "fp", 90*time.Second); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ttl := rdb.PTTL(ctx, prefix+"k").Val(); ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("pending TTL %v, want about 90s", ttl)
	}
	if err := s.Complete(ctx, "k", "tok", idempotency.Entry{Fingerprint: "fp", Done: true, Result: []byte(`{"a":1}`)}, 3*time.Hour); err != nil {
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
	if _, err := redisidem.New(nil, redisidem.Config{}); err == nil {
		t.Fatal("nil client accepted")
	}
}

// Renew sets the pending TTL again on the server.
func TestRedisStoreRenewSetsTTL(t *testing.T) {
	rdb := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, _ := redisidem.New(rdb, redisidem.Config{Prefix: prefix})
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

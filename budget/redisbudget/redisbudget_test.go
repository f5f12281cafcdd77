package redisbudget_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/budget"
	"github.com/bulwark-mcp/bulwark/budget/budgettest"
	"github.com/bulwark-mcp/bulwark/budget/redisbudget"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
)

func TestConformance(t *testing.T) {
	budgettest.RunStore(t, func(t *testing.T) budget.Store {
		s, err := redisbudget.New(testenv.NewRedis(t), redisbudget.Config{Prefix: testenv.RedisPrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestExpires(t *testing.T) {
	s, _ := redisbudget.New(testenv.NewRedis(t), redisbudget.Config{Prefix: testenv.RedisPrefix(t)})
	ctx := context.Background()
	if u, _ := s.Take(ctx, "k", 1, 1, 50*time.Millisecond); !u.OK {
		t.Fatal(u)
	}
	if u, _ := s.Take(ctx, "k", 1, 1, 50*time.Millisecond); u.OK {
		t.Fatal("over max")
	}
	// Redis keeps the window on its own clock: wait for the key to expire.
	deadline := time.Now().Add(5 * time.Second)
	for {
		u, err := s.Take(ctx, "k", 1, 1, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if u.OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the counter never expired")
		}
		<-time.After(10 * time.Millisecond)
	}
}

func TestRedisDown(t *testing.T) {
	// A proxy the test owns, cut: the store's error reaches the Ledger,
	// which lets the call through uncounted.
	addr := testenv.RedisAddr(t)
	p, err := bulwarktest.StartProxy("127.0.0.1:0", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	client := newClient(p.Addr())
	defer client.Close()
	s, _ := redisbudget.New(client, redisbudget.Config{Prefix: testenv.RedisPrefix(t)})
	p.Cut()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Take(ctx, "k", 1, 1, time.Minute); err == nil {
		t.Fatal("no error with Redis cut off")
	}
}

func TestNewRefusesNil(t *testing.T) {
	if _, err := redisbudget.New(nil, redisbudget.Config{}); err == nil {
		t.Fatal("nil client accepted")
	}
}

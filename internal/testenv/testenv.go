// Package testenv gives bulwark's own tests the local PostgreSQL and Redis.
//
// A test that needs a service calls one of these helpers first. When the
// service does not answer, the test is skipped with a message saying how to
// start it, unless BULWARK_REQUIRE_SERVICES=1 (set by .ci/run), in which
// case it fails: integration tests can never silently skip in CI.
//
// Addresses come from BULWARK_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) and
// BULWARK_TEST_REDIS_ADDR (default 127.0.0.1:6379).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// DefaultDatabaseURL is the local PostgreSQL of development and CI machines.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultRedisAddr is the local Redis of development and CI machines.
const DefaultRedisAddr = "127.0.0.1:6379"

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv("BULWARK_REQUIRE_SERVICES") == "1" }

func unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("%s is not reachable (%v); start it (see README) or unset the test", what, err)
	if Required() {
		tb.Fatalf("BULWARK_REQUIRE_SERVICES=1: %s", msg)
	}
	tb.Skip(msg)
}

// PostgresURL returns the admin URL of the local PostgreSQL, after checking
// that it answers.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("BULWARK_TEST_DATABASE_URL")
	if u == "" {
		u = DefaultDatabaseURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		unavailable(tb, "PostgreSQL", err)
		return ""
	}
	defer conn.Close(context.Background())
	if err := conn.Ping(ctx); err != nil {
		unavailable(tb, "PostgreSQL", err)
	}
	return u
}

// NewDatabase creates a fresh, empty database for the test and returns its
// URL. The database is dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := PostgresURL(tb)
	name := "bulwark_test_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("testenv: connect: %v", err)
	}
	defer conn.Close(context.Background())
	// CREATE DATABASE takes no parameters; the name is generated here, not
	// taken from input, and quoted as an identifier.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("testenv: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("testenv: parse %q: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

// RedisAddr returns the address of the local Redis, after checking that it
// answers.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv("BULWARK_TEST_REDIS_ADDR")
	if addr == "" {
		addr = DefaultRedisAddr
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(tb, "Redis", err)
	}
	return addr
}

// RedisPrefix returns a key prefix unique to this test (ending in ":"). Keys
// under it are deleted when the test ends.
func RedisPrefix(tb testing.TB) string {
	tb.Helper()
	addr := RedisAddr(tb)
	prefix := "bulwark-test:" + sanitize(tb.Name()) + ":" + randomHex(4) + ":"
	tb.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}

// NewRedis returns a client of the local Redis, closed when the test ends.
// Use RedisPrefix for the keys the test writes.
func NewRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: RedisAddr(tb)})
	tb.Cleanup(func() { c.Close() })
	return c
}

var randMu sync.Mutex

func randomHex(n int) string {
	randMu.Lock()
	defer randMu.Unlock()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

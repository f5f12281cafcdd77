// Package redisbudget keeps the counters of budget.Ledger in Redis, so every
// instance of a server behind a load balancer counts the same loops and
// budgets.
//
// # What it does
//
// [Store] implements budget.Store with one Lua script per Take: the check,
// the addition and the expiry of a counter are one atomic step, and the
// window runs on the Redis server's clock (a counter is a key that expires
// window after the call that created it).
//
// # Where it sits
//
// Behind budget.Ledger, in place of its memory store:
//
//	store, err := redisbudget.New(rdb, redisbudget.Config{Prefix: "myserver:budget:"})
//	if err != nil { return err }
//	ledger, err := budget.New(budget.Config{Store: store, Session: budget.Allowance{Calls: 500}})
//
// # On failure
//
// Take returns Redis's error; the Ledger then lets the call go ahead
// uncounted and says so (budget.FieldRefused "store", Stats.StoreErrors).
package redisbudget

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-mcp/bulwark/budget"
	"github.com/redis/go-redis/v9"
)

// Config configures a [Store].
type Config struct {
	// Prefix starts every key the store writes; empty means
	// "bulwark:budget:".
	Prefix string
}

// Store is a budget.Store in Redis. It is safe for concurrent use.
type Store struct {
	client redis.Scripter
	prefix string
}

// New returns a Store that uses client (a *redis.Client, a cluster client
// or a ring).
func New(client redis.Scripter, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisbudget: nil client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "bulwark:budget:"
	}
	return &Store{client: client, prefix: cfg.Prefix}, nil
}

// take: KEYS[1] the counter; ARGV n, max, window in milliseconds. Returns
// {used, granted (0/1), milliseconds until reset}.
var take = redis.NewScript(`
local n = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
local used = 0
if ttl > 0 then
  used = tonumber(redis.call('GET', KEYS[1]) or '0')
else
  ttl = win
end
if used + n > max then
  return {used, 0, ttl}
end
if used == 0 then
  redis.call('SET', KEYS[1], n, 'PX', win)
  return {n, 1, win}
end
return {redis.call('INCRBY', KEYS[1], n), 1, ttl}
`)

// Take implements budget.Store.
func (s *Store) Take(ctx context.Context, key string, n, max int64, window time.Duration) (budget.Tally, error) {
	if window < time.Millisecond {
		return budget.Tally{}, errors.New("redisbudget: a window must be at least a millisecond")
	}
	vals, err := take.Run(ctx, s.client, []string{s.prefix + key}, n, max, window.Milliseconds()).Int64Slice()
	if err != nil {
		return budget.Tally{}, err
	}
	if len(vals) != 3 {
		return budget.Tally{}, errors.New("redisbudget: unexpected reply from the script")
	}
	return budget.Tally{Used: vals[0], OK: vals[1] == 1, ResetIn: time.Duration(vals[2]) * time.Millisecond}, nil
}

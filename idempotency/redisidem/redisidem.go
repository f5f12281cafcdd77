package redisidem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/redis/go-redis/v9"
)

// Store is an [idempotency.Store] in Redis, shared by every instance that uses the
// same client and prefix. A claim is one SET NX PX of a pending marker;
// completing and releasing are scripts that act only while the caller's
// token still holds the key, so a call whose claim expired cannot
// overwrite the entry of the call that claimed the key after it. Expiry
// runs on the Redis server's clock.
//
// Keys are bounded in time, not in number: each lives for its TTL
// (idempotency.Config's TTL and PendingTTL) and is then removed by Redis, so one
// principal holds at most as many keys as it makes calls with keys within
// a TTL, which its rate limit bounds; there is no per-principal count.
// What happens when Redis reaches its maxmemory is Redis's policy: with
// noeviction (Redis's default) claims fail and the layer refuses calls
// as unavailable, losing nothing; with an eviction policy Redis drops
// keys, and a key dropped before its TTL can run again.
//
// Key layout: one string key per idempotency key, prefix + the hex SHA-256
// of (principal, tool, key), holding the owning token, a newline, 'p' or
// 'd' and the entry as JSON, with a PX expiry. Every command and script
// touches that one key, so the store works on Redis Cluster without hash
// tags (see "Redis Cluster" in the package documentation).
type Store struct {
	c      redis.UniversalClient
	prefix string
}

// Config configures [New]. Every zero field means the default stated
// beside it.
type Config struct {
	// Prefix is put before every key. Empty means "bulwark:idempotency:".
	Prefix string
}

// New returns a store using c.
func New(c redis.UniversalClient, cfg Config) (*Store, error) {
	if c == nil {
		return nil, errors.New("redisidem: nil client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "bulwark:idempotency:"
	}
	return &Store{c: c, prefix: cfg.Prefix}, nil
}

// A value is the owning token, a newline, 'p' (pending) or 'd' (done),
// then the entry as JSON.
type redisEntry struct {
	Fingerprint string          `json:"f"`
	Result      json.RawMessage `json:"r,omitempty"`
}

func encodeRedis(token string, e idempotency.Entry) (string, error) {
	if strings.ContainsRune(token, '\n') {
		return "", errors.New("redisidem: token must not contain a newline")
	}
	re := redisEntry{Fingerprint: e.Fingerprint}
	if len(e.Result) > 0 {
		if !json.Valid(e.Result) {
			return "", errors.New("redisidem: Entry.Result is not JSON")
		}
		re.Result = e.Result
	}
	b, err := json.Marshal(re)
	if err != nil {
		return "", err
	}
	state := "p"
	if e.Done {
		state = "d"
	}
	return token + "\n" + state + string(b), nil
}

func decodeRedis(v string) (idempotency.Entry, error) {
	i := strings.IndexByte(v, '\n')
	if i < 0 || len(v) < i+2 {
		return idempotency.Entry{}, errors.New("redisidem: malformed idempotency entry in Redis")
	}
	var re redisEntry
	if err := json.Unmarshal([]byte(v[i+2:]), &re); err != nil {
		return idempotency.Entry{}, fmt.Errorf("redisidem: malformed idempotency entry in Redis: %w", err)
	}
	e := idempotency.Entry{Fingerprint: re.Fingerprint, Done: v[i+1] == 'd'}
	if len(re.Result) > 0 {
		e.Result = []byte(re.Result)
	}
	return e, nil
}

func px(ttl time.Duration) time.Duration {
	if ttl < time.Millisecond {
		return time.Millisecond
	}
	return ttl
}

// claimScript sets KEYS[1] to ARGV[1] for ARGV[2] milliseconds unless it
// exists, returning 1, or else returns the live value and its remaining
// time in milliseconds. A script runs atomically, so the entry cannot
// expire between the failed claim and the read.
var claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
`)

// Claim implements [idempotency.Store].
func (s *Store) Claim(ctx context.Context, key, token, fingerprint string, ttl time.Duration) (idempotency.Entry, bool, error) {
	val, err := encodeRedis(token, idempotency.Entry{Fingerprint: fingerprint})
	if err != nil {
		return idempotency.Entry{}, false, err
	}
	r, err := claimScript.Run(ctx, s.c, []string{s.prefix + key}, val, px(ttl).Milliseconds()).Result()
	if err != nil {
		return idempotency.Entry{}, false, err
	}
	live, ok := r.([]any)
	if !ok {
		return idempotency.Entry{}, true, nil
	}
	v, _ := live[0].(string)
	pttl, _ := live[1].(int64)
	e, err := decodeRedis(v)
	if err != nil {
		return idempotency.Entry{}, false, err
	}
	if pttl > 0 {
		e.Remaining = time.Duration(pttl) * time.Millisecond
	}
	return e, false, nil
}

// ownerScript acts on an entry only while the caller's token owns it.
// ARGV[1] is the token, ARGV[2] the action: "complete" (ARGV[3] the new
// value, ARGV[4] its TTL in milliseconds), or, for a pending entry only,
// "renew" (ARGV[3] the TTL) or "release". It returns 1 when it acted.
var ownerScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local i = string.find(v, '\n', 1, true)
if not i or string.sub(v, 1, i - 1) ~= ARGV[1] then return 0 end
if ARGV[2] == 'complete' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
if string.sub(v, i + 1, i + 1) ~= 'p' then return 0 end
if ARGV[2] == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
`)

// owned runs ownerScript, reporting idempotency.ErrNotOwner when it did not act.
func (s *Store) owned(ctx context.Context, key, token string, args ...any) error {
	n, err := ownerScript.Run(ctx, s.c, []string{s.prefix + key}, append([]any{token}, args...)...).Int()
	if err != nil {
		return err
	}
	if n != 1 {
		return idempotency.ErrNotOwner
	}
	return nil
}

// Renew implements [idempotency.Renewer].
func (s *Store) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	return s.owned(ctx, key, token, "renew", px(ttl).Milliseconds())
}

// Complete implements [idempotency.Store].
func (s *Store) Complete(ctx context.Context, key, token string, e idempotency.Entry, ttl time.Duration) error {
	val, err := encodeRedis(token, e)
	if err != nil {
		return err
	}
	return s.owned(ctx, key, token, "complete", val, px(ttl).Milliseconds())
}

// Release implements [idempotency.Store].
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := s.owned(ctx, key, token, "release"); err != nil && err != idempotency.ErrNotOwner {
		return err
	}
	return nil
}

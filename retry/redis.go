package retry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a [Store] in Redis, shared by every instance that uses the
// same client and prefix. A claim is one SET NX PX of a pending marker;
// completing and releasing are scripts that act only while the caller's
// token still holds the key, so a call whose claim expired cannot
// overwrite the entry of the call that claimed the key after it. Expiry
// runs on the Redis server's clock.
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// DefaultRedisPrefix is the key prefix when none is given.
const DefaultRedisPrefix = "bulwark:idempotency:"

// NewRedisStore returns a store using c, with keys under prefix ("" means
// DefaultRedisPrefix).
func NewRedisStore(c redis.UniversalClient, prefix string) (*RedisStore, error) {
	if c == nil {
		return nil, errors.New("retry: NewRedisStore: nil client")
	}
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &RedisStore{c: c, prefix: prefix}, nil
}

// A value is the owning token, a newline, 'p' (pending) or 'd' (done),
// then the entry as JSON.
type redisEntry struct {
	Fingerprint string          `json:"f"`
	Result      json.RawMessage `json:"r,omitempty"`
}

func encodeRedis(token string, e Entry) (string, error) {
	if strings.ContainsRune(token, '\n') {
		return "", errors.New("retry: token must not contain a newline")
	}
	re := redisEntry{Fingerprint: e.Fingerprint}
	if len(e.Result) > 0 {
		if !json.Valid(e.Result) {
			return "", errors.New("retry: Entry.Result is not JSON")
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

func decodeRedis(v string) (Entry, error) {
	i := strings.IndexByte(v, '\n')
	if i < 0 || len(v) < i+2 {
		return Entry{}, errors.New("retry: malformed idempotency entry in Redis")
	}
	var re redisEntry
	if err := json.Unmarshal([]byte(v[i+2:]), &re); err != nil {
		return Entry{}, fmt.Errorf("retry: malformed idempotency entry in Redis: %w", err)
	}
	e := Entry{Fingerprint: re.Fingerprint, Done: v[i+1] == 'd'}
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

// Claim implements [Store].
func (s *RedisStore) Claim(ctx context.Context, key, token, fingerprint string, ttl time.Duration) (Entry, bool, error) {
	val, err := encodeRedis(token, Entry{Fingerprint: fingerprint})
	if err != nil {
		return Entry{}, false, err
	}
	k := s.prefix + key
	// The entry can expire between a failed SET NX and the GET: try again.
	for i := 0; i < 3; i++ {
		ok, err := s.c.SetNX(ctx, k, val, px(ttl)).Result()
		if err != nil {
			return Entry{}, false, err
		}
		if ok {
			return Entry{}, true, nil
		}
		v, err := s.c.Get(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return Entry{}, false, err
		}
		e, err := decodeRedis(v)
		return e, false, err
	}
	return Entry{}, false, errors.New("retry: idempotency key kept expiring during a claim")
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

// owned runs ownerScript, reporting ErrNotOwner when it did not act.
func (s *RedisStore) owned(ctx context.Context, key, token string, args ...any) error {
	n, err := ownerScript.Run(ctx, s.c, []string{s.prefix + key}, append([]any{token}, args...)...).Int()
	if err != nil {
		return err
	}
	if n != 1 {
		return ErrNotOwner
	}
	return nil
}

// Renew implements [Renewer].
func (s *RedisStore) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	return s.owned(ctx, key, token, "renew", px(ttl).Milliseconds())
}

// Complete implements [Store].
func (s *RedisStore) Complete(ctx context.Context, key, token string, e Entry, ttl time.Duration) error {
	val, err := encodeRedis(token, e)
	if err != nil {
		return err
	}
	return s.owned(ctx, key, token, "complete", val, px(ttl).Milliseconds())
}

// Release implements [Store].
func (s *RedisStore) Release(ctx context.Context, key, token string) error {
	if err := s.owned(ctx, key, token, "release"); err != nil && err != ErrNotOwner {
		return err
	}
	return nil
}

package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a [Store] in Redis, so that several instances of a server
// share cached results and every instance sees every invalidation (the
// generation counters live in Redis too).
//
// Layout under the prefix: "e:<key>" holds an entry (binary header plus
// the result's JSON, with a PX expiry of its keep time); "g:<sha256(tag)>"
// holds a tag's generation; "gseq" is the counter generations are drawn
// from. Tags are hashed, so record IDs in tags do not appear in Redis key
// names.
//
// Invalidation relies on the generation keys outliving the entries they
// guard, so two rules keep stale entries from coming back: every instance
// sharing a prefix uses the same Settings.MaxTTL and StaleFor (a write on
// an instance with shorter ones would remember its generation for less
// time than another instance keeps entries), and Redis does not evict
// keys for memory (maxmemory-policy noeviction, or enough memory): an
// evicted generation key reads as zero again.
//
// Redis decides evictions for memory itself, so the store cannot give
// principals a share of a full store the way [MemoryStore] does. It can
// cap what each principal holds: with [RedisPerPrincipal](n), each
// principal (by [Entry].Owner) keeps at most n entries, and storing one
// more drops its entries that expire soonest. The cap costs a miss one
// atomic script on a sorted set per principal ("o:<owner>", members are
// entry keys scored by when they expire), sent in the same round trip as
// the entry; hits cost nothing more. It is off by default; without it what
// one principal can store is bounded by its rate limit and the entries'
// keep time (see the package documentation, "Sharing the store between
// principals").
//
// Redis failures are returned as errors; the cache counts them and treats
// the call as a miss (fail open). Bound how long a call can wait for a
// sick Redis with the client's DialTimeout, ReadTimeout and WriteTimeout.
// Only single-key commands and pipelines are used, so a cluster client
// works too.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
	per    int // entries per principal; 0: no cap

	shareEvictions atomic.Uint64
}

// RedisOption configures a [RedisStore].
type RedisOption func(*RedisStore) error

// RedisPerPrincipal caps the entries each principal keeps in a
// [RedisStore] at n (at least 1); see RedisStore. Every instance sharing
// the prefix should use the same n.
func RedisPerPrincipal(n int) RedisOption {
	return func(s *RedisStore) error {
		if n < 1 {
			return fmt.Errorf("cache: RedisPerPrincipal(%d): must be at least 1", n)
		}
		s.per = n
		return nil
	}
}

// NewRedisStore returns a store that keeps its keys under prefix (for
// example "myserver:cache:") in the Redis client talks to.
func NewRedisStore(client redis.UniversalClient, prefix string, opts ...RedisOption) (*RedisStore, error) {
	if client == nil {
		return nil, errors.New("cache: NewRedisStore needs a Redis client")
	}
	s := &RedisStore{client: client, prefix: prefix}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// genMargin is added to the time a bumped generation is remembered, so
// clock skew between instances and Redis cannot undercut keep.
const genMargin = time.Minute

// Get implements [Store].
func (s *RedisStore) Get(ctx context.Context, key string) (Entry, bool, error) {
	b, err := s.client.Get(ctx, s.prefix+"e:"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, err
	}
	var e Entry
	if err := e.UnmarshalBinary(b); err != nil {
		return Entry{}, false, err
	}
	return e, true, nil
}

// Set implements [Store].
func (s *RedisStore) Set(ctx context.Context, key string, e Entry, keep time.Duration) error {
	b, _ := e.MarshalBinary()
	keep = max(keep, time.Millisecond)
	if s.per == 0 || e.Owner == "" {
		return s.client.Set(ctx, s.prefix+"e:"+key, b, keep).Err()
	}
	now := time.Now()
	var share *redis.Cmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.prefix+"e:"+key, b, keep)
		share = ownerScript.Eval(ctx, p, []string{s.prefix + "o:" + e.Owner},
			key, now.Add(keep).UnixMilli(), now.UnixMilli(), s.per, genMargin.Milliseconds())
		return nil
	})
	if err != nil {
		return err
	}
	over, err := share.StringSlice()
	if err != nil || len(over) == 0 {
		return err
	}
	// Another instance may drop the same entries at once; deleting twice
	// is harmless.
	keys := make([]string, len(over))
	for i, k := range over {
		keys[i] = s.prefix + "e:" + k
	}
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k) // one key per command, so a cluster client works
		}
		return nil
	})
	s.shareEvictions.Add(uint64(len(over)))
	return err
}

// ownerScript records an entry in its owner's sorted set (scored by when
// it expires), forgets expired ones, and pops and returns the entries that
// expire soonest beyond the cap. The set lives as long as its latest entry.
// KEYS[1] owner set; ARGV: entry key, its expiry and now (Unix ms), cap,
// margin (ms).
var ownerScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
local dropped = {}
if over > 0 then
	local popped = redis.call('ZPOPMIN', KEYS[1], over)
	for i = 1, #popped, 2 do dropped[#dropped + 1] = popped[i] end
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + tonumber(ARGV[5])) end
return dropped
`)

// ShareEvictions returns how many entries this instance dropped because
// their principal held more than [RedisPerPrincipal] entries. The cache
// adds it to its [Stats].
func (s *RedisStore) ShareEvictions() uint64 { return s.shareEvictions.Load() }

func (s *RedisStore) genKey(tag string) string {
	sum := sha256.Sum256([]byte(tag))
	return s.prefix + "g:" + hex.EncodeToString(sum[:16])
}

// Generations implements [Store]. A tag without a generation key reads as
// zero: its key outlives (by keep) every entry stored under an older
// generation, so when it is gone nothing stale is left to resurface.
func (s *RedisStore) Generations(ctx context.Context, tags []string) ([]uint64, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(tags))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tags {
			cmds[i] = p.Get(ctx, s.genKey(t))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]uint64, len(tags))
	for i, c := range cmds {
		v, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if out[i], err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Bump implements [Store]. The new generation comes from one counter
// shared by all tags, so it is higher than any generation any tag ever
// had.
func (s *RedisStore) Bump(ctx context.Context, tags []string, keep time.Duration) error {
	if len(tags) == 0 {
		return nil
	}
	gen, err := s.client.Incr(ctx, s.prefix+"gseq").Result()
	if err != nil {
		return err
	}
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range tags {
			p.Set(ctx, s.genKey(t), gen, keep+genMargin)
		}
		return nil
	})
	return err
}

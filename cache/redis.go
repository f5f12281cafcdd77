package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
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
// It has no per-principal share ([Entry].Owner is not kept): Redis
// decides evictions itself, and indexing entries by principal would cost
// every miss another round trip. What one principal can store is bounded
// by its rate limit and the entries' keep time (see the package
// documentation, "Sharing the store between principals").
//
// Redis failures are returned as errors; the cache counts them and treats
// the call as a miss (fail open). Bound how long a call can wait for a
// sick Redis with the client's DialTimeout, ReadTimeout and WriteTimeout.
// Only single-key commands and pipelines are used, so a cluster client
// works too.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisStore returns a store that keeps its keys under prefix (for
// example "myserver:cache:") in the Redis client talks to.
func NewRedisStore(client redis.UniversalClient, prefix string) (*RedisStore, error) {
	if client == nil {
		return nil, errors.New("cache: NewRedisStore needs a Redis client")
	}
	return &RedisStore{client: client, prefix: prefix}, nil
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
	return s.client.Set(ctx, s.prefix+"e:"+key, b, max(keep, time.Millisecond)).Err()
}

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

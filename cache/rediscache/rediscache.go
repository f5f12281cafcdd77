package rediscache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/redis/go-redis/v9"
)

// Store is a cache.Store in Redis, so that several instances of a server
// share cached results and every instance sees every invalidation (the
// generation counters live in Redis too).
//
// # Key layout
//
// Every key starts with Config.Prefix:
//
//	<prefix>e:<key>             an entry (binary header plus the result's JSON), PX its keep time
//	<prefix>g:<sha256(tag)[:16]> a tag's generation (random 64-bit), PX keep + 1 minute
//	<prefix>o:<owner>           with Config.PerPrincipal: a sorted set of the owner's entry keys
//	                            scored by expiry (Unix ms), PX its latest entry's expiry + 1 minute
//
// Cache keys and owners are hashes (hex) and tags are hashed, so record IDs
// in tags do not appear in key names, and no key name holds a brace.
//
// # Redis Cluster
//
// The store runs unchanged on Redis Cluster (pass a *redis.ClusterClient)
// and needs no hash tags: every command and script touches one key, and
// the keys spread over the cluster's slots. Reading several tags'
// generations and dropping a principal's surplus entries are pipelines of
// single-key commands, which the cluster client sends to each node
// concurrently; nothing uses KEYS, SCAN or MULTI. A Bump writes a fresh
// random generation to each of its tags' keys instead of drawing from a
// shared counter, so an invalidation depends only on the nodes holding its
// own tags, and a node that lost recent writes (a restart without
// persistence, a failover to a replica that lagged) cannot hand out a
// generation that was used before. Do not put a hash tag ("{...}") in the
// prefix: it would be correct but would put every key of the store in one
// slot, on one node.
//
// While a node is down, calls whose entry or tag generations live on it
// are treated as misses and counted in Stats.Errors (see "Stores and
// failures" in package cache); an invalidation of a tag on it fails as
// documented for cache.Config.Invalidates (the write's result is returned,
// entries of that tag live until their keep time ends), while tags on the
// other nodes are invalidated. With Config.PerPrincipal, an entry stored
// while its owner's set is unreachable is stored but not counted against
// the cap; it expires with its keep time.
//
// # Rules for invalidation
//
// Invalidation relies on the generation keys outliving the entries they
// guard, so three rules keep stale entries from coming back: every
// instance sharing a prefix uses the same cache.Config.MaxTTL and StaleFor (a
// write on an instance with shorter ones would remember its generation for
// less time than another instance keeps entries); Redis does not evict
// keys for memory (maxmemory-policy noeviction, or enough memory): an
// evicted generation key reads as zero again; and on Redis Cluster every
// node keeps its keys across a restart (appendonly yes) or has a replica,
// since a node that comes back empty forgets its tags' generations while
// entries on the other nodes live on.
//
// # Per-principal cap
//
// Redis decides evictions for memory itself, so the store cannot give
// principals a share of a full store the way cache.MemoryStore does. It
// can cap what each principal holds: with Config.PerPrincipal n, each
// principal (by cache.Entry.Owner) keeps at most n entries, and storing one
// more drops its entries that expire soonest. The cap costs a miss one
// atomic script on a sorted set per principal ("o:<owner>", members are
// entry keys scored by when they expire), sent in the same round trip as
// the entry; hits cost nothing more. It is off by default; without it what
// one principal can store is bounded by its rate limit and the entries'
// keep time (see package cache, "Sharing the store between principals").
//
// # Failures
//
// Redis failures are returned as errors; the cache counts them and treats
// the call as a miss (fail open). Bound how long a call can wait for a
// sick Redis with the client's DialTimeout, ReadTimeout and WriteTimeout.
type Store struct {
	client redis.UniversalClient
	prefix string
	per    int // entries per principal; 0: no cap

	shareEvictions atomic.Uint64
}

// defaultPrefix starts every key unless Config.Prefix says otherwise.
const defaultPrefix = "bulwark:cache:"

// Config configures a [Store]. Every zero field means the documented
// default.
type Config struct {
	// Prefix starts every key (for example "myserver:cache:"); default
	// "bulwark:cache:". Every instance sharing cached results uses the
	// same prefix; deployments sharing a Redis use different ones.
	Prefix string
	// PerPrincipal caps the entries each principal keeps (see "Per-principal
	// cap" above). Default 0: no cap. Every instance sharing the prefix
	// should use the same value.
	PerPrincipal int
}

// New returns a store on client (a *redis.Client, *redis.ClusterClient or
// any other go-redis universal client) configured by cfg.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("rediscache: nil Redis client")
	}
	if cfg.PerPrincipal < 0 {
		return nil, fmt.Errorf("rediscache: PerPrincipal %d must not be negative", cfg.PerPrincipal)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = defaultPrefix
	}
	return &Store{client: client, prefix: cfg.Prefix, per: cfg.PerPrincipal}, nil
}

// genMargin is added to the time a bumped generation is remembered, so
// clock skew between instances and Redis cannot undercut keep.
const genMargin = time.Minute

// Get implements cache.Store.
func (s *Store) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	b, err := s.client.Get(ctx, s.prefix+"e:"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return cache.Entry{}, false, nil
	}
	if err != nil {
		return cache.Entry{}, false, err
	}
	var e cache.Entry
	if err := e.UnmarshalBinary(b); err != nil {
		return cache.Entry{}, false, err
	}
	return e, true, nil
}

// Set implements cache.Store.
func (s *Store) Set(ctx context.Context, key string, e cache.Entry, keep time.Duration) error {
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
	// The entries go first, then their places in the owner set: the
	// script leaves them there, so that a script the client retried after
	// losing its reply (go-redis retries on timeouts) names the same
	// entries again instead of having dropped them unseen. Another
	// instance may drop the same entries at once; deleting twice is
	// harmless, and ZREM counts each entry for the one that removed it.
	members := make([]any, len(over))
	for i, k := range over {
		members[i] = k
	}
	var removed *redis.IntCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range over {
			p.Del(ctx, s.prefix+"e:"+k) // one key per command, so a cluster client works
		}
		removed = p.ZRem(ctx, s.prefix+"o:"+e.Owner, members...)
		return nil
	})
	if n, zerr := removed.Result(); zerr == nil {
		s.shareEvictions.Add(uint64(n))
	}
	return err
}

// ownerScript records an entry in its owner's sorted set (scored by when
// it expires), forgets expired ones, and returns the entries that expire
// soonest beyond the cap, leaving them in the set: Set removes them once
// it has deleted them, so running the script twice with the same
// arguments (a retry) returns the same entries. The set lives as long as
// its latest entry. KEYS[1] owner set; ARGV: entry key, its expiry and now
// (Unix ms), cap, margin (ms). Entry keys travel as arguments and the
// script never touches them (on Redis Cluster they live in other slots);
// Set deletes the dropped ones with single-key DELs.
var ownerScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
local dropped = {}
if over > 0 then
	dropped = redis.call('ZRANGE', KEYS[1], 0, over - 1)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + tonumber(ARGV[5])) end
return dropped
`)

// ShareEvictions returns how many entries this instance dropped because
// their principal held more than Config.PerPrincipal entries. The cache
// adds it to its Stats.
func (s *Store) ShareEvictions() uint64 { return s.shareEvictions.Load() }

func (s *Store) genKey(tag string) string {
	sum := sha256.Sum256([]byte(tag))
	return s.prefix + "g:" + hex.EncodeToString(sum[:16])
}

// Generations implements cache.Store. A tag without a generation key reads as
// zero: its key outlives (by keep) every entry stored under an older
// generation, so when it is gone nothing stale is left to resurface.
func (s *Store) Generations(ctx context.Context, tags []string) ([]uint64, error) {
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

// Bump implements cache.Store. Each call draws one random, nonzero 64-bit
// generation and writes it to every tag's key, in one pipeline of
// single-key SETs. Generations are not drawn from a counter: two values
// drawn for one tag are equal with probability 2^-64, so a tag never
// returns to a generation it had, even after its key expired or a node
// lost its data, and no key is shared by every invalidation.
func (s *Store) Bump(ctx context.Context, tags []string, keep time.Duration) error {
	if len(tags) == 0 {
		return nil
	}
	gen := newGeneration()
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range tags {
			p.Set(ctx, s.genKey(t), gen, keep+genMargin)
		}
		return nil
	})
	return err
}

// newGeneration returns a random generation other than zero (the
// generation of a tag never bumped).
func newGeneration() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
		if g := binary.BigEndian.Uint64(b[:]); g != 0 {
			return g
		}
	}
}

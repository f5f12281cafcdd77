package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MetaKey is the result _meta key under which the cache says how it
// answered: {"status": "stale", "ageSeconds": N} on every stale answer, and
// with [Config].ReportStatus {"status": "hit"} or {"status": "miss"} on
// the other answers of cached tools.
const MetaKey = "bulwark/cache"

// Config configures a [Cache] and the [Middleware] that installs it. Every
// zero field means the documented default.
type Config struct {
	// When selects the calls that are cached. Default: tools annotated
	// read-only in bulwark's registry (bulwark.AddTool,
	// bulwark.Register), so unannotated and unregistered tools are
	// not cached. To add a tool to the default, test it next to
	// bulwark.IsReadOnly(bulwark.ToolFrom(ctx)) in a Matcher of your own;
	// to leave one out, give it a TTL of zero.
	When bulwark.Matcher
	// TTL is how long the result of a call stays fresh, capped by MaxTTL.
	// Default one minute for every call; bulwark.ByTool sets it per tool.
	// Zero or negative: the call is not cached.
	TTL bulwark.PerCall[time.Duration]
	// Public selects the calls whose results are the same for every
	// caller: their keys leave the principal out, so all callers share
	// entries. Only use it for data every caller may see. Default none.
	Public bulwark.Matcher
	// Tags attaches tags to the entries of a cached tool (by tool name),
	// typically naming the records the result was read from
	// ("customer:"+id). A write tool in Invalidates for one of the tags
	// makes those entries unreachable.
	Tags map[string]TagFunc
	// Invalidates declares write tools (by name) and the tags each makes
	// stale. After the tool's handler returns (successfully or not, even by
	// panicking: a failed write may still have changed something), the
	// tags are invalidated in the store, and only then does the result
	// travel back to the caller. A tool named here is never cached.
	//
	// The TagFunc learns it runs for a write from its context, which is
	// how [ArgTag] knows to give the family tag only when the record is
	// unknown (and, when it is known, the tag of the reads that name no
	// record).
	//
	// If the store fails, the failure is counted in Stats.Errors, the
	// call's record gets the field "cache_invalidation"="failed", and the
	// result is still returned (the write happened); entries of those tags
	// can then live until their TTL ends.
	Invalidates map[string]TagFunc
	// IgnoreArgs names top-level arguments left out of keys, so they no
	// longer split the cache: calls that differ only in them share one
	// entry. A per-request nonce or trace ID belongs here. A credential or
	// any other argument the handler uses to decide what the caller may
	// see does not: ignoring it would hand the result of a call with the
	// right value to a call with a wrong one. Such arguments, and fields
	// marked sensitive in the tool's schema (redact.SensitiveKeyword), stay
	// in the key material, which is only ever stored as a SHA-256 hash,
	// never in clear. (The argument token of auth/ is removed before the
	// cache runs and is represented by the principal.)
	IgnoreArgs []string
	// Key replaces the default key material; see [KeyFunc].
	Key KeyFunc
	// ReportStatus writes how the cache answered into the result of every
	// cached call, as _meta[MetaKey] = {"status": "hit"} (or "miss", or
	// "stale" with "ageSeconds"), for clients and load tests that tell
	// hits from misses. The result is copied first; stored entries are
	// never written into. Default off: stale answers alone are marked.
	ReportStatus bool

	// Clock is the time source for freshness and staleness. Default
	// the system clock. Give a MemoryStore the same clock.
	Clock bulwark.Clock
	// MaxItemBytes is the largest result (as JSON) that is stored; larger
	// results are returned but not cached. Default 64 KiB.
	MaxItemBytes int
	// MaxTTL caps every TTL the middleware asks for. Default 24h.
	MaxTTL time.Duration
	// StaleFor enables stale-on-failure: an entry is kept this long past
	// its TTL, and served (marked stale) when a fresh call fails in a way
	// StaleIf accepts. Default 0: off.
	StaleFor time.Duration
	// StaleIf decides whether a failed call may be answered with a stale
	// entry. Default: the handler returned, or put into an IsError result,
	// a bulwark refusal coded unavailable (an open breaker), internal or
	// deadline exceeded. Ordinary tool errors ("not found") never are.
	StaleIf func(res *mcp.CallToolResult, err error) bool
	// Logger receives store failures (never keys or values). Default: not
	// logged, only counted in Stats.Errors.
	Logger *slog.Logger
}

// Stats are the cache's counters since it was created, for an exporter to
// read at each scrape.
type Stats struct {
	Hits        uint64 // calls answered from the cache with a fresh entry, Shared included
	Misses      uint64 // calls that ran the handler for a cacheable tool
	Shared      uint64 // calls that waited for an identical call's miss instead of running the handler
	StaleServed uint64 // failed calls answered with a stale entry
	Bypassed    uint64 // calls to tools that are not cached
	Skipped     uint64 // results not stored: IsError, too large, unencodable, input required
	Evictions   uint64 // entries evicted by the store for room (stores that report it)
	// ShareEvictions counts the evictions, among Evictions, that took an
	// entry from a principal holding at least its share of the store
	// (MemoryConfig.PrincipalShare) rather than the least recently used
	// entry: room a principal had to make from its own entries, or that
	// others took from it.
	ShareEvictions uint64
	Invalidated    uint64 // tags invalidated
	Errors         uint64 // store failures; each was treated as a miss (fail open)
}

// Cache is the caching engine: a [Store], a clock, the in-flight table
// that merges identical misses, and the counters. Create it with [New],
// install it with [Middleware]; one Cache may serve several servers.
type Cache struct {
	store    Store
	clock    bulwark.Clock
	maxItem  int
	maxTTL   time.Duration
	staleFor time.Duration
	staleIf  func(*mcp.CallToolResult, error) bool
	logger   *slog.Logger
	rules    *rules

	mu      sync.Mutex
	flights map[string]*flight

	hits, misses, shared, stale, bypassed, skipped, invalidated, errs atomic.Uint64
}

// New returns a cache over store. A nil store means a [MemoryStore] with
// the default [MemoryConfig] and s.Clock.
func New(store Store, s Config) (*Cache, error) {
	if s.MaxItemBytes < 0 || s.MaxTTL < 0 || s.StaleFor < 0 {
		return nil, errors.New("cache: Config must not hold negative sizes or durations")
	}
	if s.MaxItemBytes == 0 {
		s.MaxItemBytes = 64 << 10
	}
	if s.MaxTTL == 0 {
		s.MaxTTL = 24 * time.Hour
	}
	if s.StaleIf == nil {
		s.StaleIf = failedUpstream
	}
	c := &Cache{
		store:    store,
		clock:    sysclock.Or(s.Clock),
		maxItem:  s.MaxItemBytes,
		maxTTL:   s.MaxTTL,
		staleFor: s.StaleFor,
		staleIf:  s.StaleIf,
		logger:   s.Logger,
		rules:    newRules(s),
		flights:  make(map[string]*flight),
	}
	if c.store == nil {
		m, err := NewMemoryStore(MemoryConfig{Clock: c.clock})
		if err != nil {
			return nil, err
		}
		c.store = m
	}
	return c, nil
}

// failedUpstream is the default StaleIf.
func failedUpstream(res *mcp.CallToolResult, err error) bool {
	if err == nil {
		if res == nil || !res.IsError {
			return false
		}
		var e *bulwark.Error
		if !errors.As(res.GetError(), &e) {
			return false
		}
		err = e
	}
	switch bulwark.ErrorOf(err).Code {
	case bulwark.CodeUnavailable, bulwark.CodeInternal, bulwark.CodeDeadlineExceeded:
		return true
	}
	return false
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits:        c.hits.Load(),
		Misses:      c.misses.Load(),
		Shared:      c.shared.Load(),
		StaleServed: c.stale.Load(),
		Bypassed:    c.bypassed.Load(),
		Skipped:     c.skipped.Load(),
		Invalidated: c.invalidated.Load(),
		Errors:      c.errs.Load(),
	}
	if m, ok := c.store.(*MemoryStore); ok {
		s.Evictions, s.ShareEvictions = m.evictions()
	} else if ev, ok := c.store.(interface{ ShareEvictions() uint64 }); ok {
		// A shared store (rediscache) counts the entries it dropped for
		// a principal's cap; Redis evicts for memory by its own policy.
		s.ShareEvictions = ev.ShareEvictions()
	}
	return s
}

// Invalidate makes every entry stored with one of tags unreachable, on
// every instance sharing the store. The middleware calls it for write
// tools of Config.Invalidates; call it yourself when data changes
// outside a tool call.
func (c *Cache) Invalidate(ctx context.Context, tags ...string) error {
	tags = normalizeTags(tags)
	if len(tags) == 0 {
		return nil
	}
	if err := c.store.Bump(ctx, tags, c.maxTTL+c.staleFor); err != nil {
		c.storeError(ctx, "invalidate", err)
		return err
	}
	c.invalidated.Add(uint64(len(tags)))
	return nil
}

func (c *Cache) storeError(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return // the caller gave up; that says nothing about the store
	}
	c.errs.Add(1)
	if c.logger != nil {
		c.logger.WarnContext(ctx, "cache store failed; treated as a miss", "op", op, "error", err)
	}
}

// normalizeTags sorts and deduplicates tags (in a copy), so the order a
// tag function returns them in does not change keys.
func normalizeTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	tags = slices.Clone(tags)
	slices.Sort(tags)
	return slices.Compact(tags)
}

// request is one cacheable call, prepared by the middleware.
type request struct {
	material []byte   // key material without generations
	buf      *[]byte  // pooled buffer holding material
	tags     []string // normalized
	ttl      time.Duration
}

// serve answers a cacheable call: from the store when fresh, else by
// running next once for all identical concurrent calls, storing the
// result, or falling back to a stale entry when next fails.
func (c *Cache) serve(ctx context.Context, r request, req *mcp.CallToolRequest, next mcp.ToolHandler) (*mcp.CallToolResult, error) {
	call := bulwark.CallFrom(ctx)
	key, keyOK := c.key(ctx, r)
	var (
		cand  Entry
		found bool
	)
	if keyOK {
		var err error
		cand, found, err = c.store.Get(ctx, key)
		if err != nil {
			c.storeError(ctx, "get", err)
			found = false
		}
	}
	now := c.clock.Now()
	if found && now.Before(cand.Expires) {
		res, err := c.materialize(cand)
		if err == nil {
			c.hits.Add(1)
			call.SetField(callrec.FieldCache, callrec.Hit)
			return res, nil
		}
		c.storeError(ctx, "decode", err)
		found = false
	}
	if found && (c.staleFor <= 0 || !now.Before(cand.Expires.Add(c.staleFor))) {
		found = false
	}
	if !keyOK {
		// Without a trustworthy key (the store could not say which
		// generation a tag is at) nothing is shared or stored.
		c.misses.Add(1)
		call.SetField(callrec.FieldCache, callrec.Miss)
		return next(ctx, req)
	}

	for {
		f, leader := c.join(key)
		if leader {
			return c.lead(ctx, f, key, r, req, next, cand, found)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			c.leave(key, f)
			return nil, bulwark.ErrorOf(ctx.Err())
		}
		if f.retry {
			// The first caller gave up (its context ended) before a
			// result existed; try again, maybe as the one who runs it.
			continue
		}
		// The waiter did not run the handler: it records a hit (or a
		// stale answer), or a miss when what it shares is a failure.
		c.shared.Add(1)
		switch {
		case f.status == callrec.Stale:
			c.stale.Add(1)
			call.SetField(callrec.FieldCache, callrec.Stale)
		case f.err == nil && f.res != nil && !f.res.IsError:
			c.hits.Add(1)
			call.SetField(callrec.FieldCache, callrec.Hit)
		default:
			call.SetField(callrec.FieldCache, callrec.Miss)
		}
		return jsontext.CloneResult(f.res), f.err
	}
}

// key hashes the call's key material with the tags' current generations.
// It reports false when the generations could not be read.
func (c *Cache) key(ctx context.Context, r request) (string, bool) {
	m := r.material
	if len(r.tags) > 0 {
		gens, err := c.store.Generations(ctx, r.tags)
		if err != nil || len(gens) != len(r.tags) {
			if err == nil {
				err = errors.New("cache: store returned the wrong number of generations")
			}
			c.storeError(ctx, "generations", err)
			return "", false
		}
		// Appending past len(material) reuses the pooled buffer.
		for i, t := range r.tags {
			m = appendField(m, t)
			m = binary.BigEndian.AppendUint64(m, gens[i])
		}
	}
	sum := sha256.Sum256(m)
	return hex.EncodeToString(sum[:]), true
}

// materialize returns a result the caller owns, built from a stored entry.
func (c *Cache) materialize(e Entry) (*mcp.CallToolResult, error) {
	if e.result != nil {
		return jsontext.CloneResult(e.result), nil
	}
	return decodeResult(e.Value) // a fresh decode is already a private copy
}

// lead runs next for the flight f and publishes the outcome to its waiters.
func (c *Cache) lead(ctx context.Context, f *flight, key string, r request, req *mcp.CallToolRequest, next mcp.ToolHandler, cand Entry, haveStale bool) (res *mcp.CallToolResult, err error) {
	call := bulwark.CallFrom(ctx)
	var shared *mcp.CallToolResult // what waiters copy; never handed out itself
	status := callrec.Miss
	finished := false
	defer func() {
		// Also runs when next panics: waiters must not wait forever, and
		// with nothing to share they retry.
		c.finish(key, f, shared, err, status, !finished || (err != nil && ctx.Err() != nil))
	}()

	c.misses.Add(1)
	call.SetField(callrec.FieldCache, callrec.Miss)
	res, err = next(ctx, req)
	finished = true

	if haveStale && c.staleIf(res, err) {
		if st, derr := c.materialize(cand); derr == nil {
			age := c.clock.Now().Sub(cand.Stored)
			if st.Meta == nil {
				st.Meta = mcp.Meta{}
			}
			st.Meta[MetaKey] = map[string]any{"status": callrec.Stale, "ageSeconds": int64(age / time.Second)}
			c.stale.Add(1)
			call.SetField(callrec.FieldCache, callrec.Stale)
			status = callrec.Stale
			if f.hasWaiters(c) {
				shared = jsontext.CloneResult(st)
			}
			return st, nil
		}
	}
	if err != nil || res == nil {
		return res, err
	}
	if tmpl := c.put(ctx, key, r, res); tmpl != nil {
		shared = tmpl
	} else if f.hasWaiters(c) {
		shared = jsontext.CloneResult(res)
	}
	return res, nil
}

// put stores res under key if it may be cached and returns the stored
// template, or nil when it was not stored.
func (c *Cache) put(ctx context.Context, key string, r request, res *mcp.CallToolResult) *mcp.CallToolResult {
	if res.IsError || res.NeedsInput() || res.InputRequests != nil || res.RequestState != "" {
		c.skipped.Add(1)
		return nil
	}
	b, err := encodeResult(res)
	if err != nil || len(b) > c.maxItem {
		c.skipped.Add(1)
		return nil
	}
	tmpl, ok := snapshot(res)
	if !ok {
		if tmpl, err = decodeResult(b); err != nil {
			c.skipped.Add(1)
			return nil
		}
	}
	now := c.clock.Now()
	e := Entry{Value: b, Stored: now, Expires: now.Add(r.ttl), Owner: owner(bulwark.CallFrom(ctx).Principal()), result: tmpl}
	// The result exists; store it even if this caller has gone meanwhile.
	if err := c.store.Set(context.WithoutCancel(ctx), key, e, r.ttl+c.staleFor); err != nil {
		c.storeError(ctx, "set", err)
	}
	return tmpl
}

// owner names p for [Entry.Owner]: a hash of how it authenticated and its
// ID, so one caller holding tokens with different scopes is still one
// principal. Scopes and roles split keys, not shares.
func owner(p *bulwark.Principal) string {
	if p == nil {
		return ""
	}
	var buf [128]byte
	m := appendField(appendField(buf[:0], p.Method), p.ID)
	sum := sha256.Sum256(m)
	return hex.EncodeToString(sum[:16])
}

// flight is one miss in progress, which identical calls wait for.
type flight struct {
	done    chan struct{}
	waiters int // guarded by Cache.mu

	// Set before done is closed.
	res    *mcp.CallToolResult
	err    error
	status string
	retry  bool
}

func (c *Cache) join(key string) (*flight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.flights[key]; ok {
		f.waiters++
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	return f, true
}

func (c *Cache) leave(key string, f *flight) {
	c.mu.Lock()
	f.waiters--
	c.mu.Unlock()
}

func (f *flight) hasWaiters(c *Cache) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f.waiters > 0
}

func (c *Cache) finish(key string, f *flight, res *mcp.CallToolResult, err error, status string, retry bool) {
	c.mu.Lock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	c.mu.Unlock()
	f.res, f.err, f.status, f.retry = res, err, status, retry
	if !retry && res == nil && err == nil {
		f.retry = true // nothing to share
	}
	close(f.done)
}

package cache

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TagFunc returns the tags of a call: for a cached tool, the tags its
// entries carry; for a write tool, the tags it invalidates. Tags are
// arbitrary strings such as "customer:c-42"; they are hashed before they
// reach a shared store.
type TagFunc func(ctx context.Context, req *mcp.CallToolRequest) []string

// KeyFunc replaces the default key material (principal and canonical
// arguments) of a call. ok=false means: do not cache this call. The
// returned string is hashed, never stored in clear; the tool name and the
// tags' generations are always added. A KeyFunc takes over the duty of
// keeping principals apart.
type KeyFunc func(ctx context.Context, req *mcp.CallToolRequest) (material string, ok bool)

// Option configures [Middleware].
type Option func(*config)

type config struct {
	when        bulwark.Matcher
	include     map[string]bool
	exclude     map[string]bool
	public      map[string]bool
	ttl         time.Duration
	ttls        map[string]time.Duration
	ttlFunc     func(ctx context.Context, req *mcp.CallToolRequest) time.Duration
	tags        map[string]TagFunc
	invalidates map[string]TagFunc
	ignore      map[string]bool
	keyFunc     KeyFunc
}

func addNames(m *map[string]bool, names []string) {
	if *m == nil {
		*m = make(map[string]bool, len(names))
	}
	for _, n := range names {
		(*m)[n] = true
	}
}

// Include caches the named tools whatever their annotations say.
func Include(tools ...string) Option {
	return func(c *config) { addNames(&c.include, tools) }
}

// Exclude never caches the named tools. It wins over Include and When.
func Exclude(tools ...string) Option {
	return func(c *config) { addNames(&c.exclude, tools) }
}

// When replaces the default rule for tools neither included nor
// excluded. The default caches tools annotated read-only in the registry
// (bulwark.ReadOnlyTools), so unannotated and unregistered tools are not
// cached.
func When(m bulwark.Matcher) Option {
	return func(c *config) { c.when = m }
}

// Public declares tools whose results are the same for every caller: their
// keys leave the principal out, so all callers share entries. Only use it
// for data every caller may see.
func Public(tools ...string) Option {
	return func(c *config) { addNames(&c.public, tools) }
}

// TTL sets how long results stay fresh for tools without a more specific
// TTL. Default one minute.
func TTL(d time.Duration) Option {
	return func(c *config) { c.ttl = d }
}

// ToolTTL sets the TTL of one tool. Zero or negative: the tool is not
// cached.
func ToolTTL(tool string, d time.Duration) Option {
	return func(c *config) {
		if c.ttls == nil {
			c.ttls = make(map[string]time.Duration)
		}
		c.ttls[tool] = d
	}
}

// TTLFunc decides the TTL per call, before ToolTTL and TTL: a positive
// result is the TTL, a negative one means "do not cache this call", zero
// falls back to ToolTTL and TTL.
func TTLFunc(fn func(ctx context.Context, req *mcp.CallToolRequest) time.Duration) Option {
	return func(c *config) { c.ttlFunc = fn }
}

// Tags attaches tags to the entries of a cached tool, typically naming
// the records the result was read from ("customer:"+id). A write tool
// declared with [Invalidates] for one of the tags makes those entries
// unreachable.
func Tags(tool string, fn TagFunc) Option {
	return func(c *config) {
		if c.tags == nil {
			c.tags = make(map[string]TagFunc)
		}
		c.tags[tool] = fn
	}
}

// Invalidates declares a write tool and the tags it makes stale. After
// the tool's handler returns (successfully or not, even by panicking: a
// failed write may still have changed something), the tags are invalidated
// in the store,
// and only then does the result travel back to the caller. A tool declared
// here is never cached.
//
// The TagFunc learns it runs for a write from its context, which is how
// [ArgTag] knows to give the family tag only when the record is unknown
// (and, when it is known, the tag of the reads that name no record).
//
// If the store fails, the failure is counted in Stats.Errors, the call's
// record gets the field "cache_invalidation"="failed", and the result is
// still returned (the write happened); entries of those tags can then
// live until their TTL ends.
func Invalidates(tool string, fn TagFunc) Option {
	return func(c *config) {
		if c.invalidates == nil {
			c.invalidates = make(map[string]TagFunc)
		}
		c.invalidates[tool] = fn
	}
}

// IgnoreArgs leaves the named top-level arguments out of keys, so they
// no longer split the cache: calls that differ only in them share one
// entry. A per-request nonce or trace ID belongs here. A credential or any
// other argument the handler uses to decide what the caller may see does
// not: ignoring it would hand the result of a call with the right value to
// a call with a wrong one. Such arguments, and fields marked sensitive in
// the tool's schema (audit.SensitiveKeyword), stay in the key material,
// which is only ever stored as a SHA-256 hash, never in clear. (The
// argument token of auth/ is removed before the cache runs and is
// represented by the principal.)
func IgnoreArgs(fields ...string) Option {
	return func(c *config) { addNames(&c.ignore, fields) }
}

// Key replaces the default key material; see [KeyFunc].
func Key(fn KeyFunc) Option {
	return func(c *config) { c.keyFunc = fn }
}

// Middleware caches the results of tool calls in c. Which calls are
// cached, for how long and under which tags is set with opts; by default
// read-only tools are cached for one minute. Every call's record gets its
// cache status (bulwark.CacheHit, CacheMiss, CacheStale, CacheBypass).
//
// A nil c is a cache over a default MemoryStore.
func Middleware(c *Cache, opts ...Option) bulwark.Middleware {
	if c == nil {
		c, _ = New(nil, Settings{}) // cannot fail with zero settings
	}
	cfg := &config{ttl: time.Minute}
	for _, o := range opts {
		if o != nil {
			o(cfg)
		}
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !bulwark.IsToolCall(ctx) {
				return next(ctx, req) // resources, prompts: nothing to cache
			}
			name := toolName(req)
			call := bulwark.CallFrom(ctx)
			if inv := cfg.invalidates[name]; inv != nil {
				c.bypassed.Add(1)
				call.SetCacheStatus(bulwark.CacheBypass)
				// Deferred, so that a write which panics halfway still
				// invalidates what it may have changed.
				defer func() {
					if tags := inv(withInvalidation(ctx), req); len(tags) > 0 {
						if err := c.Invalidate(context.WithoutCancel(ctx), tags...); err != nil {
							call.SetField("cache_invalidation", "failed")
						}
					}
				}()
				return next(ctx, req)
			}
			r, ok := cfg.prepare(ctx, c, name, req)
			if !ok {
				c.bypassed.Add(1)
				call.SetCacheStatus(bulwark.CacheBypass)
				return next(ctx, req)
			}
			defer putBuf(r.buf)
			return c.serve(ctx, r, req, next)
		}
	}
}

func toolName(req *mcp.CallToolRequest) string {
	if req == nil || req.Params == nil {
		return ""
	}
	return req.Params.Name
}

// prepare decides whether the call is cached and builds its key material.
func (cfg *config) prepare(ctx context.Context, c *Cache, name string, req *mcp.CallToolRequest) (request, bool) {
	if req == nil || req.Params == nil || !cfg.cached(ctx, name, req) {
		return request{}, false
	}
	ttl := time.Duration(0)
	if cfg.ttlFunc != nil {
		ttl = cfg.ttlFunc(ctx, req)
	}
	if ttl == 0 {
		var ok bool
		if ttl, ok = cfg.ttls[name]; !ok {
			ttl = cfg.ttl
		}
	}
	if ttl <= 0 {
		return request{}, false
	}
	ttl = min(ttl, c.maxTTL)

	buf := getBuf()
	m := append((*buf)[:0], "bulwark/cache/v1"...)
	m = appendField(m, name)
	if cfg.keyFunc != nil {
		material, ok := cfg.keyFunc(ctx, req)
		if !ok {
			putBuf(buf)
			return request{}, false
		}
		m = append(m, 'k')
		m = appendField(m, material)
	} else {
		if cfg.public[name] {
			m = append(m, 'p')
		} else {
			m = append(m, 'u')
			m = appendPrincipal(m, bulwark.CallFrom(ctx).Principal())
		}
		m = append(m, 'a')
		var err error
		if m, err = appendArguments(ctx, m, req.Params.Arguments, cfg.ignore); err != nil {
			putBuf(buf)
			return request{}, false
		}
	}
	var tags []string
	if fn := cfg.tags[name]; fn != nil {
		tags = normalizeTags(fn(ctx, req))
	}
	*buf = m // keep the grown buffer for the next call
	return request{material: m, buf: buf, tags: tags, ttl: ttl}, true
}

func (cfg *config) cached(ctx context.Context, name string, req *mcp.CallToolRequest) bool {
	switch {
	case cfg.exclude[name]:
		return false
	case cfg.include[name]:
		return true
	case cfg.when != nil:
		return cfg.when(ctx, req)
	default:
		return bulwark.IsReadOnly(bulwark.ToolFrom(ctx))
	}
}

// appendPrincipal writes the caller's authorization context: how it
// authenticated, who it is, and its scopes and roles (sorted), so that a
// token with fewer scopes never shares entries with a broader one. A call
// without a principal (no auth layer) gets its own, anonymous, partition.
func appendPrincipal(m []byte, p *bulwark.Principal) []byte {
	if p == nil {
		return append(m, 0)
	}
	m = append(m, 1)
	m = appendField(m, p.Method)
	m = appendField(m, p.ID)
	m = appendSorted(m, p.Scopes)
	return appendSorted(m, p.Roles)
}

func appendSorted(m []byte, vals []string) []byte {
	if !slices.IsSorted(vals) {
		vals = slices.Sorted(slices.Values(vals))
	}
	m = binary.AppendUvarint(m, uint64(len(vals)))
	for _, v := range vals {
		m = appendField(m, v)
	}
	return m
}

// appendField writes s length-prefixed, so no two sequences of fields
// produce the same bytes.
func appendField(m []byte, s string) []byte {
	m = binary.AppendUvarint(m, uint64(len(s)))
	return append(m, s...)
}

// Key material is built in pooled buffers: it is hashed and dropped on
// every call.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return // do not keep huge buffers alive
	}
	bufPool.Put(b)
}

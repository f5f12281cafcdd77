package cache

import (
	"context"
	"encoding/binary"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
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

// rules is the part of [Config] the middleware reads on every call,
// resolved once.
type rules struct {
	when        bulwark.Matcher
	public      bulwark.Matcher
	ttl         bulwark.PerCall[time.Duration]
	tags        map[string]TagFunc
	invalidates map[string]TagFunc
	ignore      map[string]bool
	keyFunc     KeyFunc
	status      bool
}

func newRules(cfg Config) *rules {
	r := &rules{
		when:        cfg.When,
		public:      cfg.Public,
		ttl:         cfg.TTL,
		tags:        maps.Clone(cfg.Tags),
		invalidates: maps.Clone(cfg.Invalidates),
		keyFunc:     cfg.Key,
		status:      cfg.ReportStatus,
	}
	if r.when == nil {
		r.when = func(ctx context.Context, _ *mcp.CallToolRequest) bool {
			return bulwark.IsReadOnly(bulwark.ToolFrom(ctx))
		}
	}
	if r.ttl == nil {
		r.ttl = bulwark.Fixed(time.Minute)
	}
	if len(cfg.IgnoreArgs) > 0 {
		r.ignore = make(map[string]bool, len(cfg.IgnoreArgs))
		for _, f := range cfg.IgnoreArgs {
			r.ignore[f] = true
		}
	}
	return r
}

// Middleware caches the results of tool calls in c, as c's [Config] says:
// by default read-only tools, for one minute. Every call's record gets its
// cache status in its "cache" field ("hit", "miss", "stale", "bypass"); with
// Config.ReportStatus the result's _meta gets it too.
//
// A nil c is a cache over a default MemoryStore.
func Middleware(c *Cache) bulwark.Middleware {
	if c == nil {
		c, _ = New(nil, Config{}) // cannot fail with a zero Config
	}
	cfg := c.rules
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !bulwark.IsToolCall(ctx) {
				return next(ctx, req) // resources, prompts: nothing to cache
			}
			name := toolName(req)
			call := bulwark.CallFrom(ctx)
			if inv := cfg.invalidates[name]; inv != nil {
				c.bypassed.Add(1)
				call.SetField(callrec.FieldCache, callrec.Bypass)
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
				call.SetField(callrec.FieldCache, callrec.Bypass)
				return next(ctx, req)
			}
			defer putBuf(r.buf)
			res, err := c.serve(ctx, r, req, next)
			if cfg.status {
				res = withStatus(res, call.Field(callrec.FieldCache))
			}
			return res, err
		}
	}
}

// withStatus returns res with the cache status in _meta[MetaKey]. It
// copies the result and its _meta map first: a result the handler
// returned may be the template of a stored entry.
func withStatus(res *mcp.CallToolResult, status string) *mcp.CallToolResult {
	if res == nil || (status != callrec.Hit && status != callrec.Miss && status != callrec.Stale) {
		return res
	}
	if _, ok := res.Meta[MetaKey]; ok {
		return res // a stale answer is marked already, with its age
	}
	cp := *res
	cp.Meta = make(mcp.Meta, len(res.Meta)+1)
	for k, v := range res.Meta {
		cp.Meta[k] = v
	}
	cp.Meta[MetaKey] = map[string]any{"status": status}
	return &cp
}

func toolName(req *mcp.CallToolRequest) string {
	if req == nil || req.Params == nil {
		return ""
	}
	return req.Params.Name
}

// prepare decides whether the call is cached and builds its key material.
func (cfg *rules) prepare(ctx context.Context, c *Cache, name string, req *mcp.CallToolRequest) (request, bool) {
	if req == nil || req.Params == nil || !cfg.when(ctx, req) {
		return request{}, false
	}
	ttl := cfg.ttl(ctx, req)
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
		if cfg.public != nil && cfg.public(ctx, req) {
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

// Package cache caches the results of read-only tool calls, keeps every
// principal's entries apart, invalidates entries when write tools change
// the data behind them, and can answer with a stale entry while a
// dependency is down.
//
// # Engine and middleware
//
// [New] builds the engine, a [*Cache], over a [Store]: [MemoryStore]
// (bounded, in-process; the default) or the Redis store of package
// cache/rediscache (shared by every instance of a server; this package
// links no Redis client). Its [Config] says which tools are cached, for how
// long, and which tags their entries carry or invalidate; [Middleware]
// installs it in a chain:
//
//	c, err := cache.New(nil, cache.Config{
//		StaleFor:    5 * time.Minute,
//		TTL:         bulwark.Fixed(30 * time.Second),
//		Tags:        map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")},
//		Invalidates: map[string]cache.TagFunc{"update_customer_email": cache.ArgTag("customer", "id")},
//	})
//	if err != nil { return err }
//	// inside auth and the limits, outside the breakers and retry
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(), cache.Middleware(c))
//
// By default the tools annotated read-only in bulwark's registry
// (bulwark.AddTool, bulwark.Register) are cached for one minute; an
// unannotated or unregistered tool is not. Config.When (a bulwark.Matcher)
// replaces the selection, Config.TTL (a bulwark.PerCall) sets the lifetime
// per tool or per call. Every call's record (bulwark.CallFrom) gets its
// outcome under the "cache" field (Call.Field): "hit", "miss", "stale"
// or "bypass"; with
// Config.ReportStatus the result's _meta[MetaKey] gets it too
// ({"status": "hit"}), for clients that tell hits from misses.
//
// # Where it sits
//
// The default order is audit → recover → metrics → auth → validate →
// ratelimit/concurrency → timeout → cache → breaker → retry → handler.
// The cache runs after auth, so it knows the principal, and inside the
// timeout, which bounds the miss path. It runs outside the breaker, so hits
// and stale entries are still served while the breaker is open.
//
// # Keys
//
// A key is the SHA-256 of: the tool name, the principal's authorization
// context (authentication method, ID, scopes and roles; none for an
// anonymous caller), the canonical form of the arguments (key order,
// whitespace, escapes and the spelling of numbers do not matter: 1, 1.0 and
// 1e0 are one value; the idempotency fingerprint uses the same form),
// and the current generation of each of the entry's tags. So one principal
// never receives an entry stored for another, unless the call is selected
// by Config.Public; and no argument value, principal ID or tag appears in clear in
// a key, in memory or in Redis. Values marked sensitive (an argument
// token, a field with redact.SensitiveKeyword) are hashed with the rest,
// never left out: calls that differ only in a secret must not share an
// entry. Config.IgnoreArgs leaves named arguments (a nonce, a trace ID)
// out of the key material altogether; Config.Key replaces the material for special cases (for example
// when results depend on a JWT claim such as a tenant, which the default
// key does not include). Arguments
// that are not valid JSON (or have duplicate keys, or invalid UTF-8) are not
// cached.
//
// # What is stored and what callers receive
//
// Only successful results are stored: never errors, IsError results,
// results that ask for more input, or results larger than
// Config.MaxItemBytes. A stored result is encoded as JSON and decoded
// once; every caller then receives its own deep copy (new result, new
// content values and Meta maps, copied byte slices), because the SDK writes
// into a result's _meta after the handler returns. Structured content comes
// back as a json.RawMessage, the form the SDK's typed handlers produce.
//
// Identical concurrent misses run the handler once; the other callers wait
// and each receive a copy of the outcome (recorded as hits, counted in
// Stats.Shared). A waiter whose context ends leaves at once with a
// cancellation or deadline refusal; if the caller running the handler gives
// up first, the waiters run it again themselves.
//
// # Invalidation
//
// Entries carry tags (Config.Tags, e.g. "customer:c-42"); write tools
// declare the tags they make stale (Config.Invalidates); [Cache.Invalidate] does it by
// hand. Invalidating a tag moves it to a new generation, and since the
// generation is part of the key, every entry stored under the old one
// becomes unreachable at once, on every instance sharing the store. The
// middleware invalidates after the write's handler returns and before the
// result travels back, so a client that reads after its write sees the new
// data. A read that raced with the write and stored its result under the
// old generation is unreachable too.
//
// [ArgTag] tags a call with the record it names, read from the arguments
// exactly as encoding/json (the SDK's decoder for typed handlers) hands it
// to the handler: the last of duplicate members, whatever the other members
// hold. When a write's record cannot be determined (a null, a number beyond
// float64, arguments that are not a JSON object), it invalidates the tag's
// whole family ("customer*"), which every read tagged by ArgTag also
// carries: a write invalidates more when in doubt, never less. A read that
// names no record (an absent member, which the SDK may fill from the
// schema's default, or a null) carries "customer?" too, which every write
// naming a record invalidates.
//
// If the store fails during invalidation, the write's result is still
// returned (the write happened), the failure is counted, and the call's
// record gets the field cache_invalidation=failed; entries of the tag then
// live until their TTL ends, so keep TTLs short for data that must never be
// read stale.
//
// # Stale on failure
//
// With Config.StaleFor > 0 an entry is kept that long past its TTL. When
// the handler then fails with an unavailable (open breaker), internal or
// deadline-exceeded refusal (Config.StaleIf), the caller receives the
// stale entry instead, marked in the result's _meta:
//
//	"_meta": {"bulwark/cache": {"status": "stale", "ageSeconds": 95}}
//
// and the call records "stale". Ordinary tool errors ("customer
// not found") are never masked by a stale entry.
//
// # Refusals
//
// The cache refuses nothing itself: whatever the inner layers and the
// handler return passes through. The only refusal it creates is for a
// caller waiting on an identical miss whose own context ends
// (bulwark.CodeCanceled or bulwark.CodeDeadlineExceeded).
//
// # Stores and failures
//
// A store failure (Redis down or slow) counts in Stats.Errors and the call
// is treated as a miss: the cache fails open, the handler runs, and nothing
// is served from a cache that cannot be read. [MemoryStore] bounds entries
// (MaxEntries) and the generations it remembers (MaxTags); with
// Config.MaxItemBytes that bounds its memory. Every Store passes the
// conformance suite in cache/cachetest.
//
// # Sharing the store between principals
//
// Keys include the principal, so a caller sending a new argument with
// every call stores a new entry with every call. In a plain LRU that
// caller would push everyone else's hot entries out. [MemoryStore] gives
// each principal a share instead (MemoryConfig.PrincipalShare, default
// MaxEntries/16): when the store is full, a principal holding at least its
// share makes room from its own least recently used entries, a principal
// below it takes room from those above theirs, and only when nobody is
// above its share does the least recently used entry of the store go. A
// store with room to spare is open to any principal. The principal is
// named in [Entry].Owner, a hash of its authentication method and ID (set
// by the cache, not part of the key); calls without a principal have no
// share. Measured (TestCacheSharePollution): a principal storing 50 to 200
// new entries for every read of another principal's 100-key hot set leaves
// that reader a 100% hit ratio on it; a plain LRU left it 0%. The share
// protects principals from one another, not from many principals acting
// together: each credential gets its own share.
//
// The Redis store (cache/rediscache) cannot share a full store out this
// way, since Redis evicts for memory by its own policy (which must be
// noeviction). It can cap each principal instead: with its
// Config.PerPrincipal n a principal keeps at most n entries, and storing
// one more drops its entries that expire soonest (one atomic script per
// miss, in the same round trip as the entry; hits cost nothing more). The
// cap is off by default, since it holds even while Redis has room. Without
// it what one principal can store in Redis is bounded by its rate limit
// (put ratelimit before the cache, as the default order does): a principal
// allowed R calls a second holds at most R × (TTL + StaleFor) entries of
// at most MaxItemBytes each, and they expire on their own.
//
// # Resource bounds
//
//	bound                          default            on overflow                              counted in
//	MemoryConfig.MaxEntries        4096 entries       an entry evicted (see PrincipalShare)    Stats.Evictions
//	MemoryConfig.PrincipalShare    MaxEntries/16      evicted from principals at/over share    Stats.ShareEvictions
//	Config.MaxItemBytes            64 KiB per result  result returned, not stored              Stats.Skipped
//	MemoryConfig.MaxTags           65536 tags         oldest generation forgotten              -
//	identical misses in flight     one per key        later callers wait for the first         Stats.Shared
//	rediscache.Config.PerPrincipal off                the principal's soonest-expiring dropped Stats.ShareEvictions
//
// A [MemoryStore] keeps a record per principal only while the principal
// holds entries, so there are never more than MaxEntries.
//
// # Counters
//
// [Cache.Stats] returns hits, misses, shared waits, stale answers, bypasses,
// skipped results, evictions (and among them share evictions), invalidated
// tags and store errors as a plain struct, for an exporter to read at each
// scrape. metrics/ counts hits, misses and stale answers per tool from each
// call's record; it has no series for the store's evictions.
package cache

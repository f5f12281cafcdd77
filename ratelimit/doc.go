// Package ratelimit holds every caller of an MCP server to its limits:
// token-bucket rate limits keyed by caller, tool, session or the whole
// server, and concurrency limits (bulkheads) on calls in flight.
//
// # Where it sits
//
// In bulwark's default order, outermost first:
//
//	audit → recover → metrics → auth → validate → ratelimit/concurrency → timeout → cache → breaker → retry → handler
//
// Limits come after auth because they are keyed by the principal auth
// finds, and after validate so malformed calls do not spend a caller's
// tokens; they come before everything that costs (cache, dependencies).
// The middleware sees every request [bulwark.Use] runs through the chain:
// tools/call, resources/read, resources/subscribe, prompts/get,
// completion/complete and the lists (tools/list, resources/list,
// resources/templates/list, prompts/list, each page a request); ping,
// initialize and notifications pass through untouched.
//
// # Lists draw on the caller's limit
//
// A list is cheap but not free: the server serialises every definition on
// the page and auth decides each item, and a client can ask for lists in a
// loop. So a list is limited like any other request: with [WithLimit] and a
// per-caller key, listing and calling draw on one bucket, so a caller that
// floods the server with lists spends its own allowance, not the server. Methods other than tools/call are
// named by their method where a limit or key names a tool, so
// WithToolLimits(map[string]Limit{"tools/list": PerMinute(60)}, fallback)
// with [ByPrincipalAndTool] gives lists a bucket of their own, and a zero
// Limit for "tools/list" exempts them.
//
// # Rate limits
//
// A [Limiter] is the engine: a [KeyFunc] (which bucket a call draws from), a
// limit for the call ([WithLimit], [WithToolLimits] or any [LimitFunc]) and a
// [Store] that holds the buckets. [Middleware] installs one or more
// limiters; a call must pass every one of them. Limiters that share a
// store need distinct names ([WithName]); Middleware panics while the
// chain is built (never during a call) when two do not, and [Check]
// reports the same mistake as an error.
//
//   - [ByPrincipal] (the default): one bucket per authenticated caller.
//     Calls without a principal share a single bucket.
//   - [ByPrincipalAndTool]: one per caller and tool; pair it with
//     [WithToolLimits] for per-tool limits (NewLimiter refuses different
//     per-tool limits on a key that puts every tool in one bucket).
//   - [BySession]: one per MCP session (the session ID is hashed).
//   - [Global]: one for the whole server, or the whole deployment with Redis.
//
// A [Limit] is a rate (tokens per second) and a burst (bucket size); the
// zero Limit exempts a call. Limits are values passed with each decision,
// so a different limit per tool or per customer tier needs no extra
// limiter, and a changed limit applies on the next call.
//
// # Stores
//
// [MemoryStore] keeps buckets (golang.org/x/time/rate limiters) in process,
// in a bounded LRU structure: a million distinct callers cannot grow it past
// its capacity. A bucket idle long enough to have refilled is dropped
// freely, since recreating it full changes nothing. When the store is full
// of buckets that have not refilled, the least recently used one is dropped
// anyway and counted in [MemoryStats].ForcedEvictions: that caller may get
// up to one extra burst. Size the capacity above the number of callers
// active within one refill period and watch that counter.
//
// One principal cannot fill the store either: keys that are the caller's
// own (those of ByPrincipal, ByPrincipalAndTool and BySession; the limiter
// names the principal in [Bucket].Principal) count against it, and a
// principal holding [PerPrincipal] buckets of one limiter (default
// [DefaultPerPrincipal]) gets no more. Its calls with further keys all draw
// from one overflow bucket (per principal, limiter and limit), so a
// caller naming made-up tools or opening session after session neither
// grows the store nor gains calls: nothing is evicted for it, no bucket is
// reset, and its extra keys together get one key's allowance. Such calls
// are counted in [MemoryStats].Overflowed. Keys callers may share
// (Global, a custom [KeyFunc]) and calls without a principal are bounded by
// the capacity alone.
//
// [RedisStore] shares buckets between instances: each decision is one round
// trip to an atomic Lua script (GCRA on the Redis server's clock). When
// Redis cannot answer, [RedisOptions].OnFailure decides: [FailClosed] (the
// default) refuses the call as unavailable, [FailOpen] lets it through; both
// are counted in [RedisStats]. A call whose own context ends while Redis
// decides is refused as canceled or deadline exceeded under either mode,
// and is not counted as a failure. Keys are RedisOptions.Prefix + limiter name
// + ":" + key; they contain principal IDs in clear (use a [KeyFunc] that
// hashes them if those are sensitive) and expire as soon as their bucket
// would be full again. That expiry is the Redis store's bound per
// principal: a key exists only while its bucket is not full, so a
// principal holds at most as many keys as it made calls within one refill
// period. Install a per-principal limiter first in the same [Middleware]
// (a refused call goes no further) to bound that number too; there is no
// overflow bucket in Redis.
//
// # Redis Cluster
//
// [RedisStore] runs unchanged on Redis Cluster (or a managed equivalent):
// pass a *redis.ClusterClient. Each decision is one script on one key, so
// no hash tags are needed, buckets spread over the slots, and each bucket
// is decided by the node holding it; nothing uses KEYS, SCAN or MULTI.
// While a node is down, decisions for the buckets on it fail as
// [RedisOptions].OnFailure says and the other nodes' buckets are decided
// as before (with cluster-require-full-coverage yes, Redis's default, the
// whole cluster refuses once it marks the node failed, and every decision
// fails that way). Keys that contain braces (a principal ID "{x}", say)
// are placed by the text between them, which changes only which node holds
// the bucket. Do not put a hash tag in RedisOptions.Prefix: that is
// correct but sends every bucket to one node. A node that restarts without
// its data (no append-only file, no replica) forgets its buckets, which
// then start full. The conformance suite, a node stopped mid-test
// (FailClosed refuses, FailOpen lets calls through, the drained bucket is
// still drained when the node returns) and a bucket's slot migrated to
// another node under load (every token taken exactly once, through ASK and
// MOVED redirections) run on a local three-master cluster.
//
// # Resource bounds
//
//	bound                      default               on overflow                                    counted in
//	NewMemoryStore capacity    100,000 buckets       least recently used bucket evicted             MemoryStats.Evictions, ForcedEvictions
//	PerPrincipal               1,000 per limiter     further keys share one overflow bucket         MemoryStats.Overflowed
//	Redis keys                 expire when refilled  -                                              -
//	concurrency counters       calls in flight       refused or waits (MaxWait)                     ConcurrencyStats.Refused, TimedOut
//
// Both stores pass the conformance suite in package ratelimittest, which
// any other [Store] should run too.
//
// # Concurrency limits
//
// [Concurrency] caps calls in flight per tool and per caller, optionally
// letting a call wait (at most MaxWait, and never past its context) for a
// slot. [ConcurrencyMiddleware] holds the slots for as long as the rest of
// the chain runs. Counters exist only while calls are in flight, so memory
// follows the load, not the number of callers ever seen.
//
// # Refusals
//
// A call over a rate or concurrency limit gets a [bulwark.RateLimited]
// error ("rate limit exceeded for this caller; retry after 2s"), whose
// RetryAfter is the time until a retry can succeed. [bulwark.ToWire] turns
// it into an IsError result the model reads, with the seconds in the
// result's _meta (bulwark.Refusal.RetryAfterSeconds) for programs. A failing
// store under FailClosed gives [bulwark.Unavailable]; its cause stays
// server-side. A call whose context ends while it waits for a slot gets the
// context's refusal (canceled or deadline exceeded).
//
// # Example
//
//	store, _ := ratelimit.NewMemoryStore(0)
//	perCaller, err := ratelimit.NewLimiter(store, ratelimit.WithLimit(ratelimit.PerMinute(60)))
//	if err != nil { ... }
//	bulkhead, err := ratelimit.NewConcurrency(ratelimit.ConcurrencySettings{PerPrincipal: 4})
//	if err != nil { ... }
//	bulwark.Use(server, auditMW, bulwark.Recover(nil), authMW,
//		ratelimit.Middleware(perCaller), ratelimit.ConcurrencyMiddleware(bulkhead),
//		bulwark.Timeout(bulwark.Fixed(10*time.Second)))
package ratelimit

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
// loop. So a list is limited like any other request: with one fixed limit
// and a per-caller key, listing and calling draw on one bucket, so a caller
// that floods the server with lists spends its own allowance, not the
// server. Methods other than tools/call are named by their method where a
// limit or key names a tool, so a Config.Limit of
// bulwark.ByTool(fallback, map[string]Limit{"tools/list": PerMinute(60)})
// with [ByPrincipalAndTool] gives lists a bucket of their own, and a zero
// Limit for "tools/list" exempts them.
//
// # Rate limits
//
// A [Limiter] is the engine: a [KeyFunc] (which bucket a call draws from),
// the limit of each call ([Config].Limit, a bulwark.PerCall[Limit]) and a
// [Store] that holds the buckets. [Middleware] installs one or more
// limiters; a call must pass every one of them. Limiters that share a
// store need distinct names ([Config].Name); Middleware panics while the
// chain is built (never during a call) when two do not, and [Distinct]
// reports the same mistake as an error.
//
//   - [ByPrincipal] (the default): one bucket per authenticated caller.
//     Calls without a principal share a single bucket.
//   - [ByPrincipalAndTool]: one per caller and tool; pair it with
//     bulwark.ByTool for per-tool limits (a key that puts every tool in
//     one bucket would follow whichever tool's limit was called last).
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
// principal holding [MemoryConfig].PerPrincipal buckets of one limiter
// (default 1000) gets no more. Its calls with further keys all draw
// from one overflow bucket (per principal, limiter and limit), so a
// caller naming made-up tools or opening session after session neither
// grows the store nor gains calls: nothing is evicted for it, no bucket is
// reset, and its extra keys together get one key's allowance. Such calls
// are counted in [MemoryStats].Overflowed. Keys callers may share
// (Global, a custom [KeyFunc]) and calls without a principal are bounded by
// the capacity alone.
//
// Package ratelimit/redislimit holds the Redis store, which shares
// buckets between the instances of a deployment (GCRA on the Redis
// server's clock, fail closed unless configured to fail open). This
// package links no Redis client.
//
// # Resource bounds
//
//	bound                      default               on overflow                                    counted in
//	MemoryConfig.Capacity      100,000 buckets       least recently used bucket evicted             MemoryStats.Evictions, ForcedEvictions
//	MemoryConfig.PerPrincipal  1,000 per limiter     further keys share one overflow bucket         MemoryStats.Overflowed
//	Redis keys (redislimit)    expire when refilled  -                                              -
//	concurrency counters       calls in flight       refused or waits (MaxWait)                     ConcurrencyStats.Refused, TimedOut
//
// [MemoryStore] and redislimit.Store pass the conformance suite in package
// ratelimittest, which any other [Store] should run too.
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
// store (the Redis store unless it fails open) gives [bulwark.Unavailable]; its cause stays
// server-side. A call whose context ends while it waits for a slot gets the
// context's refusal (canceled or deadline exceeded).
//
// # Example
//
//	store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
//	if err != nil { return err }
//	perCaller, err := ratelimit.NewLimiter(store, ratelimit.Config{
//		Limit: bulwark.Fixed(ratelimit.PerMinute(60)),
//	})
//	if err != nil { return err }
//	bulkhead, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{PerPrincipal: 4})
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(),
//		ratelimit.Middleware(perCaller), ratelimit.ConcurrencyMiddleware(bulkhead),
//		bulwark.Timeout(bulwark.Fixed(10*time.Second)))
package ratelimit

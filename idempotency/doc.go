// Package idempotency makes tool calls that carry an idempotency key
// execute at most once, and gives every repeat of such a call the first
// call's result.
//
// # What it does
//
// The layer [New] returns finds a call's key (an argument or _meta entry,
// "idempotency_key" by default; see [KeySource]) and claims it in a
// [Store] per (principal, tool, key). The first call runs and its result
// is stored; a repeat with the same arguments receives a copy of that
// result, marked with _meta[ReplayMetaKey], without running the handler;
// a key reused with different arguments is refused; a duplicate that
// arrives while the first call still runs waits for its result. Arguments
// are compared by a hash of their canonical JSON, and keys and principals
// enter the store only as hashes. A handler reads its call's key with
// [KeyFrom] and can hand it on to the dependency (a unique column, an
// Idempotency-Key header), so a retried write is safe all the way down.
//
// What counts as the tool's answer, to be stored and replayed, is what
// [bulwark.OutcomeOf] calls "ok" or "tool_error"; after any other outcome
// the claim is released so the client can try again with the same key.
//
// Stores: [MemoryStore] (bounded, one instance) here; redisidem.Store
// (Redis or Redis Cluster) and pgidem.Store (PostgreSQL) for many
// instances, in their own packages so that a server using the memory
// store links neither go-redis nor pgx. idempotencytest.Run is the
// conformance suite every store passes. The claim on a key is renewed
// while its handler runs (for stores that are a [Renewer]); a key runs
// again only after its result expired (or was evicted from a full
// MemoryStore), or after its pending TTL when the process died mid-call or
// the store could not take the result.
//
// # Where it sits
//
// audit → recover → metrics → auth → validate → ratelimit → timeout →
// cache → breaker → idempotency → retry → handler. After auth, because
// keys are scoped by principal; inside the timeout, so that a call
// abandoned at its deadline settles its key only when its handler really
// finishes; outside retry, so retried attempts of one call share its
// claim, and retry knows the call is keyed (retry retries a keyed call to
// a destructive tool). Apply it to the tools whose writes must not repeat
// with [bulwark.Only].
//
// # On refusal
//
// [bulwark.InvalidArgument] when a key is malformed, reused with
// different arguments, or missing where Config.RequireKey demands one;
// [bulwark.Unavailable] when the store fails (the layer fails closed: a
// keyed call never runs unprotected) or a key is still claimed by a call
// in progress (after a wait, or at once when the claim was abandoned by a
// process that died; the retry-after is the time the claim has left); and
// [bulwark.RateLimited] when a principal has as many keys in progress as a
// bounded store allows one caller.
//
// # Example
//
//	store, err := redisidem.New(rdb, redisidem.Config{})
//	if err != nil { return err }
//	once, err := idempotency.New(store, idempotency.Config{RequireKey: true})
//	if err != nil { return err }
//	bulwark.Use(server,
//		audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(),
//		bulwark.Timeout(bulwark.Fixed(10*time.Second)), cache.Middleware(results), perTool,
//		bulwark.Only(bulwark.ToolNames("add_customer_note"), once),
//		retry.Middleware(retrier),
//	)
package idempotency

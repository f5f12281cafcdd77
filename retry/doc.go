// Package retry repeats calls that failed for a passing reason, within
// bounds that keep a failing dependency from being hammered, and makes
// calls carrying an idempotency key execute at most once.
//
// # What it does
//
// A [Retrier] (built from a [Policy] with [New]) makes up to MaxAttempts
// attempts (3 by default, the first included). Before retry n it waits a
// delay drawn uniformly from [0, min(Cap, Base·2ⁿ⁻¹)] ("full jitter", so
// many clients do not retry in step), or longer if the failure asked for it
// with a retry-after within Cap. Each attempt can have its own timeout. No
// attempt starts that could not finish before the call's deadline: when
// the time left is shorter than the delay plus the per-attempt timeout
// (without one: plus the duration of the last attempt), retrying stops and
// the last failure is returned.
//
// Only transient failures are retried ([Transient]): unavailable and
// deadline-exceeded refusals from inner layers, timeouts of the attempt
// (not of the call), and connection failures before anything was sent,
// after pgx's pgconn.SafeToRetry. Never invalid-argument, authentication,
// permission or rate-limit refusals, and never the caller's cancellation.
//
// A [Budget] bounds retries across calls: each call earns Ratio retries
// (0.1 by default) and each retry spends one, so at 100% failure a busy
// service makes at most 1.1 attempts per call instead of 3. A small floor
// per second lets a quiet service still retry.
//
// [Idempotency] gives calls that carry a key (an argument or _meta entry,
// "idempotency_key" by default) at-most-once execution per (principal,
// tool, key), with replay of the stored result, refusal of a key reused
// with different arguments, and a wait for a duplicate that arrives while
// the first call still runs. Keys live in a [Store]: [MemoryStore] for one
// instance, [RedisStore] for many; retrytest.TestStore checks others (the
// customer example adds PostgreSQL). The claim on a key is renewed while
// its handler runs (for stores that are a [Renewer]); a key runs again only
// after its result expired (or was evicted from a full MemoryStore), or
// after its pending TTL when the process died mid-call or the store could
// not take the result.
//
// # Redis Cluster
//
// [RedisStore] runs unchanged on Redis Cluster (or a managed equivalent):
// pass a *redis.ClusterClient. An idempotency key is one Redis key
// (prefix + a hex hash of principal, tool and key), and claiming,
// renewing, completing and releasing are each one script on that key
// alone, so no hash tags are needed and keys spread over the slots;
// nothing uses KEYS, SCAN or MULTI. While a node is down, calls whose keys
// live on it are refused as unavailable without running (Idempotency fails
// closed), and keys on the other nodes work as before. Run every node with
// its data kept across restarts (appendonly yes) or a replica: a node that
// comes back empty forgets the results it held, and those keys can run
// again. The conformance suite, a node stopped mid-test (refused while
// down, replayed once it returns) and two instances racing for a stream
// of keys while their slot migrates to another node (each key claimed
// once, every result kept) run on a local three-master cluster.
//
// # Where it sits
//
// audit → recover → metrics → auth → validate → ratelimit → timeout →
// cache → breaker → retry → handler. Retry sits inside the breaker, so an
// open breaker stops retry storms, and inside the timeout, which bounds all
// attempts together. [Idempotency] goes just before retry: after auth (keys
// are scoped by principal) and inside the timeout (so a call abandoned at
// its deadline settles its key only when its handler really finishes).
//
// [Middleware] retries only calls to read-only or idempotent tools
// ([bulwark.IsIdempotent]) by default; a destructive tool is retried only
// when the call carries an idempotency key, which the handler should pass
// on to the dependency ([KeyFrom]). Inside a handler, [Retrier.Do] retries
// one dependency call.
//
// Retries happen at one level, the innermost. Code that calls
// [Retrier.Do] owns its retries: when an attempt of [Middleware] (or of an
// outer Do) in which a Do ran fails, it is not repeated, whether that Do
// succeeded, retried or gave up; the call record's [StopField] says
// "inner". Nesting the documented layers therefore cannot multiply
// attempts: a tool-level Middleware of 3 attempts around a handler whose
// dependency call is a Do of 3 attempts makes at most 3 dependency calls
// per client call, not 9, and the dependency's breaker (around the Do)
// counts one outcome per call instead of three, so it does not open on
// the first call. The inner level is the one kept because it knows most:
// it repeats only the dependency call that failed (not the handler's other
// work, which may have succeeded or may not be safe to repeat), it runs
// inside that dependency's breaker, and its policy (per-attempt timeout,
// budget) is the one written for that dependency. So a handler that uses
// Do for one dependency should use it for every call it wants retried;
// Middleware still retries handlers that make no call through Do. A
// breaker around the Do that is open refuses before Do runs, so that
// refusal is the tool level's to retry (after its retry-after, within
// Cap); wrap it with [Permanent] to pass it to the client at once.
// [Retrier.Do] counts its attempts in the call record field
// [DependencyAttemptsField], next to the handler's own
// attempts ([bulwark.Call.Attempts]); audit records both.
//
// # On refusal
//
// Retry refuses nothing itself: after the last attempt it returns the last
// failure unchanged, and notes why it stopped in the call record field
// [StopField]. [Idempotency] refuses with [bulwark.InvalidArgument] when a
// key is malformed, reused with different arguments, or missing where
// [RequireKey] demands one, with [bulwark.Unavailable] when its store
// fails or a key is still claimed by a call in progress (after a short
// wait, or at once when the claim was abandoned by a process that died;
// the retry-after is the time the claim has left), and with
// [bulwark.RateLimited] when a principal has as many keys in progress as
// a bounded store allows one caller.
//
// # Example
//
//	reads, err := retry.New(retry.Policy{PerAttemptTimeout: 2 * time.Second})
//	if err != nil { ... }
//	store, _ := retry.NewRedisStore(rdb, "")
//	bulwark.Use(server,
//		audit, recover, metrics, auth, validate, limits, timeout, cache, breakers,
//		retry.Idempotency(store),
//		retry.Middleware(reads),
//	)
//
//	// inside a handler
//	err = reads.Do(ctx, func(ctx context.Context) error {
//		return pool.QueryRow(ctx, q, id).Scan(&name)
//	})
package retry

// Package retry repeats calls that failed for a passing reason, within
// bounds that keep a failing dependency from being hammered.
//
// # What it does
//
// A [Retrier] (built from a [Config] with [New]) makes up to MaxAttempts
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
// Whether an attempt failed is decided by [bulwark.OutcomeOf], the one
// classifier every layer shares: results, the tool's deliberate error
// answers and JSON-RPC errors that are no refusal are never retried.
//
// With Config.Breaker, [Retrier.Do] runs its attempts inside that
// dependency's breaker: the guarded dependency call of a handler is one
// Retrier.
//
// # Where it sits
//
// audit → recover → metrics → auth → validate → ratelimit → timeout →
// cache → breaker → idempotency → retry → handler. Retry sits inside the
// breaker, so an open breaker stops retry storms, and inside the timeout,
// which bounds all attempts together. The idempotency layer (package
// idempotency) goes just outside it.
//
// [Middleware] retries only calls to read-only or idempotent tools
// ([bulwark.IsIdempotent]) by default; a destructive tool is retried only
// when the idempotency layer found the call's key, which the handler
// should pass on to the dependency ([idempotency.KeyFrom]). Config.When
// replaces that selection. Inside a handler, [Retrier.Do] retries one
// dependency call.
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
// [StopField].
//
// # Example
//
//	tools, err := retry.New(retry.Config{MaxAttempts: 2})
//	if err != nil { return err }
//	bulwark.Use(server,
//		audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(),
//		bulwark.Timeout(bulwark.Fixed(10*time.Second)), cache.Middleware(results), perTool,
//		once, // the idempotency layer
//		retry.Middleware(tools),
//	)
//
//	// the guarded dependency: retries inside PostgreSQL's breaker
//	pg, err := retry.New(retry.Config{PerAttemptTimeout: 2 * time.Second, Breaker: pgBreaker})
//	if err != nil { return err }
//
//	// inside a handler
//	var name string
//	err = pg.Do(ctx, func(ctx context.Context) error {
//		return pool.QueryRow(ctx, "SELECT name FROM customers WHERE id = $1", id).Scan(&name)
//	})
package retry

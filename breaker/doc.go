// Package breaker stops calling a dependency that is failing, so callers get
// a fast, honest "unavailable, retry after N" instead of piling up on
// timeouts, and the dependency gets room to recover.
//
// # What it does
//
// A [Breaker] counts the outcomes of the calls it guards. While closed,
// calls flow; when Settings.ReadyToTrip says so (by default after 5
// consecutive failures) it opens and refuses every call for
// Settings.Timeout. Then it turns half-open and admits up to
// Settings.MaxRequests probe calls: if that many succeed in a row it closes,
// and any failing probe opens it again for another Timeout.
//
// Breakers are built on github.com/sony/gobreaker/v2 (its
// TwoStepCircuitBreaker), with three additions: the open period runs on an
// injectable [bulwark.Clock], so tests drive transitions exactly without
// sleeping; state-change events are queued and delivered after every lock
// is released, with a context; and breakers can be forced open or closed.
//
// Only dependency trouble counts as a failure: internal errors, timeouts,
// unavailable refusals from inner layers, and (with [CountErrorResults])
// IsError results. Refusals about the caller (invalid argument,
// unauthenticated, permission denied, rate limited) and the client's own
// cancellation count neither way (see [Classify]).
//
// # Where it sits
//
// Two forms, usable together:
//
//   - around tools, with [Middleware]: audit → recover → metrics → auth →
//     validate → ratelimit → timeout → cache → breaker → retry → handler.
//     Inside the cache, so hits (and stale entries) still serve while the
//     breaker is open; outside retry, so an open breaker stops retry storms.
//   - around a named dependency inside a handler, with [Breaker.Execute],
//     for example one breaker for PostgreSQL and one for an upstream HTTP
//     service shared by every tool that uses them.
//
// A [Set] names the breakers of a server, so readiness can report
// [Set.OpenBreakers] and metrics can subscribe to every state change with
// [Set.OnStateChange].
//
// # On refusal
//
// An open breaker returns [bulwark.Unavailable] with the message
// "<name> is unavailable" and RetryAfter set to the time until the next
// probe, without calling the handler. The cause wraps [ErrOpen] (or
// [ErrProbeLimit] when a half-open breaker's probe slots are taken) and
// stays server-side. On the wire it becomes an IsError result the model can
// act on ("postgres is unavailable; retry after 12s").
//
// # Example
//
//	pg, err := breaker.New("postgres", breaker.Settings{Timeout: 10 * time.Second})
//	if err != nil { ... }
//	set, _ := breaker.NewSet(pg)
//	set.OnStateChange(func(ctx context.Context, e breaker.Event) {
//		m.SetBreakerState(e.Name, string(e.To))
//	})
//
//	// inside a handler
//	err = pg.Execute(ctx, func(ctx context.Context) error {
//		return pool.QueryRow(ctx, q, id).Scan(&name)
//	})
//
//	// readiness fails while a breaker is open
//	ready := health.Breakers("breakers", set.OpenBreakers)
//
//	// around every registered tool, one breaker each
//	perTool, _ := set.PerTool(breaker.Settings{})
//	bulwark.Use(server, ..., breaker.Middleware(perTool), ...)
package breaker

// Package health serves liveness and readiness for an MCP server's admin
// listener, from named checks of its dependencies.
//
// # What it does
//
// [New] builds a [Monitor] holding named checks: [Ping] wraps any ping
// function (a *pgxpool.Pool's Ping, a go-redis client's Ping(ctx).Err()),
// [Breakers] fails while circuit breakers are open, and any [Check] or
// [CheckFunc] fits. The monitor runs every check concurrently, each under
// its own timeout (Settings.Timeout, 1s by default), and reuses the results
// for Settings.CacheFor (1s by default); concurrent probes share one run.
// So a probe storm costs each dependency one ping per CacheFor, and a
// dependency that hangs costs a probe one Timeout, not a hung request.
//
// [Monitor.Liveness] answers 200 {"status":"ok"} for as long as the process
// serves HTTP; it runs no checks, because a dead dependency is a reason to
// stop routing traffic, not to restart the process. [Monitor.Readiness]
// answers 200 when every check passes and 503 otherwise, naming each
// check's state:
//
//	{"status":"unavailable","checks":{"breakers":"open: payments","postgres":"down: timeout","redis":"ok"}}
//
// [Monitor.Drain] turns readiness to 503 {"status":"draining"} ahead of a
// graceful shutdown. [Mux] mounts /healthz, /readyz and, optionally,
// /metrics on one http.ServeMux.
//
// # What the bodies never contain
//
// Readiness is often reachable by more people than the logs are. A failing
// check is therefore described by a fixed classification ("down",
// "down: timeout", "down: refused", or "open: <breaker names>"), never by
// its error text, which may include a host, a user name or a whole
// connection string with its password. Check names are validated at
// registration (letters, digits, '_', '-', '.', ':'), and breaker names
// that are not plain identifiers are counted rather than shown. The error
// itself is handed to Settings.OnChange, for the operator's log.
//
// # Where it sits
//
// Not in the tool chain at all: health serves HTTP on an admin listener,
// apart from the listener that serves MCP, so probes need no MCP
// credentials and the MCP port does not expose operational state. Of the
// tool-chain layers (audit → recover → metrics → auth → validate →
// ratelimit/concurrency → timeout → cache → breaker → retry → handler) it
// reads only the breakers, through the function given to [Breakers]; it
// refuses nothing and returns no errors to MCP clients.
//
// # Example
//
//	mon, err := health.New(health.Settings{},
//		health.Ping("postgres", pool.Ping),
//		health.Ping("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }),
//		health.Breakers("breakers", openBreakerNames),
//	)
//	if err != nil { ... }
//	admin := &http.Server{Addr: "127.0.0.1:9090", Handler: health.Mux(mon, metrics.Handler(reg))}
//	go admin.ListenAndServe()
//	...
//	mon.Drain() // on SIGTERM, before shutting the MCP listener down
package health

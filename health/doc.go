// Package health serves liveness and readiness for an MCP server's admin
// listener, from named checks of its dependencies.
//
// # What it does
//
// [New] builds a [Monitor] holding named checks: [Ping] wraps any ping
// function (a *pgxpool.Pool's Ping, a go-redis client's Ping(ctx).Err()),
// [Breakers] fails while circuit breakers are open, and any [Check] or
// [CheckFunc] fits. The monitor runs every check concurrently, each under
// its own timeout (Config.Timeout, 1s by default), and reuses the results
// for Config.CacheFor (1s by default); concurrent probes share one run.
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
// # Draining
//
// [Monitor.Drain] begins a graceful shutdown: readiness turns to 503
// {"status":"draining"} so load balancers stop sending traffic, calls
// arriving through [Monitor.Middleware] are refused with
// bulwark.Unavailable (retry after a second, so a client goes to another
// instance), and Drain waits for the calls Middleware admitted to finish,
// or for its context to end, returning how many were still running.
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
// itself is handed to Config.OnChange, for the operator's log.
//
// # Where it sits
//
// Probes are served on an admin listener, apart from the listener that
// serves MCP, so probes need no MCP credentials and the MCP port does not
// expose operational state. Of the tool-chain layers (audit → recover →
// metrics → auth → validate → ratelimit/concurrency → timeout → cache →
// breaker → retry → handler) the checks read only the breakers, through
// the function given to [Breakers]. In the chain, [Monitor.Middleware] sits
// just inside audit and recover: it refuses only while draining, so those
// refusals are audited, and the calls it waits for include every layer
// that does work.
//
// # Example
//
//	mon, err := health.New(health.Config{},
//		health.Ping("postgres", pool.Ping),
//		health.Ping("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }),
//		health.Breakers("breakers", set.OpenBreakers), // set is a *breaker.Set
//	)
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), mon.Middleware(), metrics.Middleware(m))
//	admin := http.NewServeMux()
//	admin.Handle("/healthz", mon.Liveness())
//	admin.Handle("/readyz", mon.Readiness())
//	admin.Handle("/metrics", metrics.Handler(reg))
//	go http.ListenAndServe("127.0.0.1:9090", admin) // not the MCP listener
//
//	// On SIGTERM: stop taking calls, let running ones finish (20s at most),
//	// then shut the MCP listener down.
//	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
//	left := mon.Drain(ctx)
package health

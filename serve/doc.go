// Package serve runs an MCP server built on bulwark as a process: over
// stdio or streamable HTTP, with an admin listener for probes and metrics,
// and a graceful shutdown that lets running calls finish.
//
// # What it does
//
// [Start] serves an edge.Handler on a listener, at /mcp and its RFC 9728
// metadata paths, with bounded headers and idle connections and, given a
// certificate and key, over TLS; and, on [Config.AdminAddr], /healthz and
// /readyz from a health.Monitor and /metrics. [Server.Shutdown] drains.
//
// [Stdio] serves one client over stdin and stdout until it disconnects or
// the context ends (SIGTERM), then drains, and keeps stdout for JSON-RPC
// alone.
//
// [Probe] asks an admin listener's /healthz, for a container HEALTHCHECK
// run by the server's own binary.
//
// # Draining
//
// A shutdown calls [health.Monitor.Drain]: readiness turns to 503 so load
// balancers stop sending traffic; calls arriving through the monitor's
// Middleware are refused with bulwark.Unavailable (retry after a second);
// running calls get the drain budget to finish and their responses are
// written. Only then do sessions and connections close, and the admin
// listener last, so probes see the drain. Calls still running at the end
// of the budget are abandoned and counted in the log line. Close what the
// calls use (pools, the audit trail) after the shutdown returns.
//
// # Where it sits
//
// Outside everything: the call layers run inside the SDK's server
// (bulwark.Use), the edge's checks in front of it on HTTP, and serve
// around both. The monitor's Middleware belongs in the chain just inside
// audit and recover, so refused calls are audited.
//
// # Example
//
//	ln, err := edge.Listen(ctx, ":8080") // 127.0.0.1:8080
//	if err != nil { return err }
//	h, err := edge.New(server, edge.Config{Resource: "https://mcp.example.com/mcp"})
//	if err != nil { return err }
//	srv, err := serve.Start(serve.Config{Listener: ln, Edge: h,
//		AdminAddr: "127.0.0.1:9464", Health: mon, Metrics: metrics.Handler(reg)})
//	if err != nil { return err }
//	<-ctx.Done() // SIGTERM
//	return srv.Shutdown(20 * time.Second)
package serve

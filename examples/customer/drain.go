package main

import (
	"time"

	"github.com/bulwark-mcp/bulwark/health"
)

// newMonitor returns the server's health monitor, which also drains it:
// its Middleware (the drain layer, just inside recover) refuses new calls
// once shutdown has begun, with a retry hint so a client behind a load
// balancer goes to another instance, and its Drain turns readiness false
// and waits for the running calls. The readiness checks are added once the
// dependencies are open (buildHealth).
func newMonitor(s *Server) *health.Monitor {
	mon, err := health.New(health.Config{
		Timeout: time.Second,
		OnChange: func(c health.Change) {
			s.log.Warn("readiness changed", "check", c.Name, "from", c.From, "to", c.To)
		},
	})
	if err != nil {
		panic(err) // a fixed, valid configuration
	}
	return mon
}

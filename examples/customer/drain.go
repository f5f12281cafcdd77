package main

import (
	"context"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// drainer counts in-flight tool calls so a graceful shutdown can wait for
// them, and refuses new calls once shutdown has begun (with a retry hint,
// so a client behind a load balancer goes to another instance).
type drainer struct {
	mu       sync.Mutex
	inflight int
	draining bool
	idle     chan struct{} // closed when draining and inflight reaches 0
	onDrain  func()        // readiness turns false
}

func newDrainer() *drainer { return &drainer{idle: make(chan struct{})} }

// Middleware admits calls until Drain is called.
func (d *drainer) Middleware() bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !d.enter() {
				return nil, bulwark.Unavailable("the server is shutting down", time.Second, nil)
			}
			defer d.leave()
			return next(ctx, req)
		}
	}
}

func (d *drainer) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return false
	}
	d.inflight++
	return true
}

func (d *drainer) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inflight--
	if d.draining && d.inflight == 0 {
		close(d.idle)
	}
}

// Draining reports whether shutdown has begun (readiness turns false).
func (d *drainer) Draining() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}

// InFlight returns the number of calls running.
func (d *drainer) InFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inflight
}

// Drain refuses new calls and waits until the running ones finish or ctx
// ends. It returns the number of calls still running (0 on a clean drain).
func (d *drainer) Drain(ctx context.Context) int {
	d.mu.Lock()
	if !d.draining {
		if d.onDrain != nil {
			d.onDrain()
		}
		d.draining = true
		if d.inflight == 0 {
			close(d.idle)
		}
	}
	d.mu.Unlock()
	select {
	case <-d.idle:
		return 0
	case <-ctx.Done():
		return d.InFlight()
	}
}

package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// demoMain runs the scripted demo of internal/demo; it returns the exit status.
func demoMain(ctx context.Context, getenv func(string) string) int {
	return demo.Main(ctx, getenv, startDemo)
}

// startDemo starts the server from env alone, for the demo: HTTP on loopback.
func startDemo(ctx context.Context, env map[string]string) (*demo.Server, error) {
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	srv, err := NewServer(ctx, cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	h, err := srv.StartHTTP("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Join(err, srv.Close(ctx))
	}
	return &demo.Server{
		URL:       h.URL(),
		AdminAddr: h.AdminAddr(),
		Tool:      func(name string) (*mcp.Tool, bool) { return bulwark.LookupTool(srv.mcp, name) },
		AddTool:   func(t *mcp.Tool, th mcp.ToolHandler) { bulwark.AddToolHandler(srv.mcp, t, th) },
		Stop:      func() error { return errors.Join(h.Shutdown(5*time.Second), srv.Close(context.Background())) },
	}, nil
}

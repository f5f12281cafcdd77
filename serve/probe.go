package serve

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/bulwark-mcp/bulwark/edge"
)

// Probe asks the admin listener at addr (the AdminAddr the server was
// given) for /healthz, and returns nil on 200. A distroless container has
// no curl, so its HEALTHCHECK runs the server's own binary in a probe mode
// that calls Probe. An address that listens on every interface
// ("0.0.0.0:9464", "[::]:9464") or on a bare port is probed on loopback.
// Bound the probe with ctx.
func Probe(ctx context.Context, addr string) error {
	addr = edge.ListenAddr(addr)
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("serve: probe: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("serve: probe: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("serve: probe: %s answered %d", addr, resp.StatusCode)
	}
	return nil
}

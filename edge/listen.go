package edge

import (
	"context"
	"net"
	"strings"
)

// Listen listens on the TCP address addr. An address without a host
// (":8080"; "" for any free port) binds the loopback interface
// (127.0.0.1:8080), so a server started with a bare port is not reachable
// from other machines by accident. Listening on every interface must be
// asked for by name: "0.0.0.0:8080" or "[::]:8080".
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", ListenAddr(addr))
}

// ListenAddr returns the address [Listen] binds for addr: addr itself,
// except that a missing host becomes 127.0.0.1, and the empty address
// (which net.Listen takes for every interface) 127.0.0.1:0.
func ListenAddr(addr string) string {
	if strings.TrimSpace(addr) == "" {
		return "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || strings.TrimSpace(host) != "" {
		return addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

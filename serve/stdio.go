package serve

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// defaultDrain is Config.DrainTimeout's default.
const defaultDrain = 20 * time.Second

// Stdio serves server to one client over t (stdin and stdout, in a
// program) until the client disconnects or ctx ends, and the admin
// endpoints on cfg.AdminAddr meanwhile. When ctx ends (SIGTERM, say) it
// drains: cfg.Health stops taking calls (new ones are refused with a retry
// hint) and the running ones get cfg.DrainTimeout to finish; once their
// responses are written, and t's writer has been quiet for 100ms (2s at
// most), the session closes. Calls still running then are abandoned:
// Stdio returns 5s later at most, and closes t's writer. Stdio writes
// nothing to t but the server's JSON-RPC messages. A client that
// disconnects, or the drain's end, is a nil error.
func Stdio(ctx context.Context, server *mcp.Server, t *mcp.IOTransport, cfg Config) error {
	s, err := startAdmin(cfg)
	if err != nil {
		return err
	}
	defer s.closeAdmin()
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = defaultDrain
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	out := &quietWriter{WriteCloser: t.Writer}
	ran := make(chan error, 1)
	go func() {
		ran <- server.Run(runCtx, &mcp.IOTransport{Reader: t.Reader, Writer: out, MaxLineLength: t.MaxLineLength})
	}()
	select {
	case err = <-ran:
	case <-ctx.Done():
		s.drain(cfg.DrainTimeout)
		// A call's response is written just after its handler returns:
		// let the output go quiet before closing.
		out.waitQuiet(100*time.Millisecond, 2*time.Second)
		cancel()
		select {
		case err = <-ran:
		case <-time.After(closeTimeout):
			// The session waits for the calls the drain abandoned:
			// leave it, with its output closed.
			err = out.Close()
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

// quietWriter remembers when it was last written to.
type quietWriter struct {
	io.WriteCloser
	last atomic.Int64 // unix nanoseconds
}

func (w *quietWriter) Write(p []byte) (int, error) {
	n, err := w.WriteCloser.Write(p)
	w.last.Store(time.Now().UnixNano())
	return n, err
}

// waitQuiet returns once nothing has been written for quiet (counting from
// now at the earliest), or after limit.
func (w *quietWriter) waitQuiet(quiet, limit time.Duration) {
	start := time.Now()
	for time.Since(start) < limit {
		if time.Since(start) >= quiet && time.Since(time.Unix(0, w.last.Load())) >= quiet {
			return
		}
		time.Sleep(quiet / 5)
	}
}

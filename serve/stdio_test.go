package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/serve"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// recorder keeps every byte written to w.
type recorder struct {
	w  io.WriteCloser
	mu sync.Mutex
	b  bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.b.Write(p)
	r.mu.Unlock()
	return r.w.Write(p)
}

func (r *recorder) Close() error { return r.w.Close() }

// TestStdioDrain: when the context ends, the call in flight finishes and
// its response reaches the client, a new call is refused as unavailable,
// readiness turns to 503 on the admin listener, and then Stdio returns.
// Nothing but JSON-RPC is written to stdout.
func TestStdioDrain(t *testing.T) {
	server, mon, started, release := slowServer(t)
	inR, inW := io.Pipe()   // client → server
	outR, outW := io.Pipe() // server → client
	stdout := &recorder{w: outW}
	var log bytes.Buffer
	var logMu sync.Mutex
	admin := freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		err := serve.Stdio(ctx, server, &mcp.IOTransport{Reader: inR, Writer: stdout}, serve.Config{
			AdminAddr: admin, Health: mon, DrainTimeout: 5 * time.Second,
			Logger: slog.New(slog.NewTextHandler(testenv.LockedWriter{Mu: &logMu, W: &log}, nil)),
		})
		outW.Close()
		done <- err
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, nil).Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := serve.Probe(context.Background(), admin); err != nil {
		t.Fatalf("probe while serving: %v", err)
	}

	slow := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, err := callTool(context.Background(), cs, "slow")
		if err != nil {
			t.Errorf("in-flight call: %v", err)
		}
		slow <- res
	}()
	<-started
	stop() // SIGTERM
	waitFor(t, "readiness to turn 503", func() bool { return status(t, "http://"+admin+"/readyz") == http.StatusServiceUnavailable })
	res, err := callTool(context.Background(), cs, "fast")
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodeUnavailable || r.RetryAfterSeconds < 1 {
		t.Fatalf("a call during the drain: %+v %v, want unavailable with a retry hint", res, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Stdio returned with a call in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := text(<-slow); got != "slow done" {
		t.Fatalf("in-flight call got %q", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Stdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stdio did not return after the drain")
	}
	if err := serve.Probe(context.Background(), admin); err == nil {
		t.Fatal("the admin listener is still up after Stdio returned")
	}
	logMu.Lock()
	if !strings.Contains(log.String(), "calls_abandoned=0") {
		t.Errorf("log: %s", log.String())
	}
	logMu.Unlock()
	stdout.mu.Lock()
	defer stdout.mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(stdout.b.String(), "\n"), "\n")
	if len(lines) < 3 { // initialize and two calls
		t.Fatalf("stdout: %q", stdout.b.String())
	}
	for _, l := range lines {
		var m struct {
			JSONRPC string `json:"jsonrpc"`
		}
		if json.Unmarshal([]byte(l), &m) != nil || m.JSONRPC != "2.0" {
			t.Fatalf("stdout carried a line that is not JSON-RPC: %q", l)
		}
	}
}

// A client that disconnects ends Stdio without error, and without a drain.
func TestStdioClientDisconnects(t *testing.T) {
	server, mon, _, _ := slowServer(t)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serve.Stdio(context.Background(), server, &mcp.IOTransport{Reader: inR, Writer: outW}, serve.Config{Health: mon})
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, nil).Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := callTool(context.Background(), cs, "fast"); err != nil || text(res) != "fast done" {
		t.Fatalf("%v %v", res, err)
	}
	cs.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Stdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stdio did not return when the client left")
	}
	if mon.Check(context.Background()).Status != "ok" {
		t.Fatal("a disconnect drained the monitor")
	}
}

// An admin address that cannot be listened on is an error before serving.
func TestStdioAdminListenError(t *testing.T) {
	server, _, _, _ := slowServer(t)
	inR, _ := io.Pipe()
	_, outW := io.Pipe()
	err := serve.Stdio(context.Background(), server, &mcp.IOTransport{Reader: inR, Writer: outW}, serve.Config{AdminAddr: "256.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("err = %v", err)
	}
}

// A call still running when the drain budget ends is abandoned: Stdio
// returns anyway.
func TestStdioDrainBudget(t *testing.T) {
	server, mon, started, release := slowServer(t)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.Stdio(ctx, server, &mcp.IOTransport{Reader: inR, Writer: outW}, serve.Config{Health: mon, DrainTimeout: 200 * time.Millisecond})
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, nil).Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// Deferred last, so it runs first: the abandoned call ends before
	// the client waits for it on Close.
	defer close(release)
	go callTool(context.Background(), cs, "slow")
	<-started
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Stdio: %v", err)
		}
	case <-time.After(8 * time.Second): // 0.2s of drain, 5s to close
		t.Fatal("Stdio waited for a call past its drain budget")
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// testKeys are the API keys of the test principals.
type testKeys struct {
	file   string
	reader string // customers:read
	admin  string // customers:read, customers:write
	other  string // a second reader, for isolation tests
}

func writeKeys(t testing.TB) testKeys {
	t.Helper()
	var k testKeys
	var entries []auth.KeyEntry
	for _, p := range []struct {
		name   string
		dst    *string
		scopes []string
	}{
		{"reader", &k.reader, []string{scopeRead}},
		{"admin", &k.admin, []string{scopeRead, scopeWrite}},
		{"other-reader", &k.other, []string{scopeRead}},
	} {
		key, e, err := auth.GenerateKey(p.name, p.scopes...)
		if err != nil {
			t.Fatal(err)
		}
		*p.dst = key
		entries = append(entries, e)
	}
	b, _ := json.Marshal(entries)
	k.file = filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(k.file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// testEnv is the environment of a test server.
func testEnvMap(dbURL string, keys testKeys) map[string]string {
	return map[string]string{
		"DATABASE_URL":  dbURL,
		"API_KEYS_FILE": keys.file,
		"RATE_LIMIT":    "100000",
		"LOG_LEVEL":     "error",
		"DB_MIN_CONNS":  "1",
		"DB_MAX_CONNS":  "8",
		"CURSOR_KEY":    testCursorKey,
	}
}

// testCursorKey signs the search cursors of test servers, so that tests
// can make cursors the server accepts.
const testCursorKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// lockedBuffer is a goroutine-safe buffer for logs and audit output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type fixture struct {
	t     testing.TB
	db    string
	keys  testKeys
	env   map[string]string
	cfg   *Config
	srv   *Server
	http  *HTTPServer
	log   *lockedBuffer
	audit *lockedBuffer
}

// newFixture starts a server on a fresh database over streamable HTTP.
// mutate may adjust the environment first.
func newFixture(t testing.TB, mutate func(env map[string]string)) *fixture {
	t.Helper()
	f := &fixture{t: t, db: testenv.NewDatabase(t), keys: writeKeys(t), log: &lockedBuffer{}, audit: &lockedBuffer{}}
	f.env = testEnvMap(f.db, f.keys)
	if mutate != nil {
		mutate(f.env)
	}
	return f.start()
}

// start builds the server from f.env and serves it over HTTP.
func (f *fixture) start() *fixture {
	t := f.t
	t.Helper()
	cfg, err := LoadConfig(getenvFrom(f.env))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := Options{Logger: slog.New(slog.NewJSONHandler(f.log, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if f.env["AUDIT_LOG"] == "" {
		opts.AuditOut = f.audit
	}
	srv, err := NewServer(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	h, err := srv.StartHTTP("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		srv.Close(context.Background())
		t.Fatal(err)
	}
	f.http = h
	t.Cleanup(func() {
		_ = h.Shutdown(5 * time.Second)
		_ = srv.Close(context.Background())
	})
	return f
}

// connect opens an MCP client session over streamable HTTP with token.
func connectHTTP(t testing.TB, url, token string) *mcp.ClientSession {
	t.Helper()
	cs, err := demo.Dial(context.Background(), url, token)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func (f *fixture) connect(token string) *mcp.ClientSession {
	return connectHTTP(f.t, f.http.URL(), token)
}

// call invokes a tool and returns the result, the JSON-RPC error and the
// refusal, if any.
//
//lint:ignore ST1008 returns what CallTool returned, in its order, followed by the refusal read from them
func call(t testing.TB, cs *mcp.ClientSession, tool string, args any) (*mcp.CallToolResult, error, *bulwark.Refusal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	return res, err, bulwark.RefusalOf(res, err)
}

// mustOK calls a tool and fails the test unless it succeeded; it decodes
// the structured result into out (if not nil).
func mustOK(t testing.TB, cs *mcp.ClientSession, tool string, args any, out any) *mcp.CallToolResult {
	t.Helper()
	res, err, ref := call(t, cs, tool, args)
	if err != nil || res.IsError {
		t.Fatalf("%s(%v): err=%v refusal=%+v text=%q", tool, args, err, ref, bulwarktest.ResultText(res))
	}
	if out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: decoding %s: %v", tool, b, err)
		}
	}
	return res
}

var _ = io.Discard
var _ = strings.Contains

// burstCounts is how a burst of concurrent get_customer calls against a
// shared rate limit ended.
type burstCounts struct {
	served, limited, unanswered int64
	// refill is how many tokens a 30-a-minute limit may have regained
	// while the burst ran (one every 2s, plus one for a boundary).
	refill int64
}

// burst sends n concurrent get_customer calls of distinct customers (from
// first on), call i on session(i), and counts how they ended. A call the
// Redis limiter refused unanswered (on a loaded machine a Redis answer can
// miss the store's timeout; the limiter fails closed, as documented) is
// counted apart: it may not have spent a token. Any other outcome fails
// the test.
func burst(t *testing.T, n, first int, session func(i int) *mcp.ClientSession) burstCounts {
	t.Helper()
	var served, limited, unanswered atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err, ref := call(t, session(i), toolGetCustomer, map[string]any{"customer_id": fmt.Sprintf("C-%06d", first+i)})
			switch {
			case err == nil && ref == nil:
				served.Add(1)
			case ref != nil && ref.Code == bulwark.CodeRateLimited:
				limited.Add(1)
			case ref != nil && ref.Code == bulwark.CodeUnavailable && strings.HasPrefix(ref.Message, "rate limiter unavailable"):
				unanswered.Add(1)
			default:
				t.Errorf("call %d: %v %+v", i, err, ref)
			}
		}()
	}
	wg.Wait()
	return burstCounts{served.Load(), limited.Load(), unanswered.Load(), int64(time.Since(start)/(2*time.Second)) + 1}
}

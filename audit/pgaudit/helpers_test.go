package pgaudit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// newLogger builds a Logger for a test; waits for the writer may last a
// minute unless the test sets its own WriteTimeout (a busy machine under
// -race must not turn a slow write into a refusal).
func newLogger(t testing.TB, sink audit.Sink, cfg audit.Config) *audit.Logger {
	t.Helper()
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = time.Minute
	}
	l, err := audit.New(sink, testKey, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// memSink keeps signed records in memory.
type memSink struct {
	mu   sync.Mutex
	recs []*audit.Record
}

func (s *memSink) Write(_ context.Context, r *audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
	return nil
}

func (s *memSink) records() []*audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*audit.Record(nil), s.recs...)
}

// asPrincipal sets the call's principal, as auth would.
func asPrincipal(id string) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			bulwark.CallFrom(ctx).SetPrincipal(&bulwark.Principal{ID: id, Method: "api_key"})
			return next(ctx, req)
		}
	}
}

// call runs one call through mw around h and returns what the chain returned.
//
//lint:ignore ST1008 returns what the chain returned, in the handler's order, followed by the call record
func call(t testing.TB, ctx context.Context, mw bulwark.Middleware, h mcp.ToolHandler, tool string, args any) (*mcp.CallToolResult, error, *bulwark.Call) {
	t.Helper()
	req := bulwarktest.Request(tool, args)
	ctx, c := bulwarktest.Context(ctx, req, nil)
	res, err := mw(h)(ctx, req)
	return res, err, c
}

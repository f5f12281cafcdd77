package audit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/internal/memkeys"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// asPrincipal sets the caller, as auth would.
func asPrincipal(id string) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			bulwark.CallFrom(ctx).SetPrincipal(&bulwark.Principal{ID: id, Method: "api_key"})
			return next(ctx, req)
		}
	}
}

func TestPurge(t *testing.T) {
	ks := &memkeys.Store{}
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{ErasureKeys: ks})
	ctx := context.Background()
	h := (&bulwarktest.Recorder{}).Handle
	for _, who := range []string{"alice", "bob", "alice"} {
		mw := bulwark.Chain(audit.Middleware(l), asPrincipal(who))
		if _, err, _ := call(t, ctx, mw, h, "update_email", map[string]any{"email": who + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	text := string(sink.text())
	for _, personal := range []string{"alice", "bob", "example.com"} {
		if strings.Contains(text, personal) {
			t.Fatalf("%q stored in clear:\n%s", personal, text)
		}
	}
	recs := sink.records()
	for i, who := range []string{"alice", "bob", "alice"} {
		p, err := recs[i].Open(ctx, ks)
		if err != nil || p.Principal != who || !strings.Contains(string(p.Arguments), who+"@example.com") {
			t.Fatalf("record %d opens to %+v, %v", i, p, err)
		}
	}
	if err := l.Purge(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for i, who := range []string{"alice", "bob", "alice"} {
		p, err := recs[i].Open(ctx, ks)
		if who == "alice" && !errors.Is(err, audit.ErrKeyDestroyed) {
			t.Fatalf("alice's record %d still opens: %+v %v", i, p, err)
		}
		if who == "bob" && (err != nil || p.Principal != "bob") {
			t.Fatalf("bob's record lost: %v", err)
		}
	}
	// Calls by alice after the purge use a fresh key.
	if _, err, _ := call(t, ctx, bulwark.Chain(audit.Middleware(l), asPrincipal("alice")), h, "t", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(bytes.NewReader(sink.text()), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Purges != 1 {
		t.Fatalf("report %+v", rep)
	}
	purge := sink.records()[3]
	if purge.Kind != audit.KindPurge || purge.Fields["keys"] != recs[0].Sealed.Key || strings.Contains(string(purge.Line()), "alice") {
		t.Fatalf("purge record %s", purge.Line())
	}
	if err := newLogger(t, audit.Discard, audit.Config{}).Purge(ctx, "x"); err == nil {
		t.Fatal("purge without a key store accepted")
	}
}

func TestConfigSubject(t *testing.T) {
	ks := &memkeys.Store{}
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{ErasureKeys: ks, Subject: func(ctx context.Context, req *mcp.CallToolRequest) string { return "customer-42" }})
	defer l.Close(context.Background())
	mw := audit.Middleware(l)
	call(t, context.Background(), mw, (&bulwarktest.Recorder{}).Handle, "t", map[string]any{"x": 1})
	if _, err := ks.Destroy(context.Background(), "customer-42"); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.records()[0].Open(context.Background(), ks); !errors.Is(err, audit.ErrKeyDestroyed) {
		t.Fatalf("open after destroy: %v", err)
	}
}

func TestRetentionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	sink, err := audit.OpenFile(path, audit.FileConfig{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := bulwarktest.NewFakeClock(t0)
	l := newLogger(t, sink, audit.Config{Clock: clock})
	ctx := context.Background()
	logN := func(n int) {
		for i := 0; i < n; i++ {
			if err := l.Log(ctx, &audit.Record{Kind: audit.KindCall, Tool: "t", Outcome: "ok"}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
		}
	}
	verify := func(wantAnchored bool) audit.Verification {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := audit.VerifyOpen(f, testKey)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Anchored != wantAnchored {
			t.Fatalf("report %+v", rep)
		}
		return rep
	}
	logN(10)
	n, err := l.Prune(ctx, t0.Add(5*time.Minute))
	if err != nil || n != 5 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	rep := verify(true)
	if rep.FirstSeq != 6 || rep.LastSeq != 11 { // five kept plus the retention record
		t.Fatalf("report %+v", rep)
	}
	logN(3)
	n, err = l.Prune(ctx, t0.Add(12*time.Minute))
	if err != nil || n != 8 { // seq 6 to 13
		t.Fatalf("second Prune = %d, %v", n, err)
	}
	verify(true)
	if n, err := l.Prune(ctx, t0); err != nil || n != 0 {
		t.Fatalf("no-op Prune = %d, %v", n, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(bytes.NewReader(b), testKey); err != nil {
		t.Fatal(err)
	}
	// Dropping the anchor itself is caught.
	lines := bytes.SplitAfter(b, []byte("\n"))
	if _, err := audit.Verify(bytes.NewReader(bytes.Join(lines[1:], nil)), testKey); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("trail without its anchor: %v", err)
	}
	if _, err := newLogger(t, audit.Discard, audit.Config{}).Prune(ctx, t0); err == nil {
		t.Fatal("Prune on a sink without retention accepted")
	}
}

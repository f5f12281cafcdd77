package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/internal/memkeys"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var exampleKey = []byte("example-key-example-key-example-key!")

var exampleClock = bulwarktest.NewFakeClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))

func ExampleNew() {
	var out bytes.Buffer
	sink := audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		out.Write(r.Line())
		out.WriteByte('\n')
		return nil
	})
	trail, err := audit.New(sink, exampleKey, audit.Config{Clock: exampleClock})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	trail.Log(ctx, &audit.Record{Kind: audit.KindCall, ID: "c-1", Tool: "get_customer", Outcome: string(bulwark.OutcomeOK)})
	trail.Close(ctx)
	rep, err := audit.Verify(&out, exampleKey)
	fmt.Println(rep.Records, rep.Sealed, err)
	// Output: 2 true <nil>
}

func ExampleParseKey() {
	// The same 32 bytes, in hex and in base64.
	fromHex, _ := audit.ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	fromBase64, _ := audit.ParseKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	fmt.Println(len(fromHex), bytes.Equal(fromHex, fromBase64))
	_, err := audit.ParseKey("correct horse battery staple!!!!!!")
	fmt.Println(err)
	// Output:
	// 32 true
	// audit: the chain key is neither hex nor base64; make one with `openssl rand -hex 32`
}

func ExampleMiddleware() {
	var records []*audit.Record
	sink := audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		records = append(records, r)
		return nil
	})
	trail, _ := audit.New(sink, exampleKey, audit.Config{})
	defer trail.Close(context.Background())

	s := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "1"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "get_customer", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, bulwark.PermissionDenied("needs scope customers:read")
		})
	bulwark.Use(s, audit.Middleware(trail), bulwark.Recover(nil))

	ctx := context.Background()
	ct, st := mcp.NewInMemoryTransports()
	ss, _ := s.Connect(ctx, st, nil)
	cs, _ := mcp.NewClient(&mcp.Implementation{Name: "example-client", Version: "1.0"}, nil).Connect(ctx, ct, nil)
	cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_customer", Arguments: map[string]any{"id": 7, "api_key": "k-123"}})
	cs.Close()
	ss.Wait()
	r := records[0]
	fmt.Println(r.Tool, r.Outcome, r.Reason, string(r.Arguments), r.Client)
	// Output: get_customer permission_denied needs scope customers:read {"api_key":"[REDACTED]","id":7} example-client
}

// A trail that must never hold the arguments themselves keeps a keyed
// digest of them.
func ExampleConfig_digestOnly() {
	var rec *audit.Record
	trail, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error { rec = r; return nil }), exampleKey, audit.Config{DigestOnly: true})
	mw := audit.Middleware(trail)
	req := bulwarktest.Request("set_pin", map[string]any{"pin": "1234"})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	mw((&bulwarktest.Recorder{}).Handle)(ctx, req)
	fmt.Println(rec.Arguments == nil, strings.HasPrefix(rec.ArgumentsDigest, "hmac-sha256:"))
	// Output: true true
}

func ExampleConfig_subject() {
	ks := &memkeys.Store{}
	var rec *audit.Record
	trail, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error { rec = r; return nil }), exampleKey, audit.Config{
		ErasureKeys: ks,
		// Seal each call's personal fields under the customer it concerns.
		Subject: func(_ context.Context, req *mcp.CallToolRequest) string {
			var a struct{ CustomerID string }
			json.Unmarshal(req.Params.Arguments, &a)
			return a.CustomerID
		},
	})
	req := bulwarktest.Request("update_email", map[string]any{"CustomerID": "c-42", "email": "ada@example.com"})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	audit.Middleware(trail)((&bulwarktest.Recorder{}).Handle)(ctx, req)
	p, _ := rec.Open(context.Background(), ks)
	fmt.Println(rec.Arguments == nil, string(p.Arguments))
	// Output: true {"CustomerID":"c-42","email":"ada@example.com"}
}

func ExampleOpenFile() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.log")
	sink, err := audit.OpenFile(path, audit.FileConfig{SyncInterval: 50 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	trail, _ := audit.New(sink, exampleKey, audit.Config{})
	trail.Log(context.Background(), &audit.Record{Kind: audit.KindCall, Tool: "t"})
	trail.Close(context.Background()) // seals and closes the file
	f, _ := os.Open(path)
	defer f.Close()
	rep, err := audit.Verify(f, exampleKey)
	fmt.Println(rep.LastSeq, rep.Sealed, err)
	// Output: 2 true <nil>
}

func ExampleVerify() {
	var out bytes.Buffer
	trail, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		out.Write(r.Line())
		out.WriteByte('\n')
		return nil
	}), exampleKey, audit.Config{})
	for _, tool := range []string{"a", "b", "c"} {
		trail.Log(context.Background(), &audit.Record{Kind: audit.KindCall, Tool: tool})
	}
	trail.Close(context.Background())
	// Someone deletes the second record.
	lines := strings.SplitAfter(out.String(), "\n")
	tampered := lines[0] + strings.Join(lines[2:], "")
	_, err := audit.Verify(strings.NewReader(tampered), exampleKey)
	fmt.Println(err)
	// Output: audit: line 2 (seq 3): expected seq 2: records deleted, inserted or reordered
}

func ExampleVerifyOpen() {
	var out bytes.Buffer
	trail, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		out.Write(r.Line())
		out.WriteByte('\n')
		return nil
	}), exampleKey, audit.Config{})
	trail.Log(context.Background(), &audit.Record{Kind: audit.KindCall, Tool: "a"})
	// The logger is still running: no seal yet.
	rep, err := audit.VerifyOpen(bytes.NewReader(out.Bytes()), exampleKey)
	fmt.Println(rep.Records, rep.Sealed, err)
	// Output: 1 false <nil>
}

func ExampleParseRecord() {
	var line []byte
	trail, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error { line = r.Line(); return nil }), exampleKey, audit.Config{})
	trail.Log(context.Background(), &audit.Record{Kind: audit.KindCall, Tool: "get_customer", Outcome: "rate_limited"})
	r, err := audit.ParseRecord(line)
	fmt.Println(r.Seq, r.Tool, r.Outcome, err)
	// Output: 1 get_customer rate_limited <nil>
}

func ExampleNewSlogSink() {
	// Standard error by default; here a JSON handler on standard output
	// without the time, to show the shape of a line.
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	trail, _ := audit.New(audit.NewSlogSink(slog.New(h)), exampleKey, audit.Config{Clock: exampleClock})
	trail.Log(context.Background(), &audit.Record{Kind: audit.KindCall, ID: "c-1", Tool: "ping", Outcome: "ok"})
	// Output: {"level":"INFO","msg":"audit","audit":{"seq":1,"kind":"call","time":"2026-05-01T12:00:00Z","id":"c-1","tool":"ping","outcome":"ok","prev":"","mac":"28338e9e6d8ad6986614fce90c32bde582b563781d73a24d351337bb6144fbf9"}}
}

func ExampleLogger_Purge() {
	ks := &memkeys.Store{}
	var recs []*audit.Record
	trail, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error { recs = append(recs, r); return nil }), exampleKey, audit.Config{ErasureKeys: ks})
	req := bulwarktest.Request("update_email", map[string]any{"email": "ada@example.com"})
	ctx, c := bulwarktest.Context(context.Background(), req, nil)
	c.SetPrincipal(&bulwark.Principal{ID: "ada", Method: "api_key"})
	audit.Middleware(trail)((&bulwarktest.Recorder{}).Handle)(ctx, req)

	p, _ := recs[0].Open(context.Background(), ks)
	fmt.Println("before purge:", p.Principal)
	trail.Purge(context.Background(), "ada")
	_, err := recs[0].Open(context.Background(), ks)
	fmt.Println("after purge:", err, "| last record:", recs[len(recs)-1].Kind)
	// Output:
	// before purge: ada
	// after purge: audit: subject key destroyed | last record: purge
}

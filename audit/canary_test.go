package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/redact"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// canaries are planted secrets; none may reach any output.
var canaries = map[string]string{
	"api key":        "sk-live-Q7w2E9r4T6y1U8i3O5p0A2s4",
	"jwt":            "eyJhbGciOiJSUzI1NiIsImtpZCI6ImNhbmFyeSJ9.eyJzdWIiOiJjYW5hcnktdXNlciIsInNjb3BlIjoiYWRtaW4ifQ.Q2FuYXJ5U2lnbmF0dXJlQ2FuYXJ5U2lnbmF0dXJl",
	"db password":    "Canary-DB-pw-7781",
	"argument token": "q8Lm2+Rt7/Wx1Vb6Nc3Kp0Hs5Dg9Fj4TyZe1",
}

// forms returns every encoding of s the test looks for.
func forms(s string) []string {
	return []string{
		s,
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)),
		base64.RawURLEncoding.EncodeToString([]byte(s)),
		url.QueryEscape(s),
		url.PathEscape(s),
	}
}

func TestCanary(t *testing.T) {
	apiKey, jwt, dbPass, argTok := canaries["api key"], canaries["jwt"], canaries["db password"], canaries["argument token"]
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	// The server knows its database password and registers it.
	red, err := redact.New(redact.Config{Secrets: []string{dbPass}})
	if err != nil {
		t.Fatal(err)
	}
	var oplog, slogOut bytes.Buffer
	mem := &memSink{}
	path := filepath.Join(t.TempDir(), "audit.log")
	file, err := audit.OpenFile(path, audit.FileConfig{})
	if err != nil {
		t.Fatal(err)
	}
	slogSink := audit.NewSlogSink(slog.New(slog.NewJSONHandler(&slogOut, nil)))
	fanout := audit.SinkFunc(func(ctx context.Context, r *audit.Record) error {
		return errors.Join(mem.Write(ctx, r), file.Write(ctx, r), slogSink.Write(ctx, r))
	})
	// Operator logs (bulwark.ToWire and Recover log raw causes) go through
	// the redacting handler, as a server's default logger should.
	operator := slog.New(red.Handler(slog.NewJSONHandler(&oplog, nil)))
	l := newLogger(t, fanout, audit.Config{Redactor: red, Log: operator})

	args := map[string]any{
		"auth_token":    argTok,
		"note":          "use key " + apiKey + " please",
		"encoded":       b64(argTok),
		"encoded_jwt":   b64(jwt),
		"query":         "token=" + url.QueryEscape(argTok) + "&x=1",
		"header":        "Bearer " + jwt,
		"free":          "the password is " + dbPass + " (" + b64(dbPass) + ", " + url.QueryEscape(dbPass) + ")",
		"nested":        map[string]any{"list": []any{apiKey, jwt, b64(apiKey)}},
		"Authorization": "Basic " + b64("user:"+dbPass),
	}
	handlers := []mcp.ToolHandler{
		errHandler(fmt.Errorf("connect postgres://app:%s@db:5432/customers: token %s rejected (%s)", dbPass, jwt, b64(dbPass))),
		errHandler(bulwark.Unavailable("database down", 0, fmt.Errorf("auth with %s failed", apiKey))),
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			// An unexpected error in a result: the audit record keeps a
			// redacted copy of its text.
			r := &mcp.CallToolResult{}
			r.SetError(fmt.Errorf("upstream said: invalid api key %s", apiKey))
			return r, nil
		},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			panic("token " + argTok + " leaked into a panic")
		},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			bulwark.CallFrom(ctx).SetField("upstream", "Bearer "+jwt)
			return bulwarktest.TextResult("ok"), nil
		},
	}
	var clientErrs strings.Builder
	for _, h := range handlers {
		res, err, _ := call(t, context.Background(), audit.Middleware(l), h, "update_customer", args)
		// What the client would receive.
		wres, werr := bulwark.ToWire(nil, res, err, operator)
		if werr != nil {
			clientErrs.WriteString(werr.Error())
		}
		if wres != nil && bulwark.RefusalOf(wres, nil) != nil {
			clientErrs.WriteString(bulwarktest.ResultText(wres))
		}
	}
	// The failure path writes records to the operator log.
	failing := newLogger(t, audit.SinkFunc(func(context.Context, *audit.Record) error {
		return fmt.Errorf("insert failed: password=%s", dbPass)
	}), audit.Config{Redactor: red, Log: operator})
	call(t, context.Background(), audit.Middleware(failing), handlers[0], "update_customer", args)
	failing.Close(context.Background())
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	fileOut, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"memory sink":   string(mem.text()),
		"file sink":     string(fileOut),
		"slog sink":     slogOut.String(),
		"operator log":  oplog.String(),
		"client errors": clientErrs.String(),
	}
	for out, text := range outputs {
		if text == "" && out != "client errors" {
			t.Fatalf("%s is empty", out)
		}
		for name, secret := range canaries {
			for _, f := range forms(secret) {
				if strings.Contains(text, f) {
					t.Errorf("%s leaked into %s (as %q)", name, out, f)
				}
			}
		}
	}
	if !strings.Contains(outputs["memory sink"], redact.Mask) {
		t.Fatal("nothing was masked: the test planted nothing")
	}
	if _, err := audit.Verify(bytes.NewReader(fileOut), testKey); err != nil {
		t.Fatal(err)
	}
}

// The signed records of the slog sink pass through a redacting handler
// byte for byte.
func TestSlogSinkThroughRedactingHandler(t *testing.T) {
	var out bytes.Buffer
	var red *redact.Redactor
	log := slog.New(red.Handler(slog.NewJSONHandler(&out, nil)))
	l := newLogger(t, audit.NewSlogSink(log), audit.Config{})
	r := &audit.Record{Tool: "t", Sealed: &audit.Sealed{Key: "k1", Data: "QmFzZTY0Q2lwaGVydGV4dE9mUGVyc29uYWxEYXRhMTIz"}}
	if err := l.Log(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"audit":`+string(r.Line())) {
		t.Fatalf("signed record altered:\n%s\nwant %s", out.String(), r.Line())
	}
	l.Close(context.Background())
}

// A registered secret that straddles the point where a long message is
// cut must not leave its first half in the record: redaction has to see
// the whole secret before anything is cut.
func TestSecretAtTruncationPointIsMasked(t *testing.T) {
	const secret = "Zq7-db-password-Wm3x"
	red, err := redact.New(redact.Config{Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		limit int // where the middleware cuts this kind of text
		h     func(msg string) mcp.ToolHandler
		field func(r *audit.Record) string
	}{
		{"tool error text", 1024, func(msg string) mcp.ToolHandler {
			return func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				r := &mcp.CallToolResult{}
				r.SetError(errors.New(msg))
				return r, nil
			}
		}, func(r *audit.Record) string { return r.Reason }},
		{"rpc error message", 1024, func(msg string) mcp.ToolHandler {
			return func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}
			}
		}, func(r *audit.Record) string { return r.Reason }},
		{"internal error cause", 4096, func(msg string) mcp.ToolHandler {
			return func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return nil, errors.New(msg)
			}
		}, func(r *audit.Record) string { return r.Detail }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 1; cut < len(secret); cut++ {
				msg := strings.Repeat("x ", tc.limit) // longer than the limit
				msg = msg[:tc.limit-cut] + secret + " tail"
				sink := &memSink{}
				l := newLogger(t, sink, audit.Config{Redactor: red})
				call(t, context.Background(), audit.Middleware(l), tc.h(msg), "t", nil)
				l.Close(context.Background())
				got := tc.field(sink.records()[0])
				if strings.Contains(got, secret[:cut]) && cut >= 4 {
					t.Fatalf("cut %d: %q of the secret is in the record: ...%q", cut, secret[:cut], got[max(0, len(got)-40):])
				}
			}
		})
	}
}

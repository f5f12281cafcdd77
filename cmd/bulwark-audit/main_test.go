package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
)

// keyText is the chain key as AUDIT_HMAC_KEY holds it (hex); key is what
// it decodes to, the key the trails are written with.
const keyText = "2f6c1d0e9a8b7c6d5e4f30211203f4e5d6c7b8a9908172635445362718090a1b"

var key, _ = hex.DecodeString(keyText)

func writeTrail(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	sink, err := audit.OpenFile(path, audit.FileConfig{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(sink, key, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"a", "b", "c"} {
		if err := l.Log(context.Background(), &audit.Record{Kind: audit.KindCall, Tool: tool}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	t.Setenv(keyEnv, keyText)
	good := writeTrail(t)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "edited.log")
	os.WriteFile(edited, bytes.Replace(b, []byte(`"tool":"b"`), []byte(`"tool":"x"`), 1), 0o600)
	lines := bytes.SplitAfter(b, []byte("\n"))
	unsealed := filepath.Join(t.TempDir(), "unsealed.log")
	os.WriteFile(unsealed, bytes.Join(lines[:3], nil), 0o600)

	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
	}{
		{"intact", []string{"verify", good}, "", 0, "OK: 4 records"},
		{"stdin", []string{"verify", "-"}, string(b), 0, "OK: 4 records"},
		{"edited", []string{"verify", edited}, "", 1, "line 2 (seq 2): MAC mismatch"},
		{"truncated", []string{"verify", unsealed}, "", 1, "without a seal"},
		{"truncated but open", []string{"verify", "-open", unsealed}, "", 0, "sealed=false"},
		{"missing file", []string{"verify", filepath.Join(t.TempDir(), "nope")}, "", 2, "no such file"},
		{"no command", nil, "", 2, "usage"},
		{"two files", []string{"verify", good, good}, "", 2, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.out) {
				t.Fatalf("code %d, stdout %q, stderr %q; want %d and %q", code, stdout.String(), stderr.String(), tt.code, tt.out)
			}
		})
	}
	// The key's text in base64 is the same key.
	t.Setenv(keyEnv, base64.StdEncoding.EncodeToString(key))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"verify", good}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("base64 key: code %d, %q %q", code, stdout.String(), stderr.String())
	}
	// Unset and short keys: refused with different messages, each naming
	// the variable and saying how to make a key.
	for _, tc := range []struct{ text, says string }{
		{"", "AUDIT_HMAC_KEY: audit: the chain key is not set"},
		{"abcd", "AUDIT_HMAC_KEY: audit: the chain key decodes to 2 bytes, fewer than 32"},
	} {
		t.Setenv(keyEnv, tc.text)
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"verify", good}, nil, &stdout, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), tc.says) || !strings.Contains(stderr.String(), "openssl rand -hex 32") {
			t.Fatalf("key %q: code %d, %q", tc.text, code, stderr.String())
		}
	}
}

func TestRunPostgres(t *testing.T) {
	t.Setenv(keyEnv, keyText)
	dbURL := testenv.NewDatabase(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sink, err := pgaudit.New(pool, pgaudit.Config{Table: "trail"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(sink, key, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"a", "b"} {
		if err := l.Log(ctx, &audit.Record{Tool: tool}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"verify", "-db", dbURL, "-table", "trail"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d: %s %s", code, stdout.String(), stderr.String())
	}
	if _, err := pool.Exec(ctx, `DELETE FROM trail WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run([]string{"verify", "-db", dbURL, "-table", "trail"}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "expected seq 2") {
		t.Fatalf("code %d: %s", code, stdout.String())
	}
	if code := run([]string{"verify", "-db", dbURL, "file"}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("-db with a file: code %d", code)
	}
	stderr.Reset()
	bad := "postgres://app:Sup3r-s3cret-pw@127.0.0.1:1/x?connect_timeout=1"
	if code := run([]string{"verify", "-db", bad}, nil, &stdout, &stderr); code != 2 || strings.Contains(stderr.String(), "Sup3r-s3cret-pw") {
		t.Fatalf("unreachable database: code %d, stderr %q", code, stderr.String())
	}
}

// TestRunPostgresFleet: one table, three instances' chains; the verifier
// reports each, and tampering with one fails that one alone.
func TestRunPostgresFleet(t *testing.T) {
	t.Setenv(keyEnv, keyText)
	dbURL := testenv.NewDatabase(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	base, err := pgaudit.New(pool, pgaudit.Config{Table: "trail"})
	if err != nil {
		t.Fatal(err)
	}
	if err := base.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		sink, err := pgaudit.New(pool, pgaudit.Config{Table: "trail", Instance: name})
		if err != nil {
			t.Fatal(err)
		}
		l, err := audit.New(sink, key, audit.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tool := range []string{"x", "y"} {
			if err := l.Log(ctx, &audit.Record{Tool: tool}); err != nil {
				t.Fatal(err)
			}
		}
		if name != "c" { // c is still running
			if err := l.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	verify := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"verify", "-db", dbURL, "-table", "trail"}, args...), nil, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	tests := []struct {
		name string
		args []string
		code int
		says []string
	}{
		{"sealed required", nil, 1, []string{`chain "a": OK: 4 records`, `chain "b": OK`, `chain "c": TAMPERED after 3 good records`, "3 chains: 2 intact, 1 tampered"}},
		{"open", []string{"-open"}, 0, []string{`chain "a": OK`, `chain "c": OPEN: 3 records, seq 1..3`, "3 chains: 3 intact, 0 tampered"}},
		{"one instance", []string{"-instance", "b"}, 0, []string{`chain "b": OK: 4 records`, "1 chains: 1 intact"}},
		{"unknown instance", []string{"-instance", "zz"}, 1, []string{`no chain of instance "zz"`}},
		{"odd instance name", []string{"-instance", "a\x01"}, 1, []string{`no chain of instance "a\x01"`}},
	}
	for _, tc := range tests {
		code, out := verify(tc.args...)
		for _, s := range tc.says {
			if code != tc.code || !strings.Contains(out, s) {
				t.Fatalf("%s: code %d, want %d with %q:\n%s", tc.name, code, tc.code, s, out)
			}
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE trail SET line = replace(line, '"tool":"x"', '"tool":"z"') WHERE instance = 'b'`); err != nil {
		t.Fatal(err)
	}
	code, out := verify("-open")
	if code != 1 || !strings.Contains(out, `chain "a": OK`) || !strings.Contains(out, `chain "b": TAMPERED after 1 good records: audit: line 2 (seq 2): MAC mismatch`) ||
		!strings.Contains(out, `chain "c": OPEN`) {
		t.Fatalf("after tampering with b: code %d\n%s", code, out)
	}
}

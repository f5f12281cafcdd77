package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
)

// trail writes n call records and a seal, and returns the lines.
func trail(t *testing.T, n int) [][]byte {
	t.Helper()
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{})
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := l.Log(ctx, &audit.Record{Kind: audit.KindCall, Tool: fmt.Sprintf("tool_%d", i), Outcome: string(bulwark.OutcomeOK)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(sink.text(), []byte("\n")), []byte("\n"))
}

func join(lines [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestVerifyIntact(t *testing.T) {
	lines := trail(t, 5)
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want 5 records and a seal", len(lines))
	}
	rep, err := audit.Verify(bytes.NewReader(join(lines)), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 6 || rep.FirstSeq != 1 || rep.LastSeq != 6 || !rep.Sealed || rep.Seals != 1 {
		t.Fatalf("report %+v", rep)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	clone := func(l [][]byte) [][]byte {
		out := make([][]byte, len(l))
		for i := range l {
			out[i] = append([]byte(nil), l[i]...)
		}
		return out
	}
	tests := []struct {
		name     string
		tamper   func([][]byte) []byte
		key      []byte
		wantLine int
		reason   string
	}{
		{"edit a value", func(l [][]byte) []byte {
			l[2] = bytes.Replace(l[2], []byte("tool_2"), []byte("tool_X"), 1)
			return join(l)
		}, nil, 3, "MAC mismatch"},
		{"edit the outcome", func(l [][]byte) []byte {
			l[4] = bytes.Replace(l[4], []byte(`"outcome":"ok"`), []byte(`"outcome":"permission_denied"`), 1)
			return join(l)
		}, nil, 5, "MAC mismatch"},
		{"delete a record", func(l [][]byte) []byte {
			return join(append(l[:3:3], l[4:]...))
		}, nil, 4, "expected seq 4"},
		{"delete the first record", func(l [][]byte) []byte {
			return join(l[1:])
		}, nil, 1, "expected seq 1"},
		{"reorder two records", func(l [][]byte) []byte {
			l[2], l[3] = l[3], l[2]
			return join(l)
		}, nil, 3, "expected seq 3"},
		{"duplicate a record", func(l [][]byte) []byte {
			return join(append(l[:3:3], append([][]byte{l[2]}, l[3:]...)...))
		}, nil, 4, "expected seq 4"},
		{"truncate whole records at the end", func(l [][]byte) []byte {
			return join(l[:4])
		}, nil, 5, "without a seal"},
		{"truncate inside the last line", func(l [][]byte) []byte {
			b := join(l)
			return b[:len(b)-20]
		}, nil, 6, "incomplete"},
		{"drop the trailing newline", func(l [][]byte) []byte {
			b := join(l)
			return b[:len(b)-1]
		}, nil, 6, "incomplete"},
		{"wrong key", func(l [][]byte) []byte { return join(l) }, []byte("another-key-another-key-another-key!"), 1, "MAC mismatch"},
		{"empty trail", func([][]byte) []byte { return nil }, nil, 1, "without a seal"},
		{"garbage line", func(l [][]byte) []byte {
			l[1] = []byte("hello\r\nworld")
			return join(l)
		}, nil, 2, "malformed"},
	}
	base := trail(t, 5)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if key == nil {
				key = testKey
			}
			_, err := audit.Verify(bytes.NewReader(tt.tamper(clone(base))), key)
			if !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("err = %v, want ErrTampered", err)
			}
			var te *audit.TamperError
			if !errors.As(err, &te) || te.Line != tt.wantLine || !strings.Contains(te.Reason, tt.reason) {
				t.Fatalf("err = %v, want line %d with %q", err, tt.wantLine, tt.reason)
			}
		})
	}
}

func TestVerifyOpenAcceptsUnsealed(t *testing.T) {
	lines := trail(t, 3)
	rep, err := audit.VerifyOpen(bytes.NewReader(join(lines[:3])), testKey)
	if err != nil || rep.Sealed || rep.LastSeq != 3 {
		t.Fatalf("rep %+v err %v", rep, err)
	}
}

func TestConcurrentWritersOneChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	sink, err := audit.OpenFile(path, audit.FileConfig{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, sink, audit.Config{})
	ctx := context.Background()
	const writers, each = 64, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := l.Log(ctx, &audit.Record{Kind: audit.KindCall, Tool: fmt.Sprintf("w%d", w), Outcome: string(bulwark.OutcomeOK)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != writers*each+1 {
		t.Fatalf("records = %d, want %d", rep.Records, writers*each+1)
	}
}

func TestFileSinkResumesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	ctx := context.Background()
	for run := 0; run < 3; run++ {
		sink, err := audit.OpenFile(path, audit.FileConfig{})
		if err != nil {
			t.Fatal(err)
		}
		l := newLogger(t, sink, audit.Config{})
		for i := 0; i < 4; i++ {
			if err := l.Log(ctx, &audit.Record{Kind: audit.KindCall, Tool: "t", Outcome: string(bulwark.OutcomeOK)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(bytes.NewReader(b), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LastSeq != 15 || rep.Seals != 3 {
		t.Fatalf("report %+v", rep)
	}
	// A torn last line stops the sink from appending to it.
	if err := os.WriteFile(path, b[:len(b)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	sink, err := audit.OpenFile(path, audit.FileConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.(io.Closer).Close()
	if _, err := audit.New(sink, testKey, audit.Config{}); !errors.Is(err, audit.ErrTorn) {
		t.Fatalf("New on a torn file: %v, want ErrTorn", err)
	}
}

func TestFileSinkEdges(t *testing.T) {
	dir := t.TempDir()
	if _, err := audit.OpenFile(filepath.Join(dir, "x.log"), audit.FileConfig{SyncInterval: -1}); err == nil {
		t.Fatal("negative sync interval accepted")
	}
	if _, err := audit.OpenFile(filepath.Join(dir, "missing", "x.log"), audit.FileConfig{}); err == nil {
		t.Fatal("file in a missing directory opened")
	}
	path := filepath.Join(dir, "audit.log")
	s, err := audit.OpenFile(path, audit.FileConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The optional methods the Sink documentation lists.
	sink := s.(interface {
		audit.Sink
		Ping(context.Context) error
		Close() error
		Tail(context.Context) (uint64, string, error)
		Prune(context.Context, time.Time, func(*audit.Record) error) (int, error)
		WriteBatch(context.Context, []*audit.Record) error
	})
	ctx := context.Background()
	if err := sink.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, &audit.Record{Kind: audit.KindCall}); err == nil {
		t.Fatal("unsigned record written")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Ping(ctx); err == nil {
		t.Fatal("closed sink answers Ping")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Middleware(nil) did not panic")
		}
	}()
	audit.Middleware(nil)
}

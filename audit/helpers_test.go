package audit_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/audit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// memSink keeps signed lines in memory and can be made to fail.
type memSink struct {
	mu    sync.Mutex
	lines [][]byte
	err   error
	recs  []*audit.Record
}

func (s *memSink) Write(_ context.Context, r *audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.lines = append(s.lines, append([]byte(nil), r.Line()...))
	s.recs = append(s.recs, r)
	return nil
}

func (s *memSink) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *memSink) text() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for _, l := range s.lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func (s *memSink) records() []*audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*audit.Record(nil), s.recs...)
}

// newLogger builds a Logger for a test. Unless the test sets its own
// WriteTimeout (the tests of timeouts do), waits for the writer may last a
// minute: under -race on a busy machine the 2s default can run out, and a
// refusal would then fail a test that is about something else.
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

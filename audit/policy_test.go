package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
)

type alertLog struct {
	mu   sync.Mutex
	list []audit.AlertKind
}

func (a *alertLog) add(al audit.Alert) {
	a.mu.Lock()
	a.list = append(a.list, al.Kind)
	a.mu.Unlock()
}

func (a *alertLog) kinds() []audit.AlertKind {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.AlertKind(nil), a.list...)
}

func TestNoBufferRefusesWhileSinkFails(t *testing.T) {
	sink := &memSink{}
	clock := bulwarktest.NewFakeClock(time.Unix(1_800_000_000, 0))
	var oplog bytes.Buffer
	alerts := &alertLog{}
	l := newLogger(t, sink, audit.Config{Clock: clock, Log: slog.New(slog.NewJSONHandler(&oplog, nil)), OnAlert: alerts.add})
	rec := &bulwarktest.Recorder{}
	mw := audit.Middleware(l)
	ctx := context.Background()

	sink.setErr(errors.New("disk full"))
	_, err, c := call(t, ctx, mw, rec.Handle, "delete_customer", map[string]any{"id": 1})
	if !errors.Is(err, bulwark.CodeUnavailable) || len(rec.Calls()) != 1 {
		t.Fatalf("first call: err %v, handler ran %d times", err, len(rec.Calls()))
	}
	if !strings.Contains(oplog.String(), c.ID) || !strings.Contains(oplog.String(), "disk full") {
		t.Fatalf("operator log lacks the lost record: %s", oplog.String())
	}
	// The sink is known to be failing: refuse before the handler runs.
	_, err, _ = call(t, ctx, mw, rec.Handle, "delete_customer", map[string]any{"id": 2})
	if !errors.Is(err, bulwark.CodeUnavailable) || len(rec.Calls()) != 1 {
		t.Fatalf("second call: err %v, handler ran %d times", err, len(rec.Calls()))
	}
	st := l.Stats()
	if !st.Down || st.Refused != 2 || st.Lost != 2 || st.Failures != 1 || st.Written != 0 {
		t.Fatalf("stats %+v", st)
	}
	// After the retry interval a call probes; the sink works again.
	sink.setErr(nil)
	clock.Advance(time.Second)
	if _, err, _ = call(t, ctx, mw, rec.Handle, "delete_customer", map[string]any{"id": 3}); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Down || st.Written != 1 {
		t.Fatalf("stats after recovery %+v", st)
	}
	if got := alerts.kinds(); len(got) != 2 || got[0] != audit.AlertSinkFailing || got[1] != audit.AlertRecovered {
		t.Fatalf("alerts %v", got)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(bytes.NewReader(sink.text()), testKey); err != nil {
		t.Fatal(err)
	}
}

func TestBuffer(t *testing.T) {
	sink := &memSink{}
	clock := bulwarktest.NewFakeClock(time.Unix(1_800_000_000, 0))
	alerts := &alertLog{}
	l := newLogger(t, sink, audit.Config{BufferSize: 3, Clock: clock, OnAlert: alerts.add, Log: slog.New(slog.DiscardHandler)})
	rec := &bulwarktest.Recorder{}
	mw := audit.Middleware(l)
	ctx := context.Background()

	sink.setErr(errors.New("connection refused"))
	for i := 0; i < 3; i++ {
		if _, err, _ := call(t, ctx, mw, rec.Handle, "t", nil); err != nil {
			t.Fatalf("call %d refused while buffering: %v", i, err)
		}
	}
	if st := l.Stats(); st.Buffered != 3 || st.BufferedTotal != 3 || !st.Down {
		t.Fatalf("stats %+v", st)
	}
	// Full: calls are refused rather than their records dropped.
	if _, err, _ := call(t, ctx, mw, rec.Handle, "t", nil); !errors.Is(err, bulwark.CodeUnavailable) || len(rec.Calls()) != 3 {
		t.Fatalf("call with a full buffer: %v (handler ran %d times)", err, len(rec.Calls()))
	}
	// A direct write hits the full buffer and raises the alert.
	if err := l.Log(ctx, &audit.Record{Kind: audit.KindCall}); err == nil {
		t.Fatal("write to a full buffer accepted")
	}
	// The sink recovers; the retry loop drains the buffer in order.
	sink.setErr(nil)
	clock.BlockUntil(1)
	clock.Advance(time.Second)
	// Polling for the retry goroutine to run, not for time to pass: the
	// bound only has to be far beyond a busy machine's scheduling delay.
	deadline := time.Now().Add(30 * time.Second)
	for l.Stats().Buffered > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("buffer never drained: %+v", l.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err, _ := call(t, ctx, mw, rec.Handle, "t", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := alerts.kinds()
	want := []audit.AlertKind{audit.AlertSinkFailing, audit.AlertBufferFull, audit.AlertRecovered}
	if len(got) != len(want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("alerts %v, want %v", got, want)
		}
	}
	rep, err := audit.Verify(bytes.NewReader(sink.text()), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 5 { // three buffered, one after recovery, the seal
		t.Fatalf("report %+v", rep)
	}
}

func TestCloseReportsUnflushedRecords(t *testing.T) {
	sink := &memSink{}
	var oplog bytes.Buffer
	l := newLogger(t, sink, audit.Config{BufferSize: 1024, Log: slog.New(slog.NewTextHandler(&oplog, nil))})
	sink.setErr(errors.New("down"))
	if err := l.Log(context.Background(), &audit.Record{Kind: audit.KindCall, ID: "corr-1"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "1 buffered") {
		t.Fatalf("Close: %v", err)
	}
	if !strings.Contains(oplog.String(), "corr-1") || l.Stats().Lost != 1 {
		t.Fatalf("lost record not reported: %s", oplog.String())
	}
}

// hangSink blocks until the write's context ends.
type hangSink struct{}

func (hangSink) Write(ctx context.Context, _ *audit.Record) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestHungSinkNeverHangsCalls(t *testing.T) {
	for _, p := range []int{0, 1024} {
		l := newLogger(t, hangSink{}, audit.Config{BufferSize: p, WriteTimeout: 50 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
		start := time.Now()
		_, err, _ := call(t, context.Background(), audit.Middleware(l), (&bulwarktest.Recorder{}).Handle, "t", nil)
		// A hang would last forever; the bound leaves room for a busy
		// machine, far beyond the 50ms timeout.
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("buffer %d: call took %v", p, d)
		}
		if p == 0 && !errors.Is(err, bulwark.CodeUnavailable) {
			t.Fatalf("no buffer: %v", err)
		}
		if p > 0 && (err != nil || l.Stats().Buffered != 1) {
			t.Fatalf("buffer: %v %+v", err, l.Stats())
		}
		l.Close(context.Background())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, tt := range map[string]struct {
		f    func() error
		want string // in the error: the field at fault
	}{
		"short key": {func() error { _, err := audit.New(audit.Discard, []byte("short"), audit.Config{}); return err }, "key"},
		"nil sink":  {func() error { _, err := audit.New(nil, testKey, audit.Config{}); return err }, "sink"},
		"negative buffer": {func() error {
			_, err := audit.New(audit.Discard, testKey, audit.Config{BufferSize: -1})
			return err
		}, "Config.BufferSize"},
		"tiny record cap": {func() error {
			_, err := audit.New(audit.Discard, testKey, audit.Config{MaxRecordBytes: 100})
			return err
		}, "Config.MaxRecordBytes"},
		"negative write timeout": {func() error { _, err := audit.New(audit.Discard, testKey, audit.Config{WriteTimeout: -1}); return err }, "Config.WriteTimeout"},
		"negative retry interval": {func() error {
			_, err := audit.New(audit.Discard, testKey, audit.Config{RetryInterval: -time.Second})
			return err
		}, "Config.RetryInterval"},
		"negative record cap": {func() error {
			_, err := audit.New(audit.Discard, testKey, audit.Config{MaxRecordBytes: -1})
			return err
		}, "Config.MaxRecordBytes"},
	} {
		if err := tt.f(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tt.want)
		}
	}
}

func TestLogRefusesReservedKinds(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, sink, audit.Config{})
	defer l.Close(context.Background())
	for _, k := range []string{audit.KindSeal, audit.KindAnchor} {
		if err := l.Log(context.Background(), &audit.Record{Kind: k}); err == nil {
			t.Errorf("kind %q accepted", k)
		}
	}
	r := &audit.Record{}
	if err := l.Log(context.Background(), r); err != nil || r.Kind != audit.KindCall || len(sink.records()) != 1 {
		t.Fatalf("default kind: %v %q", err, r.Kind)
	}
}

// batchSink records batch sizes; its first write blocks until released.
type batchSink struct {
	memSink
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
	bmu     sync.Mutex
	batches []int
}

func (s *batchSink) hold() {
	s.once.Do(func() {
		close(s.entered)
		<-s.gate
	})
}

func (s *batchSink) Write(ctx context.Context, r *audit.Record) error {
	s.hold()
	s.bmu.Lock()
	s.batches = append(s.batches, 1)
	s.bmu.Unlock()
	return s.memSink.Write(ctx, r)
}

func (s *batchSink) WriteBatch(ctx context.Context, rs []*audit.Record) error {
	s.hold()
	s.bmu.Lock()
	s.batches = append(s.batches, len(rs))
	s.bmu.Unlock()
	for _, r := range rs {
		if err := s.memSink.Write(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func TestGroupCommit(t *testing.T) {
	sink := &batchSink{gate: make(chan struct{}), entered: make(chan struct{})}
	l := newLogger(t, sink, audit.Config{WriteTimeout: time.Minute})
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := l.Log(ctx, &audit.Record{Tool: "first"}); err != nil {
			t.Error(err)
		}
	}()
	// Once the first write holds the writer, queue ten more.
	<-sink.entered
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Log(ctx, &audit.Record{Tool: "queued"}); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for l.Stats().Pending != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("never queued: %+v", l.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	close(sink.gate)
	wg.Wait()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sink.bmu.Lock()
	got := fmt.Sprint(sink.batches)
	sink.bmu.Unlock()
	if got != "[1 10 1]" { // the first record, the queued ten in one batch, the seal
		t.Fatalf("batches %s", got)
	}
	if _, err := audit.Verify(bytes.NewReader(sink.text()), testKey); err != nil {
		t.Fatal(err)
	}
}

func TestQueuedRecordTimesOut(t *testing.T) {
	sink := &batchSink{gate: make(chan struct{}), entered: make(chan struct{})}
	var oplog bytes.Buffer
	l := newLogger(t, sink, audit.Config{WriteTimeout: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&oplog, nil))})
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- l.Log(ctx, &audit.Record{Tool: "first"}) }()
	<-sink.entered
	start := time.Now()
	err := l.Log(ctx, &audit.Record{Tool: "second", ID: "corr-2"})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("queued record: %v after %v", err, time.Since(start))
	}
	if !strings.Contains(oplog.String(), "corr-2") || l.Stats().Lost != 1 {
		t.Fatalf("timed-out record not reported: %s", oplog.String())
	}
	close(sink.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(bytes.NewReader(sink.text()), testKey); err != nil {
		t.Fatal(err)
	}
}

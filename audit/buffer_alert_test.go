package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
)

// With a buffer (Config.BufferSize), calls through the middleware alone fill the
// buffer: the buffer_full alert fires when the buffer fills (before the
// readiness check starts refusing calls), once per fill, and again after
// the buffer drained and filled anew.
func TestBufferFullAlertThroughMiddleware(t *testing.T) {
	sink := &memSink{}
	clock := bulwarktest.NewFakeClock(time.Unix(1_800_000_000, 0))
	alerts := &alertLog{}
	l := newLogger(t, sink, audit.Config{BufferSize: 2, Clock: clock, OnAlert: alerts.add, Log: slog.New(slog.DiscardHandler)})
	rec := &bulwarktest.Recorder{}
	mw := audit.Middleware(l)
	ctx := context.Background()

	fill := func(round int) {
		t.Helper()
		sink.setErr(errors.New("connection refused"))
		for i := 0; i < 2; i++ {
			if _, err, _ := call(t, ctx, mw, rec.Handle, "t", nil); err != nil {
				t.Fatalf("round %d: call %d refused while buffering: %v", round, i, err)
			}
		}
		for i := 0; i < 3; i++ {
			if _, err, _ := call(t, ctx, mw, rec.Handle, "t", nil); !errors.Is(err, bulwark.CodeUnavailable) {
				t.Fatalf("round %d: call with a full buffer: %v", round, err)
			}
		}
	}
	drain := func() {
		t.Helper()
		sink.setErr(nil)
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	fill(1)
	want := []audit.AlertKind{audit.AlertSinkFailing, audit.AlertBufferFull}
	if got := alerts.kinds(); !slices.Equal(got, want) {
		t.Fatalf("alerts after the buffer filled: %v, want %v", got, want)
	}
	drain()
	fill(2)
	want = append(want, audit.AlertRecovered, audit.AlertSinkFailing, audit.AlertBufferFull)
	if got := alerts.kinds(); !slices.Equal(got, want) {
		t.Fatalf("alerts after the buffer filled again: %v, want %v", got, want)
	}
	drain()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

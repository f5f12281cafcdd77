package audit

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// Sink stores signed records. Write is called by one goroutine at a time,
// in chain order, with a context that carries the Logger's write timeout;
// it must honour that context and must be idempotent per Seq (a record may
// be written again after a failure whose effect was unknown).
//
// A Sink may also implement any of:
//
//	Close() error                                       // called by Logger.Close after the seal
//	Ping(ctx context.Context) error                     // health probe while failing closed
//	Tail(ctx context.Context) (seq uint64, mac string, err error) // resume an existing chain
//	Prune(ctx context.Context, before time.Time, anchor func(*Record) error) (int, error) // retention
//	WriteBatch(ctx context.Context, rs []*Record) error // several records, all or nothing; must not keep rs
//	Instance() string                                   // the chain this sink writes in a trail shared by several instances
type Sink interface {
	Write(ctx context.Context, r *Record) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, r *Record) error

// Write calls f.
func (f SinkFunc) Write(ctx context.Context, r *Record) error { return f(ctx, r) }

// Discard is a Sink that accepts and drops every record, for benchmarks
// and tests.
var Discard Sink = discard{}

type discard struct{}

func (discard) Write(context.Context, *Record) error { return nil }
func (discard) localSink()                           {}

// localSink marks sinks that write on this machine without blocking on a
// network, so the Logger skips the per-write deadline.
type localSink interface{ localSink() }

type pinger interface {
	Ping(ctx context.Context) error
}

type tailer interface {
	Tail(ctx context.Context) (seq uint64, mac string, err error)
}

// instanced is implemented by sinks whose trail holds one chain per
// server instance (PostgresSink): the Logger stamps every record with the
// instance and starts a new chain with a KindStart record.
type instanced interface {
	Instance() string
}

type pruner interface {
	Prune(ctx context.Context, before time.Time, anchor func(*Record) error) (int, error)
}

// SlogSink writes each record as one JSON line through log/slog, for
// shipping audit to a log pipeline.
//
// The signed record travels unchanged as the "audit" attribute, so a JSON
// handler prints it verbatim inside its own line. [Verify] reads the file
// sink's format, not slog output; use [FileSink] or [PostgresSink] when the
// trail itself must be verified.
type SlogSink struct {
	logger *slog.Logger
	level  slog.Level
}

// NewSlogSink returns a sink that logs to logger at Info level. Writes
// through it get no deadline (slog handlers take no context deadline);
// give it a handler that does not block. A nil
// logger means a JSON handler on standard error: never standard output,
// which belongs to the protocol on the stdio transport.
func NewSlogSink(logger *slog.Logger) *SlogSink {
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return &SlogSink{logger: logger, level: slog.LevelInfo}
}

func (*SlogSink) localSink() {}

// Write logs r.
func (s *SlogSink) Write(ctx context.Context, r *Record) error {
	s.logger.LogAttrs(ctx, s.level, "audit", slog.Any("audit", signedLine(r.Line())))
	return nil
}

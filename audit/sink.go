package audit

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/bulwark-mcp/bulwark/redact"
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
//
// The file sink ([OpenFile]) and the PostgreSQL sink (package pgaudit)
// implement all of them that apply.
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
// server instance (pgaudit's): the Logger stamps every record with the
// instance and starts a new chain with a KindStart record.
type instanced interface {
	Instance() string
}

type pruner interface {
	Prune(ctx context.Context, before time.Time, anchor func(*Record) error) (int, error)
}

// NewSlogSink returns a sink that writes each record as one JSON line
// through log/slog, at Info level, for shipping audit to a log pipeline.
// The signed record travels unchanged as the "audit" attribute (a
// redact.Verbatim, which a redacting handler leaves alone), so a JSON
// handler prints it verbatim inside its own line. [Verify] reads the file
// sink's format, not slog output; use [OpenFile] or package pgaudit when
// the trail itself must be verified.
//
// Writes through it get no deadline (slog handlers take no context
// deadline); give it a handler that does not block. A nil logger means a
// JSON handler on standard error: never standard output, which belongs to
// the protocol on the stdio transport.
func NewSlogSink(logger *slog.Logger) Sink {
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return &slogSink{logger: logger}
}

type slogSink struct{ logger *slog.Logger }

func (*slogSink) localSink() {}

func (s *slogSink) Write(ctx context.Context, r *Record) error {
	s.logger.LogAttrs(ctx, slog.LevelInfo, "audit", slog.Any("audit", redact.Verbatim(r.Line())))
	return nil
}

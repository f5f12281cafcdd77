package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/bulwark-mcp/bulwark/redact"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Config configures a [Logger]. Every zero field means the stated default.
type Config struct {
	// BufferSize decides what happens to a call whose record the sink
	// refuses. Zero, the default, refuses calls while the sink fails: a
	// call's record is written after its handler returns, so a failed
	// write turns that call's answer into bulwark.Unavailable even though
	// the tool ran, and its record goes to the operator log (Log),
	// redacted; while the sink is known to be failing, further calls are
	// refused before their handler runs, until a probe (the sink's Ping,
	// at most once per RetryInterval) succeeds. Use it when no action may
	// go unaudited. A write that timed out may still have landed (a
	// database commit whose reply was lost): the next write re-reads the
	// sink's last record, so the chain stays whole, and the refused call's
	// record is then in the trail after all.
	//
	// A positive BufferSize keeps up to that many records the sink refused
	// in memory, in chain order, and retries them every RetryInterval (and
	// on Flush and Close); calls are served meanwhile. When the buffer is
	// full, calls are refused as with zero, so nothing is dropped
	// silently. Every failure raises the counters in [Stats] and calls
	// OnAlert: AlertSinkFailing when writes start failing, AlertBufferFull
	// once per fill, as the record that fills the buffer is kept (calls
	// are refused from then on), and AlertRecovered when it has drained.
	BufferSize int
	// WriteTimeout bounds each write to a remote sink (pgaudit's, or any
	// sink of your own) and every wait for the writer lock, so a hung sink
	// never hangs a call waiting for it. Writes to the sinks of [OpenFile]
	// and [NewSlogSink] are not interrupted: one blocked in the kernel holds the
	// call that is writing until it returns (see the package doc).
	// Default 2s.
	WriteTimeout time.Duration
	// RetryInterval is how often buffered records are retried and a failed
	// sink is probed. Default 1s.
	RetryInterval time.Duration
	// Clock supplies record times and retry timing. Default the system clock.
	Clock bulwark.Clock
	// OnAlert is told when the sink starts failing, when the buffer fills
	// and when the sink recovers. It runs outside locks, on the goroutine
	// that saw the event, and must not block.
	OnAlert func(Alert)
	// Log receives audit failures for operators (with records that could
	// not be written, redacted). Default slog.Default().
	Log *slog.Logger
	// Redactor redacts arguments and text. Default nil: the built-in rules
	// of package redact.
	Redactor *redact.Redactor
	// ErasureKeys, when set, encrypts personal fields (principal ID and
	// arguments) under a per-subject key, so [Logger.Purge] can erase
	// them. Default none: personal fields are stored redacted but in clear.
	ErasureKeys ErasureKeys
	// Subject chooses whose key seals the personal fields of a call's
	// record ([Middleware]) when ErasureKeys is set: a server whose
	// records concern a customer might return the customer ID from the
	// arguments. An empty subject leaves that record's fields unsealed.
	// Records of the HTTP edge ([Logger.ObserveEdge]) are always sealed
	// under their principal. Default nil: the caller's principal ID.
	Subject func(ctx context.Context, req *mcp.CallToolRequest) string
	// DigestOnly records only a keyed digest of a call's arguments
	// (arguments_digest), never the arguments themselves, even redacted.
	// The digest is an HMAC under a key derived from the chain key, not a
	// plain SHA-256, so a short secret among the arguments cannot be
	// recovered by guessing. Default false: arguments are recorded
	// redacted.
	DigestOnly bool
	// MaxRecordBytes caps the size of one record. Over the cap, arguments
	// are replaced by their digest, then detail and reason are shortened.
	// Default 0: no cap.
	MaxRecordBytes int
}

// AlertKind classifies an [Alert].
type AlertKind string

// Alert kinds.
const (
	AlertSinkFailing AlertKind = "sink_failing" // a write failed after succeeding
	AlertBufferFull  AlertKind = "buffer_full"  // the buffer is full: calls are being refused
	AlertRecovered   AlertKind = "recovered"    // writes succeed again (buffer drained)
)

// Alert is an event for operators.
type Alert struct {
	Kind     AlertKind
	Err      error // the sink error, for AlertSinkFailing and AlertBufferFull
	Buffered int   // records waiting in the buffer
}

// Stats are the Logger's counters. metrics/ exports them.
type Stats struct {
	Written       uint64 // records the sink accepted
	Failures      uint64 // failed sink writes (each attempt)
	Buffered      int    // records waiting in the buffer now
	BufferedTotal uint64 // records that ever went to the buffer
	Refused       uint64 // calls refused because their record could not be kept
	Lost          uint64 // records given up (refused calls' records, unflushed at Close); each was written to Config.Log
	Pending       int    // records waiting for the writer now
	Down          bool   // the last write failed
}

// ErrClosed is returned after [Logger.Close].
var ErrClosed = errors.New("audit: logger closed")

// Logger is the audit engine: it chains records with HMAC-SHA256, writes
// them to its sink in order, applies the failure policy and keeps counters.
// It is safe for concurrent use; writes are serialised, which is what
// makes one chain out of concurrent calls.
type Logger struct {
	sink     Sink
	cfg      Config
	clock    bulwark.Clock
	redactor *redact.Redactor
	log      *slog.Logger
	argKey   []byte // derives argument digests
	instance string // the chain's name in a shared trail; "" for a trail of one chain
	// local sinks write to this machine and take no deadline (a timer per
	// record is a large part of the cost of a call); the writer lock wait
	// stays bounded.
	local bool

	qmu   sync.Mutex
	queue []*waiter // records waiting for the next batch, guarded by qmu

	batchBuf []*waiter // reused by the writer, guarded by sem
	selfW    waiter    // the writer's own record, guarded by sem
	recBuf   []*Record // reused by the writer, guarded by sem

	sem  chan struct{} // the writer lock; a channel so waiting can time out
	mac  hash.Hash     // guarded by sem
	sum  []byte        // the MAC's output buffer, guarded by sem
	seq  uint64        // guarded by sem
	prev string        // guarded by sem
	buf  []*Record     // guarded by sem
	// resync asks the next write to re-read the sink's tail, after a write
	// whose effect is unknown.
	resync bool // guarded by sem
	// full notes that AlertBufferFull was raised for the buffer's current
	// fill; it is cleared when the buffer drains below its size.
	full      bool // guarded by sem
	closed    bool // guarded by sem
	down      atomic.Bool
	nextProbe atomic.Int64 // unix nanos

	written, failures, bufferedTotal, refused, lost atomic.Uint64
	buffered                                        atomic.Int64

	done chan struct{}
	wg   sync.WaitGroup
}

// New returns a Logger that writes to sink, chaining records with key (at
// least 32 bytes; see [ParseKey]). If sink can report its last
// record (the file and PostgreSQL sinks can), the chain continues from it.
// Close the Logger when done: Close seals the trail and stops the retry
// goroutine a buffer needs.
func New(sink Sink, key []byte, cfg Config) (*Logger, error) {
	if sink == nil {
		return nil, errors.New("audit: nil sink")
	}
	if len(key) < minKeyBytes {
		return nil, ErrNoKey
	}
	for _, f := range []struct {
		name     string
		negative bool
	}{
		{"BufferSize", cfg.BufferSize < 0},
		{"WriteTimeout", cfg.WriteTimeout < 0},
		{"RetryInterval", cfg.RetryInterval < 0},
		{"MaxRecordBytes", cfg.MaxRecordBytes < 0},
	} {
		if f.negative {
			return nil, fmt.Errorf("audit: Config.%s must not be negative", f.name)
		}
	}
	if cfg.MaxRecordBytes > 0 && cfg.MaxRecordBytes < 1024 {
		return nil, errors.New("audit: Config.MaxRecordBytes below 1024 cannot hold a record")
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 2 * time.Second
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = time.Second
	}
	l := &Logger{
		sink:     sink,
		cfg:      cfg,
		clock:    sysclock.Or(cfg.Clock),
		redactor: cfg.Redactor,
		log:      cfg.Log,
		sem:      make(chan struct{}, 1),
		mac:      hmac.New(sha256.New, key),
		sum:      make([]byte, 0, sha256.Size),
		done:     make(chan struct{}),
	}
	_, l.local = sink.(localSink)
	if l.log == nil {
		l.log = slog.Default()
	}
	d := hmac.New(sha256.New, key)
	d.Write([]byte("bulwark audit argument digest"))
	l.argKey = d.Sum(nil)
	if t, ok := sink.(tailer); ok {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.WriteTimeout)
		seq, mac, err := t.Tail(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("audit: reading the end of the existing trail: %w", err)
		}
		l.seq, l.prev = seq, mac
	}
	if in, ok := sink.(instanced); ok {
		l.instance = in.Instance()
	}
	if l.instance != "" && l.seq == 0 {
		// A new chain in a shared trail opens with a record naming its
		// instance, so the chain's identity is on record before any call.
		start := &Record{Kind: KindStart, Instance: l.instance, Time: l.clock.Now().UTC()}
		l.sign(start)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.WriteTimeout)
		err := sink.Write(ctx, start)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("audit: starting the chain of instance %s: %w", quoteInstance(l.instance), err)
		}
		l.advance(start)
		l.written.Add(1)
	}
	if cfg.BufferSize > 0 {
		l.wg.Add(1)
		go l.retryLoop()
	}
	return l, nil
}

// Stats returns a snapshot of the counters.
func (l *Logger) Stats() Stats {
	return Stats{
		Written:       l.written.Load(),
		Failures:      l.failures.Load(),
		Buffered:      int(l.buffered.Load()),
		BufferedTotal: l.bufferedTotal.Load(),
		Refused:       l.refused.Load(),
		Lost:          l.lost.Load(),
		Down:          l.down.Load(),
		Pending:       l.pendingCount(),
	}
}

func (l *Logger) lock(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: waiting for the writer: %w", ctx.Err())
	}
}

func (l *Logger) unlock() { <-l.sem }

// sign fills in Seq, Prev and MAC for the next position in the chain,
// without advancing it. Called with the lock held.
func (l *Logger) sign(r *Record) {
	r.Seq = l.seq + 1
	r.Prev = l.prev
	l.signAt(r)
}

func (l *Logger) signAt(r *Record) {
	body := r.encodeBody(make([]byte, 0, r.sizeHint()))
	l.mac.Reset()
	l.mac.Write(body)
	l.sum = l.mac.Sum(l.sum[:0]) // a local array would escape through the interface
	var hx [64]byte
	hex.Encode(hx[:], l.sum)
	r.MAC = string(hx[:])
	body = append(body, macField...)
	body = append(body, hx[:]...)
	r.line = append(body, '"', '}')
}

func (l *Logger) advance(r *Record) {
	l.seq = r.Seq
	l.prev = r.MAC
}

// Log signs r (setting Seq, Prev and MAC), writes it and applies the
// failure policy. A nil error means the record is stored or, with a
// buffer (Config.BufferSize), queued; an error means it is neither, and the caller
// must treat the action as unaudited (the middleware refuses the call).
//
// r.Time defaults to now and r.Kind to KindCall; the kinds the Logger
// writes itself (KindSeal, KindAnchor, KindStart) are refused. r.Instance
// is set to the sink's instance. Callers are
// responsible for redaction; the middleware does it.
//
// Concurrent calls are group-committed: whichever caller takes the writer
// lock signs and writes every record queued so far, in one batch when the
// sink can take one (the file sink: one write and one fsync; the
// PostgreSQL sink: one statement). A caller waits at most WriteTimeout for the writer, plus
// the write of its batch.
func (l *Logger) Log(ctx context.Context, r *Record) error {
	switch r.Kind {
	case "":
		r.Kind = KindCall
	case KindSeal, KindAnchor, KindStart:
		return fmt.Errorf("audit: record kind %q is reserved", r.Kind)
	}
	r.Instance = l.instance
	if r.Time.IsZero() {
		r.Time = l.clock.Now()
	}
	r.Time = r.Time.UTC()
	l.capSize(r)
	select {
	case l.sem <- struct{}{}:
		// The writer is free: write whatever is queued and this record.
		return l.result(ctx, r, l.lead(ctx, r))
	default:
	}
	w := &waiter{r: r, done: make(chan error, 1)}
	l.qmu.Lock()
	l.queue = append(l.queue, w)
	l.qmu.Unlock()
	timer := time.NewTimer(l.cfg.WriteTimeout)
	defer timer.Stop()
	select {
	case err := <-w.done:
		return l.result(ctx, r, err)
	case l.sem <- struct{}{}:
		// Our record is in this batch or was in an earlier, finished one.
		l.lead(ctx, nil)
		return l.result(ctx, r, <-w.done)
	case <-timer.C:
	}
	if l.dequeue(w) {
		l.failures.Add(1)
		return l.result(ctx, r, errors.New("audit: timed out waiting for the writer"))
	}
	// A writer holds the record; its write is bounded by WriteTimeout
	// unless the sink cannot be interrupted.
	timer.Reset(l.cfg.WriteTimeout)
	select {
	case err := <-w.done:
		return l.result(ctx, r, err)
	case <-timer.C:
		return l.result(ctx, r, errors.New("audit: write outcome unknown: the sink is not answering"))
	}
}

// waiter is one record queued for the next batch.
type waiter struct {
	r    *Record
	done chan error // buffered; receives the outcome exactly once
	err  error      // the outcome, when done is nil (the writer's own record)
}

func (w *waiter) finish(err error) {
	if w.done != nil {
		w.done <- err
		return
	}
	w.err = err
}

func (l *Logger) pendingCount() int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue)
}

func (l *Logger) dequeue(w *waiter) bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			return true
		}
	}
	return false
}

func (l *Logger) result(ctx context.Context, r *Record, err error) error {
	if err != nil {
		return l.giveUp(ctx, r, err)
	}
	return nil
}

// lead is called with the writer lock held: it writes everything queued
// and then self (if not nil), releases the lock and returns self's outcome.
func (l *Logger) lead(ctx context.Context, self *Record) error {
	l.qmu.Lock()
	batch := append(l.batchBuf[:0], l.queue...)
	clear(l.queue)
	l.queue = l.queue[:0]
	l.qmu.Unlock()
	if self != nil {
		l.selfW = waiter{r: self}
		batch = append(batch, &l.selfW)
	}
	var alerts []Alert
	if len(batch) > 0 {
		// The record of a cancelled call must still be written. Local
		// sinks ignore the context; others get the caller's values without
		// its cancellation, and a deadline of their own.
		wctx := ctx
		if !l.local {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), l.cfg.WriteTimeout)
			defer cancel()
		}
		alerts = l.writeBatchLocked(wctx, batch)
	}
	err := l.selfW.err
	l.selfW = waiter{}
	clear(batch)
	l.batchBuf = batch[:0]
	l.unlock()
	l.fire(alerts)
	return err
}

// writeBatchLocked signs and writes a batch in queue order and reports
// each record's outcome to its waiter.
func (l *Logger) writeBatchLocked(ctx context.Context, batch []*waiter) []Alert {
	if l.closed {
		for _, w := range batch {
			w.finish(ErrClosed)
		}
		return nil
	}
	var alerts []Alert
	if len(l.buf) > 0 && !l.clock.Now().Before(time.Unix(0, l.nextProbe.Load())) {
		alerts = l.flushLocked(ctx, alerts)
	}
	if len(l.buf) > 0 {
		// Keep chain order: nothing overtakes the buffer.
		cause := errors.New("earlier records are still buffered")
		for _, w := range batch {
			l.sign(w.r)
			var err error
			alerts, err = l.bufferLocked(w.r, cause, alerts)
			w.finish(err)
		}
		return alerts
	}
	if l.resync {
		if t, ok := l.sink.(tailer); ok {
			seq, mac, err := t.Tail(ctx)
			if err != nil {
				l.failures.Add(1)
				err = l.noteFailure(err, &alerts)
				for _, w := range batch {
					w.finish(err)
				}
				return alerts
			}
			l.seq, l.prev = seq, mac
		}
		l.resync = false
	}
	recs := l.recBuf[:0]
	seq, prev := l.seq, l.prev
	for _, w := range batch {
		w.r.Seq, w.r.Prev = seq+1, prev
		l.signAt(w.r)
		seq, prev = w.r.Seq, w.r.MAC
		recs = append(recs, w.r)
	}
	n, err := l.writeRecords(ctx, recs)
	clear(recs)
	l.recBuf = recs[:0]
	for _, w := range batch[:n] {
		l.advance(w.r)
		w.finish(nil)
	}
	l.written.Add(uint64(n))
	if err == nil {
		if l.down.Swap(false) {
			alerts = append(alerts, Alert{Kind: AlertRecovered})
		}
		return alerts
	}
	l.failures.Add(1)
	err = l.noteFailure(err, &alerts)
	for _, w := range batch[n:] {
		if l.cfg.BufferSize > 0 {
			var berr error
			alerts, berr = l.bufferLocked(w.r, err, alerts)
			w.finish(berr)
			continue
		}
		w.finish(err)
	}
	if l.cfg.BufferSize == 0 {
		l.resync = true
	}
	return alerts
}

// batchWriter is implemented by sinks that write several records at once,
// all or nothing.
type batchWriter interface {
	WriteBatch(ctx context.Context, rs []*Record) error
}

// writeRecords writes rs in order and returns how many were written.
func (l *Logger) writeRecords(ctx context.Context, rs []*Record) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	if bw, ok := l.sink.(batchWriter); ok && len(rs) > 1 {
		if err := bw.WriteBatch(ctx, rs); err != nil {
			return 0, err
		}
		return len(rs), nil
	}
	for i, r := range rs {
		if err := l.sink.Write(ctx, r); err != nil {
			return i, err
		}
	}
	return len(rs), nil
}

func (l *Logger) noteFailure(err error, alerts *[]Alert) error {
	l.nextProbe.Store(l.clock.Now().Add(l.cfg.RetryInterval).UnixNano())
	if !l.down.Swap(true) {
		*alerts = append(*alerts, Alert{Kind: AlertSinkFailing, Err: err, Buffered: len(l.buf)})
	}
	return err
}

// bufferLocked keeps r in the buffer, or refuses it when the buffer is
// full. AlertBufferFull is raised once per fill, by the record that fills
// the buffer: from then on Ready refuses calls before their handler runs,
// so through the middleware no record ever meets the full buffer itself.
func (l *Logger) bufferLocked(r *Record, cause error, alerts []Alert) ([]Alert, error) {
	if len(l.buf) >= l.cfg.BufferSize {
		err := fmt.Errorf("audit: buffer full (%d records): %w", len(l.buf), cause)
		return l.alertFullLocked(alerts, err), err
	}
	l.buf = append(l.buf, r)
	l.advance(r)
	l.buffered.Store(int64(len(l.buf)))
	l.bufferedTotal.Add(1)
	if len(l.buf) >= l.cfg.BufferSize {
		alerts = l.alertFullLocked(alerts, fmt.Errorf("audit: buffer full (%d records), further calls are refused: %w", len(l.buf), cause))
	}
	return alerts, nil
}

func (l *Logger) alertFullLocked(alerts []Alert, err error) []Alert {
	if l.full {
		return alerts
	}
	l.full = true
	return append(alerts, Alert{Kind: AlertBufferFull, Err: err, Buffered: len(l.buf)})
}

// flushLocked writes buffered records in order until one fails.
func (l *Logger) flushLocked(ctx context.Context, alerts []Alert) []Alert {
	n, err := l.writeRecords(ctx, l.buf)
	l.written.Add(uint64(n))
	if err != nil {
		l.failures.Add(1)
		_ = l.noteFailure(err, &alerts)
	}
	if n > 0 {
		rest := copy(l.buf, l.buf[n:])
		clear(l.buf[rest:])
		l.buf = l.buf[:rest]
		l.buffered.Store(int64(rest))
		if rest < l.cfg.BufferSize {
			l.full = false
		}
		if rest == 0 && l.down.Swap(false) {
			alerts = append(alerts, Alert{Kind: AlertRecovered})
		}
	}
	return alerts
}

// giveUp handles a record that could not be kept: it is counted and
// written, redacted as it already is, to the operator log, so it is never
// dropped silently.
func (l *Logger) giveUp(ctx context.Context, r *Record, err error) error {
	l.lost.Add(1)
	l.log.LogAttrs(ctx, slog.LevelError, "audit record could not be written",
		slog.String("error", l.redactor.Text(err.Error())),
		slog.String("correlation_id", r.ID),
		slog.String("kind", r.Kind),
		slog.String("method", r.Method),
		slog.String("tool", r.Tool),
		slog.String("outcome", r.Outcome),
		slog.Time("time", r.Time))
	return fmt.Errorf("audit: record not written: %w", err)
}

func (l *Logger) fire(alerts []Alert) {
	if l.cfg.OnAlert == nil {
		return
	}
	for _, a := range alerts {
		l.cfg.OnAlert(a)
	}
}

// Flush writes buffered records now. It returns an error if some remain.
func (l *Logger) Flush(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, l.cfg.WriteTimeout)
	defer cancel()
	if err := l.lock(wctx); err != nil {
		return err
	}
	alerts := l.flushLocked(wctx, nil)
	n := len(l.buf)
	l.unlock()
	l.fire(alerts)
	if n > 0 {
		return fmt.Errorf("audit: %d records still buffered", n)
	}
	if f, ok := l.sink.(interface{ Sync() error }); ok {
		return f.Sync()
	}
	return nil
}

func (l *Logger) retryLoop() {
	defer l.wg.Done()
	for {
		select {
		case <-l.done:
			return
		case <-l.clock.After(l.cfg.RetryInterval):
			if l.buffered.Load() > 0 {
				_ = l.Flush(context.Background())
			}
		}
	}
}

// Ready reports whether a call may run now: nil unless its record would be
// refused. Without a buffer, while the sink is failing, it probes the sink
// (its Ping, at most once per RetryInterval) and refuses in between; with
// a buffer it refuses only while the buffer is full.
func (l *Logger) Ready(ctx context.Context) error {
	if !l.down.Load() {
		return nil
	}
	if l.cfg.BufferSize > 0 {
		if int(l.buffered.Load()) < l.cfg.BufferSize {
			return nil
		}
		return errors.New("audit: buffer full")
	}
	now := l.clock.Now()
	next := l.nextProbe.Load()
	if now.UnixNano() < next {
		return errors.New("audit: sink failing")
	}
	if !l.nextProbe.CompareAndSwap(next, now.Add(l.cfg.RetryInterval).UnixNano()) {
		return errors.New("audit: sink failing")
	}
	p, ok := l.sink.(pinger)
	if !ok {
		return nil // let the call's own write be the probe
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.WriteTimeout)
	defer cancel()
	if err := p.Ping(pctx); err != nil {
		return fmt.Errorf("audit: sink failing: %w", err)
	}
	return nil
}

// Purge erases subject's personal data from the trail by destroying the
// subject's key in the ErasureKeys, then records the purge (naming the
// destroyed key IDs, not the subject). Records stay in place and the chain
// still verifies; their sealed fields can no longer be opened. Calls are
// not blocked meanwhile. Instances that share the ErasureKeys (those of
// package pgaudit on one database) share the erasure: one Purge makes
// the subject's records unreadable in every instance's chain, and the purge
// record goes into this Logger's chain.
func (l *Logger) Purge(ctx context.Context, subject string) error {
	if l.cfg.ErasureKeys == nil {
		return errors.New("audit: Purge needs Config.ErasureKeys")
	}
	if subject == "" {
		return errors.New("audit: empty subject")
	}
	ids, err := l.cfg.ErasureKeys.Destroy(ctx, subject)
	if err != nil {
		return fmt.Errorf("audit: destroying the subject key: %w", err)
	}
	r := &Record{Kind: KindPurge, Fields: map[string]string{"keys": joinComma(ids)}}
	return l.Log(ctx, r)
}

// Prune drops records older than before from a sink that supports
// retention (the file sink of [OpenFile], the PostgreSQL sink of package
// pgaudit): a prefix of the chain up to the first
// record at or after before. The sink keeps a signed anchor naming the last
// dropped record, so the rest still verifies, and the Logger records the
// retention run. It returns the number of records dropped.
//
// In a trail shared by several instances (one PostgreSQL table), one call
// prunes every instance's chain, each behind its own anchor, while the
// other instances keep writing; run it from one place, such as a job under
// the operator role.
//
// Writes wait while the sink prunes (a file sink rewrites the whole file),
// and a record that waits longer than WriteTimeout is refused: prune in a
// quiet hour, often enough that each run is short.
func (l *Logger) Prune(ctx context.Context, before time.Time) (int, error) {
	p, ok := l.sink.(pruner)
	if !ok {
		return 0, errors.New("audit: the sink does not support retention")
	}
	if err := l.lock(ctx); err != nil {
		return 0, err
	}
	if len(l.buf) > 0 {
		l.unlock()
		return 0, errors.New("audit: records are buffered; flush before pruning")
	}
	n, err := p.Prune(ctx, before, func(a *Record) error {
		a.Kind = KindAnchor
		a.Time = l.clock.Now().UTC()
		l.signAt(a)
		return nil
	})
	l.unlock()
	if err != nil {
		return n, err
	}
	r := &Record{Kind: KindRetention, Fields: map[string]string{
		"before":  before.UTC().Format(time.RFC3339Nano),
		"dropped": fmt.Sprint(n),
	}}
	return n, l.Log(ctx, r)
}

// Close flushes the buffer, writes a final seal record (so truncation of
// the trail is detectable) and closes the sink if it has a Close method.
// Records still buffered after the final attempt are counted as lost and
// written to the operator log. Calls audited by a closed Logger are
// refused (bulwark.Unavailable): close it after the server stops serving.
func (l *Logger) Close(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, l.cfg.WriteTimeout)
	defer cancel()
	if err := l.lock(wctx); err != nil {
		return err
	}
	if l.closed {
		l.unlock()
		return ErrClosed
	}
	close(l.done)
	// Records queued behind the lock go out before the seal.
	l.qmu.Lock()
	batch := l.queue
	l.queue = nil
	l.qmu.Unlock()
	var alerts []Alert
	if len(batch) > 0 {
		alerts = l.writeBatchLocked(wctx, batch)
	}
	if len(l.buf) > 0 {
		alerts = l.flushLocked(wctx, alerts)
	}
	var errs []error
	lost := l.buf
	l.buf = nil
	l.buffered.Store(0)
	if len(lost) == 0 {
		seal := &Record{Kind: KindSeal, Instance: l.instance, Time: l.clock.Now().UTC()}
		l.sign(seal)
		if err := l.sink.Write(wctx, seal); err != nil {
			errs = append(errs, fmt.Errorf("audit: writing the seal: %w", err))
		} else {
			l.advance(seal)
			l.written.Add(1)
		}
	}
	l.closed = true
	if c, ok := l.sink.(io.Closer); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	l.unlock()
	l.wg.Wait()
	l.fire(alerts)
	for _, r := range lost {
		_ = l.giveUp(ctx, r, errors.New("still buffered at close"))
	}
	if len(lost) > 0 {
		errs = append(errs, fmt.Errorf("audit: %d buffered records not written", len(lost)))
	}
	return errors.Join(errs...)
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// quoteInstance quotes an instance name for an error message: escaped, as
// a name read back from a tampered trail may hold anything.
func quoteInstance(s string) string {
	const limit = 128
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}

package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileConfig configures the sink of [OpenFile]. Every zero field means
// the stated default.
type FileConfig struct {
	// SyncInterval says how often records are forced to stable storage.
	// Zero, the default, fsyncs after every write (concurrent calls share
	// one write and one fsync): a record the sink accepted survives a
	// crash of the machine. A positive interval fsyncs at most once per
	// interval, and a timer makes sure the last records are synced within
	// one interval even if no further record arrives: a machine crash can
	// lose up to one interval of records (the chain then ends early; see
	// [VerifyOpen]).
	SyncInterval time.Duration
	// NoSync leaves flushing to the operating system (and to Logger.Flush
	// and Logger.Close). A process crash loses nothing; a machine crash
	// may. It overrides SyncInterval.
	NoSync bool
	// Perm is the mode of a new file. Default 0600: the trail is for
	// operators only.
	Perm os.FileMode
}

// ErrTorn reports a trail file whose last line is incomplete, left by a
// crash in the middle of a write (or by truncation). The sink refuses to
// append to it; verify it, move it aside and start a new file.
var ErrTorn = errors.New("audit: trail file ends with an incomplete line")

// fileSink appends signed records to a file.
type fileSink struct {
	path string
	cfg  FileConfig

	mu       sync.Mutex
	f        *os.File
	size     int64
	lastSync time.Time
	timer    *time.Timer
	dirty    bool
	closed   bool
	buf      []byte
}

// OpenFile opens (or creates) the trail at path and returns a sink that
// appends signed records to it, one JSON line each, opened append-only
// (O_APPEND). Each record goes out in a single write; a failed write is
// cut back off the file, so a retry never leaves a torn line behind. If
// the file already holds records, a Logger built on the sink continues
// their chain; if its last line is torn, OpenFile's sink refuses to
// continue it ([ErrTorn]). One Logger per file: two processes appending to
// the same file would interleave two chains.
//
// The sink supports retention ([Logger.Prune] rewrites the file behind a
// signed anchor); [Logger.Flush] syncs it and [Logger.Close] closes it.
func OpenFile(path string, cfg FileConfig) (Sink, error) {
	if cfg.SyncInterval < 0 {
		return nil, errors.New("audit: negative sync interval")
	}
	if cfg.Perm == 0 {
		cfg.Perm = 0o600
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, cfg.Perm)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileSink{path: path, cfg: cfg, f: f, size: st.Size(), lastSync: time.Now()}, nil
}

func (*fileSink) localSink() {}

// Write appends r's line. File writes cannot be interrupted: a hung file
// system stalls the writer, and other calls then give up waiting for the
// writer lock after WriteTimeout.
func (s *fileSink) Write(_ context.Context, r *Record) error {
	line := r.Line()
	if len(line) == 0 {
		return errors.New("audit: unsigned record")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	s.buf = append(append(s.buf[:0], line...), '\n')
	return s.writeLocked()
}

// WriteBatch appends several records with one write and at most one
// fsync: all or nothing.
func (s *fileSink) WriteBatch(_ context.Context, rs []*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	s.buf = s.buf[:0]
	for _, r := range rs {
		if len(r.Line()) == 0 {
			return errors.New("audit: unsigned record")
		}
		s.buf = append(append(s.buf, r.Line()...), '\n')
	}
	return s.writeLocked()
}

// writeLocked writes s.buf and applies the sync policy.
func (s *fileSink) writeLocked() error {
	n, err := s.f.Write(s.buf)
	if err != nil {
		if n > 0 {
			// Best effort: remove the partial line so the retry starts clean.
			_ = s.f.Truncate(s.size)
		}
		return err
	}
	s.size += int64(n)
	switch {
	case s.cfg.NoSync:
	case s.cfg.SyncInterval == 0:
		if err := s.f.Sync(); err != nil {
			return err
		}
	default:
		s.dirty = true
		if now := time.Now(); now.Sub(s.lastSync) >= s.cfg.SyncInterval {
			return s.syncLocked()
		}
		if s.timer == nil {
			s.timer = time.AfterFunc(s.cfg.SyncInterval, func() { _ = s.Sync() })
		}
	}
	return nil
}

// Sync forces written records to stable storage.
func (s *fileSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.syncLocked()
}

func (s *fileSink) syncLocked() error {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.dirty = false
	s.lastSync = time.Now()
	return s.f.Sync()
}

// Ping reports whether the file is still writable.
func (s *fileSink) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	_, err := s.f.Stat()
	return err
}

// Close syncs and closes the file.
func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.syncLocked()
	return errors.Join(err, s.f.Close())
}

// Tail returns the sequence number and MAC the next record must chain to.
func (s *fileSink) Tail(context.Context) (uint64, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, err := lastLine(s.path)
	if err != nil || last == nil {
		return 0, "", err
	}
	r, err := ParseRecord(last)
	if err != nil {
		return 0, "", fmt.Errorf("audit: last record of %s: %w", s.path, err)
	}
	if r.Kind == KindAnchor {
		return r.Seq, r.Prev, nil
	}
	return r.Seq, r.MAC, nil
}

// lastLine returns the last complete line of the file at path (nil for an
// empty file), or ErrTorn.
func lastLine(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return nil, nil
	}
	var tail []byte
	const chunk = 64 << 10
	for off := size; off > 0; {
		n := int64(chunk)
		if off < n {
			n = off
		}
		off -= n
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil {
			return nil, err
		}
		tail = append(b, tail...)
		if len(tail) > 0 && tail[len(tail)-1] != '\n' {
			return nil, ErrTorn
		}
		if i := bytes.LastIndexByte(tail[:len(tail)-1], '\n'); i >= 0 {
			return tail[i+1 : len(tail)-1], nil
		}
		if len(tail) > maxLineBytes {
			return nil, errors.New("audit: last line longer than the limit")
		}
	}
	return tail[:len(tail)-1], nil
}

// Prune implements retention: it rewrites the file without the leading
// records older than before, starting it with a signed anchor that names
// the last dropped record, and swaps it in atomically (write, fsync,
// rename). Called through Logger.Prune, which holds the writer lock.
func (s *fileSink) Prune(_ context.Context, before time.Time, anchor func(*Record) error) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, os.ErrClosed
	}
	if err := s.f.Sync(); err != nil {
		return 0, err
	}
	in, err := os.Open(s.path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	br := bufio.NewReaderSize(in, 64<<10)
	var (
		dropped  int
		lastSeq  uint64
		lastMAC  string
		keepFrom []byte // first kept line
	)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				return 0, ErrTorn
			}
			break
		}
		if err != nil {
			return 0, err
		}
		r, err := ParseRecord(line)
		if err != nil {
			return 0, err
		}
		if r.Kind == KindAnchor {
			lastSeq, lastMAC = r.Seq, r.Prev
			continue
		}
		if !r.Time.Before(before) {
			keepFrom = line
			break
		}
		lastSeq, lastMAC = r.Seq, r.MAC
		dropped++
	}
	if dropped == 0 {
		return 0, nil
	}
	a := &Record{Seq: lastSeq, Prev: lastMAC}
	if err := anchor(a); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".prune-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriterSize(tmp, 64<<10)
	w.Write(a.Line())
	w.WriteByte('\n')
	w.Write(keepFrom)
	if _, err := io.Copy(w, br); err != nil {
		tmp.Close()
		return 0, err
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Chmod(s.cfg.Perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return 0, err
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, s.cfg.Perm)
	if err != nil {
		return dropped, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return dropped, err
	}
	s.f.Close()
	s.f, s.size = f, st.Size()
	return dropped, nil
}

package audit

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// ErrTampered is matched (errors.Is) by every verification failure.
var ErrTampered = errors.New("audit: trail tampered with")

// TamperError locates the first bad record of a trail.
type TamperError struct {
	Line   int    // 1-based line (or row) number
	Seq    uint64 // sequence number of the bad record, when it could be read
	Reason string
}

func (e *TamperError) Error() string {
	if e.Seq > 0 {
		return fmt.Sprintf("audit: line %d (seq %d): %s", e.Line, e.Seq, e.Reason)
	}
	return fmt.Sprintf("audit: line %d: %s", e.Line, e.Reason)
}

// Is makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// Verification summarises a verified trail.
type Verification struct {
	Records  int    // records checked, anchor included
	FirstSeq uint64 // sequence number of the first chained record
	LastSeq  uint64
	LastMAC  string
	LastTime time.Time // time of the last record: an open chain whose last record is old was most likely left by a crash
	Anchored bool      // the trail starts with a retention anchor
	Sealed   bool      // the last record is a seal written by Logger.Close
	Seals    int       // seals seen (one per clean shutdown)
	Purges   int       // purge records seen
}

// maxLineBytes bounds one record line accepted by the verifier.
const maxLineBytes = 16 << 20

// Verify checks a trail in the file sink's format: every record's MAC
// under key, consecutive sequence numbers, each record naming the previous
// one's MAC, and a final seal. It returns the first problem as a
// *TamperError (errors.Is(err, ErrTampered)): an edited record fails its
// MAC; a deleted, inserted or reordered record breaks the sequence or the
// chain; a trail cut short ends without its seal or with a torn line.
//
// One cut cannot be seen from the trail alone: a file written across
// restarts holds one seal per clean shutdown, and a trail cut right after
// an earlier seal still ends sealed. Verification.Seals and LastSeq say
// how far the trail goes; compare them with what the Logger last wrote
// (Logger.Stats, monitoring) when that matters.
//
// A trail that is still being written has no seal yet; check it with
// [VerifyOpen], which accepts a missing seal but cannot tell whether
// records were cut from its end.
func Verify(r io.Reader, key []byte) (Verification, error) {
	return verifyReader(r, key, true)
}

// VerifyOpen is Verify for a trail whose Logger may still be running: a
// missing final seal is not an error. Truncation of whole records from the
// end of such a trail is undetectable; compare Verification.LastSeq with the
// Logger's or the monitoring's count.
func VerifyOpen(r io.Reader, key []byte) (Verification, error) {
	return verifyReader(r, key, false)
}

func verifyReader(r io.Reader, key []byte, requireSeal bool) (Verification, error) {
	if len(key) < minKeyBytes {
		return Verification{}, ErrNoKey
	}
	v := newVerifier(key)
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > maxLineBytes {
				return v.rep, v.fail(0, "line longer than the limit")
			}
			continue
		}
		if err == io.EOF {
			if len(line) > 0 {
				return v.rep, v.fail(0, "last line is incomplete (torn write or truncation)")
			}
			break
		}
		if err != nil {
			return v.rep, err
		}
		if ferr := v.feed(line[:len(line)-1]); ferr != nil {
			return v.rep, ferr
		}
		line = line[:0]
	}
	return v.rep, v.finish(requireSeal)
}

type verifier struct {
	mac      hash.Hash
	rep      Verification
	line     int
	nextSeq  uint64
	prev     string
	lastKind string
}

func newVerifier(key []byte) *verifier {
	return &verifier{mac: hmac.New(sha256.New, key), nextSeq: 1}
}

func (v *verifier) fail(seq uint64, reason string) error {
	line := v.line
	if seq == 0 {
		line++
	}
	return &TamperError{Line: line, Seq: seq, Reason: reason}
}

func (v *verifier) feed(line []byte) error {
	v.line++
	body, mac, err := splitMAC(line)
	if err != nil {
		return &TamperError{Line: v.line, Reason: err.Error()}
	}
	rec, err := ParseRecord(line)
	if err != nil {
		return &TamperError{Line: v.line, Reason: err.Error()}
	}
	v.mac.Reset()
	v.mac.Write(body)
	var want [64]byte
	hex.Encode(want[:], v.mac.Sum(nil))
	if !hmac.Equal(want[:], []byte(mac)) {
		return &TamperError{Line: v.line, Seq: rec.Seq, Reason: "MAC mismatch: the record was edited (or the key is wrong)"}
	}
	v.rep.Records++
	v.rep.LastTime = rec.Time
	if rec.Kind == KindAnchor {
		if v.line != 1 {
			return &TamperError{Line: v.line, Seq: rec.Seq, Reason: "retention anchor after the start of the trail"}
		}
		v.rep.Anchored = true
		v.nextSeq = rec.Seq + 1
		v.prev = rec.Prev
		v.lastKind = KindAnchor
		return nil
	}
	if rec.Seq != v.nextSeq {
		return &TamperError{Line: v.line, Seq: rec.Seq, Reason: fmt.Sprintf("expected seq %d: records deleted, inserted or reordered", v.nextSeq)}
	}
	if rec.Prev != v.prev {
		return &TamperError{Line: v.line, Seq: rec.Seq, Reason: "chain broken: prev does not match the previous record's MAC"}
	}
	if v.rep.FirstSeq == 0 {
		v.rep.FirstSeq = rec.Seq
	}
	v.rep.LastSeq = rec.Seq
	v.rep.LastMAC = rec.MAC
	switch rec.Kind {
	case KindSeal:
		v.rep.Seals++
	case KindPurge:
		v.rep.Purges++
	}
	v.lastKind = rec.Kind
	v.nextSeq = rec.Seq + 1
	v.prev = rec.MAC
	return nil
}

func (v *verifier) finish(requireSeal bool) error {
	v.rep.Sealed = v.lastKind == KindSeal
	if requireSeal && !v.rep.Sealed {
		return &TamperError{Line: v.line + 1, Reason: "trail ends without a seal: records were cut from the end, or the logger is still open"}
	}
	return nil
}

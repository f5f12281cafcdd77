package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
)

// Record kinds.
const (
	KindCall      = "call"      // one guarded request: a tools/call, resources/read, prompts/get…
	KindPurge     = "purge"     // a subject's personal data was erased
	KindRetention = "retention" // records older than a cutoff were dropped
	KindSeal      = "seal"      // the log was closed cleanly; the last record of a sealed file
	KindAnchor    = "anchor"    // first record after retention: where the chain continues
	KindStart     = "start"     // first record of an instance's chain in a trail shared by a fleet
)

// Record is one audit record. Fields are written in a fixed order; the
// signed form (see [Record.Line]) is what sinks store and what [Verify]
// checks.
type Record struct {
	Seq  uint64    `json:"seq"`
	Kind string    `json:"kind"`
	Time time.Time `json:"time"` // UTC; for calls, when the call entered the chain
	// Instance names the chain the record belongs to, in a trail that
	// several server instances share (one PostgreSQL table for a fleet).
	// The Logger sets it from its sink; it is empty in a trail of one chain.
	Instance string `json:"instance,omitempty"`

	ID        string `json:"id,omitempty"`        // correlation ID
	Session   string `json:"session,omitempty"`   // MCP session ID
	Transport string `json:"transport,omitempty"` // "http" or "stdio"
	Client    string `json:"client,omitempty"`    // client name from initialize
	ClientVer string `json:"client_version,omitempty"`

	Principal  string `json:"principal,omitempty"` // omitted when Sealed holds it
	AuthMethod string `json:"auth_method,omitempty"`
	// Method is the MCP method of a call ("tools/call", "resources/read",
	// "prompts/get", …); records written before it existed have none and
	// were all tools/call. What a method other than tools/call acted on (a
	// resource URI, a prompt name) is in Arguments, its params.
	Method string `json:"method,omitempty"`
	Tool   string `json:"tool,omitempty"` // tools/call only
	// Arguments are the redacted arguments (omitted when Sealed holds them,
	// or when only the digest is kept).
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// ArgumentsDigest is a keyed digest ("hmac-sha256:<hex>") of the arguments,
	// recorded when arguments are digested or too large to keep.
	ArgumentsDigest string `json:"arguments_digest,omitempty"`
	// Sealed holds personal fields encrypted under the subject's key.
	Sealed *Sealed `json:"sealed,omitempty"`

	// Outcome is, for a call, its bulwark.Outcome as bulwark.OutcomeOf
	// classifies it: "ok", "tool_error", "protocol_error" or a refusal
	// code such as "rate_limited" (records written before v1 say
	// "rpc_error" for "protocol_error"). Edge records carry the refusal
	// code, session records "opened" or "closed".
	Outcome  string `json:"outcome,omitempty"`
	Reason   string `json:"reason,omitempty"` // what the client was told (redacted)
	Detail   string `json:"detail,omitempty"` // operator-only cause (redacted)
	Duration int64  `json:"duration_us,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	Cache    string `json:"cache,omitempty"`
	Breaker  string `json:"breaker,omitempty"`

	Fields map[string]string `json:"fields,omitempty"`

	Prev string `json:"prev"` // MAC of the previous record ("" for the first)
	MAC  string `json:"mac"`

	line []byte
}

// Sealed is the encrypted personal part of a record: AES-256-GCM under the
// subject's key, with the record's correlation ID as additional data.
type Sealed struct {
	Key  string `json:"key"`  // key ID in the ErasureKeys (random, not personal)
	Data string `json:"data"` // base64(nonce || ciphertext)
}

// Line returns the signed JSON encoding of r without a trailing newline,
// as written by the Logger. It is nil for a record that was never signed.
func (r *Record) Line() []byte { return r.line }

const macField = `,"mac":"`

// sizeHint estimates the length of the signed line, so it is built in one
// allocation in the common case.
func (r *Record) sizeHint() int {
	n := 320 + len(r.Instance) + len(r.ID) + len(r.Session) + len(r.Transport) + len(r.Client) + len(r.ClientVer) +
		len(r.Principal) + len(r.AuthMethod) + len(r.Method) + len(r.Tool) + len(r.Arguments) + len(r.ArgumentsDigest) +
		len(r.Outcome) + len(r.Reason) + len(r.Detail) + len(r.Cache) + len(r.Breaker) + len(r.Prev)
	if r.Sealed != nil {
		n += 32 + len(r.Sealed.Key) + len(r.Sealed.Data)
	}
	for k, v := range r.Fields {
		n += 8 + len(k) + len(v)
	}
	return n + n/8 // room for escapes
}

// encode appends the record's JSON, up to but excluding the mac field.
func (r *Record) encodeBody(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"kind":`...)
	b = jsontext.AppendString(b, r.Kind)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "instance", r.Instance)
	b = appendField(b, "id", r.ID)
	b = appendField(b, "session", r.Session)
	b = appendField(b, "transport", r.Transport)
	b = appendField(b, "client", r.Client)
	b = appendField(b, "client_version", r.ClientVer)
	b = appendField(b, "principal", r.Principal)
	b = appendField(b, "auth_method", r.AuthMethod)
	b = appendField(b, "method", r.Method)
	b = appendField(b, "tool", r.Tool)
	if len(r.Arguments) > 0 {
		b = append(b, `,"arguments":`...)
		b = append(b, r.Arguments...)
	}
	b = appendField(b, "arguments_digest", r.ArgumentsDigest)
	if r.Sealed != nil {
		b = append(b, `,"sealed":{"key":`...)
		b = jsontext.AppendString(b, r.Sealed.Key)
		b = append(b, `,"data":`...)
		b = jsontext.AppendString(b, r.Sealed.Data)
		b = append(b, '}')
	}
	b = appendField(b, "outcome", r.Outcome)
	b = appendField(b, "reason", r.Reason)
	b = appendField(b, "detail", r.Detail)
	if r.Duration != 0 {
		b = append(b, `,"duration_us":`...)
		b = strconv.AppendInt(b, r.Duration, 10)
	}
	if r.Attempts != 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(r.Attempts), 10)
	}
	b = appendField(b, "cache", r.Cache)
	b = appendField(b, "breaker", r.Breaker)
	if len(r.Fields) > 0 {
		keys := make([]string, 0, len(r.Fields))
		for k := range r.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, `,"fields":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsontext.AppendString(b, k)
			b = append(b, ':')
			b = jsontext.AppendString(b, r.Fields[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"prev":`...)
	b = jsontext.AppendString(b, r.Prev)
	return b
}

func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return jsontext.AppendString(b, v)
}

// ErrMalformed reports a line that is not a well-formed signed record.
var ErrMalformed = errors.New("audit: malformed record")

// ParseRecord parses one signed line (with or without its trailing
// newline). It checks the shape only; [Verify] checks MACs and the chain.
func ParseRecord(line []byte) (*Record, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	body, mac, err := splitMAC(line)
	if err != nil {
		return nil, err
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if r.MAC != mac {
		return nil, fmt.Errorf("%w: duplicate mac field", ErrMalformed)
	}
	if r.Seq == 0 || r.Kind == "" || r.Time.IsZero() {
		return nil, fmt.Errorf("%w: missing seq, kind or time", ErrMalformed)
	}
	_ = body
	r.line = append([]byte(nil), line...)
	return &r, nil
}

// splitMAC splits a line into the signed body and the hex MAC. The line must
// end with `,"mac":"<64 hex digits>"}`.
func splitMAC(line []byte) (body []byte, mac string, err error) {
	const tail = len(macField) + 64 + 2
	if len(line) < tail+2 || line[0] != '{' || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, "", fmt.Errorf("%w: no mac at the end", ErrMalformed)
	}
	cut := len(line) - tail
	if string(line[cut:cut+len(macField)]) != macField {
		return nil, "", fmt.Errorf("%w: no mac at the end", ErrMalformed)
	}
	m := line[cut+len(macField) : len(line)-2]
	if _, err := hex.Decode(make([]byte, 32), m); err != nil {
		return nil, "", fmt.Errorf("%w: mac is not hex", ErrMalformed)
	}
	for _, c := range m {
		if c >= 'A' && c <= 'F' {
			return nil, "", fmt.Errorf("%w: mac is not lower-case hex", ErrMalformed)
		}
	}
	return line[:cut], string(m), nil
}

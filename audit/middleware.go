package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Middleware records exactly one record per call in l (tools/call and every
// other method bulwark.Use guards, named in Record.Method): the outcome,
// who called, what with (redacted), how long, and what the inner layers
// decided. Install it outermost, before Recover, so that every refusal and
// panic below it is recorded.
//
// The outcome is what bulwark.OutcomeOf says of what the chain returned:
// "ok"; "tool_error" for an IsError result of the tool's own;
// "protocol_error" for a JSON-RPC error that is not a refusal; a refusal
// is its code ("unauthenticated", "rate_limited", "unavailable",
// "deadline_exceeded", "internal", …), with the client-safe message as
// reason and the cause, redacted, as detail for operators. A call whose
// context was cancelled by the client is "canceled" whatever the handler
// returned. A panic that reaches it is recorded and returned as an internal
// error.
//
// When the record cannot be kept, Config.BufferSize decides: without a
// buffer (or with a full one) the call is refused with
// bulwark.Unavailable (before its handler runs when the sink is already
// known to be failing).
//
// What a record holds of the arguments, and whose key seals its personal
// fields, are the Logger's Config.DigestOnly and Config.Subject.
//
// A nil l is a programming error and panics here, at construction, rather
// than letting calls run unaudited.
func Middleware(l *Logger) bulwark.Middleware {
	if l == nil {
		panic("audit.Middleware: nil *Logger")
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
			c := bulwark.CallFrom(ctx)
			var start time.Time
			if c != nil {
				start = c.Start
			}
			if start.IsZero() {
				start = l.clock.Now()
			}
			if rerr := l.Ready(ctx); rerr != nil {
				l.refused.Add(1)
				err = bulwark.Unavailable("audit trail unavailable", l.cfg.RetryInterval, rerr)
				c.SetRejection(err)
				r := l.callRecord(ctx, req, c, nil, err, start)
				_ = l.giveUp(ctx, r, rerr)
				return nil, err
			}
			defer func() {
				if v := recover(); v != nil {
					err = bulwark.Internal(&bulwark.PanicError{Value: v, Stack: debug.Stack()})
					res = nil
					c.SetRejection(err)
				}
				r := l.callRecord(ctx, req, c, res, err, start)
				if werr := l.Log(ctx, r); werr != nil {
					l.refused.Add(1)
					res = nil
					err = bulwark.Unavailable("audit trail unavailable", l.cfg.RetryInterval, werr)
				}
			}()
			return next(ctx, req)
		}
	}
}

// callRecord builds the record of one call.
func (l *Logger) callRecord(ctx context.Context, req *mcp.CallToolRequest, c *bulwark.Call, res *mcp.CallToolResult, err error, start time.Time) *Record {
	now := l.clock.Now()
	r := &Record{
		Kind:     KindCall,
		Time:     start.UTC(),
		Duration: now.Sub(start).Microseconds(),
	}
	var def *mcp.Tool
	if c != nil {
		r.ID, r.Session, r.Transport, r.Method, r.Tool = c.ID, c.SessionID, c.Transport, c.Method, c.Tool
		def = c.Def
		if p := c.Principal(); p != nil {
			r.Principal = l.redactor.Text(p.ID)
			r.AuthMethod = p.Method
		}
		r.Attempts = c.Attempts()
		r.Cache = c.Field(callrec.FieldCache)
		r.Breaker = c.Field(callrec.FieldBreaker)
		// The cache outcome and breaker state have entries of their own.
		if f := callrec.OtherFields(c); f != nil {
			for k, v := range f {
				f[k] = l.redactor.Text(v)
			}
			r.Fields = f
		}
	}
	var rawArgs json.RawMessage
	if req != nil {
		if req.Params != nil {
			if c == nil {
				r.Tool = req.Params.Name
			}
			rawArgs = req.Params.Arguments
		}
		if ci := req.ClientInfo(); ci != nil {
			r.Client = l.redactor.Text(ci.Name)
			r.ClientVer = l.redactor.Text(ci.Version)
		}
	}
	r.Tool = l.redactor.Text(r.Tool)
	if len(rawArgs) > 0 {
		if l.cfg.DigestOnly {
			r.ArgumentsDigest = l.digest(rawArgs)
		} else {
			r.Arguments = l.redactor.Arguments(ctx, rawArgs, def)
		}
	}
	l.outcome(ctx, r, c, res, err)
	if ks := l.cfg.ErasureKeys; ks != nil {
		subject := ""
		if l.cfg.Subject != nil {
			subject = l.cfg.Subject(ctx, req)
		} else if c != nil {
			subject = c.PrincipalID()
		}
		if subject != "" {
			if serr := l.seal(ctx, ks, subject, r); serr != nil {
				// Never fall back to clear text: keep the digest only.
				r.Principal, r.Arguments = "", nil
				if len(rawArgs) > 0 {
					r.ArgumentsDigest = l.digest(rawArgs)
				}
				r.Detail = joinDetail(r.Detail, "personal fields withheld: "+l.redactor.Text(serr.Error()))
			}
		}
	}
	return r
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (l *Logger) digest(raw []byte) string {
	m := hmac.New(sha256.New, l.argKey)
	m.Write(raw)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// outcome records how the call ended, as bulwark.OutcomeOf classifies
// it, with what the client was told (reason) and, for operators, the
// cause (detail).
func (l *Logger) outcome(ctx context.Context, r *Record, c *bulwark.Call, res *mcp.CallToolResult, err error) {
	o := bulwark.OutcomeOf(ctx, res, err)
	r.Outcome = string(o)
	switch o {
	case bulwark.OutcomeOK:
		return
	case bulwark.OutcomeToolError:
		r.Reason = l.redactedPrefix(resultText(res), 1024)
		return
	}
	if err == nil {
		// A refusal the result carries, or a result the client cannot
		// receive for this method.
		be := c.ResultError(res)
		if be == nil {
			r.Reason = l.redactedPrefix(resultText(res), 1024)
			return
		}
		err = be
	}
	var wire *jsonrpc.Error
	if errors.As(err, &wire) {
		r.Reason = l.redactedPrefix(wire.Message, 1024)
		return
	}
	e := bulwark.ErrorOf(err)
	if o.Code() == bulwark.CodeCanceled && e.Code != bulwark.CodeCanceled {
		// The client cancelled the call, whatever the layer that noticed
		// it returned.
		e = &bulwark.Error{Code: bulwark.CodeCanceled, Cause: err}
	}
	if e.Code == bulwark.CodeInternal {
		r.Reason = "internal error (id " + r.ID + ")"
	} else {
		r.Reason = l.redactor.Text(e.Error())
	}
	if e.Cause != nil {
		r.Detail = l.redactedPrefix(e.Cause.Error(), 4096)
	}
}

func resultText(res *mcp.CallToolResult) string {
	s := ""
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			s += t.Text
		}
	}
	return s
}

// truncate shortens s to at most n bytes on a rune boundary.
// redactWindow is how much of a long text is redacted before it is cut
// to its limit.
const redactWindow = 64 << 10

// redactedPrefix returns the first n bytes of the redacted form of s.
// Redaction comes first: cutting first could leave the start of a secret
// that straddles the cut, too short to be recognised. Text longer than
// redactWindow is cut there first (bounding the work); a secret cut at the
// window's end sits far beyond n, unless masking shrank the text a lot, in
// which case the window's last redactWindow/2 bytes are dropped too.
func (l *Logger) redactedPrefix(s string, n int) string {
	if len(s) <= redactWindow {
		return truncate(l.redactor.Text(s), n)
	}
	t := l.redactor.Text(truncate(s, redactWindow))
	if len(t) < n+redactWindow/2 {
		t = truncate(t, max(len(t)-redactWindow/2, 0))
	}
	return truncate(t, n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// capSize enforces MaxRecordBytes by dropping arguments for their digest,
// then shortening detail and reason.
func (l *Logger) capSize(r *Record) {
	limit := l.cfg.MaxRecordBytes
	if limit == 0 {
		return
	}
	size := func() int { return len(r.encodeBody(nil)) + 80 }
	if size() <= limit {
		return
	}
	if len(r.Arguments) > 0 {
		r.ArgumentsDigest = l.digest(r.Arguments) // of the redacted form: the raw one is gone
		r.Arguments = nil
		r.setField("arguments_dropped", "size cap")
	}
	for _, f := range []*string{&r.Detail, &r.Reason} {
		if over := size() - limit; over > 0 && len(*f) > 0 {
			keep := len(*f) - over - 16
			if keep < 0 {
				keep = 0
			}
			*f = truncate(*f, keep)
		}
	}
	if size() > limit {
		r.Fields = map[string]string{"fields_dropped": fmt.Sprint(len(r.Fields))}
	}
}

func (r *Record) setField(k, v string) {
	if r.Fields == nil {
		r.Fields = make(map[string]string, 1)
	}
	r.Fields[k] = v
}

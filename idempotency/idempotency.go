package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ReplayMetaKey is the _meta key set to true on a result that the layer
// replayed from its store rather than computed.
const ReplayMetaKey = "bulwark/idempotent-replay"

// RecordField is the call-record field ([bulwark.Call.SetField]) that the layer
// sets to "executed" or "replayed", or to "in progress" when it refused a
// call whose key another call holds.
const RecordField = "idempotency"

// New returns the layer that makes calls that carry an idempotency key
// (see [Config].Keys) execute at most once per (principal, tool, key):
//
//   - the first call claims the key in store and runs; its result is
//     stored for Config.TTL (24 hours by default);
//   - a later call with the same key and the same arguments receives a
//     copy of the stored result, marked with _meta[ReplayMetaKey], without
//     running the handler;
//   - a call with the same key and different arguments is refused with an
//     invalid-argument refusal: keys must not be reused;
//   - a duplicate that arrives while the first is still running waits for
//     its result (up to Config.Wait, and never past a poll interval before
//     its own deadline), then replays it; if the wait runs out it is
//     refused as unavailable ("still in progress"), with a retry-after
//     equal to the time the claim has left;
//   - a retry that finds a claim its owner stopped renewing (its process
//     died mid-call: with a [Renewer] store, less than half the pending TTL
//     left, since a live owner renews every third) is refused at once the
//     same way, its retry-after the time until the claim lapses and the
//     key runs again;
//   - a principal with as many keys in progress as a bounded store allows
//     one caller (MemoryConfig.MaxEntriesPerPrincipal) is refused as rate
//     limited.
//
// Keys are scoped by the authenticated principal ([bulwark.Call.Principal]:
// its authentication method and ID), so one caller can never replay
// another's result; without an auth layer every caller shares one scope. Keys and principals enter the store only
// as a hash. Arguments are compared by the SHA-256 of their canonical JSON
// (key order, whitespace and the spelling of numbers do not matter;
// arguments that repeat a key are refused).
//
// What is stored: the results [bulwark.OutcomeOf] calls "ok" or
// "tool_error" (the tool's deliberate answer). When the handler returns
// an error, a refusal, or an IsError result standing for a failure, the
// claim is released so the client can try again with the same key: a handler whose
// write may have taken effect must report that as a result, not an error.
//
// While the handler runs, the claim is renewed if the store is a [Renewer],
// so a duplicate never runs because the first call was slow. Only a
// process that dies mid-call, or a store that loses the claim or fails to
// take the result, frees the key for another run: after the pending TTL
// (Config.PendingTTL). Every instance sharing a store must use the same
// pending TTL, since each judges the others' claims by it. An operator can
// free keys stuck by a crash before their pending TTL ends by deleting,
// from a Renewer store, the pending entries with less than half the
// pending TTL left: those are the abandoned claims.
//
// Calls without a key pass through, unless Config.RequireKey is set. A call's
// key is available to the handler with [KeyFrom]. If the store fails, the
// call is refused as unavailable rather than run unprotected.
//
// It returns an error for a nil store or a negative duration in c.
//
// Place the layer after auth (it needs the principal), inside
// bulwark.Timeout and outside retry: just before retry is right. Inside the
// timeout matters: a handler abandoned at its deadline keeps running, and
// only a layer between the timeout and the handler sees it finish and can
// settle the key then; outside, the key would be released while the write
// may still happen.
func New(store Store, c Config) (bulwark.Middleware, error) {
	if store == nil {
		return nil, errors.New("idempotency: nil Store")
	}
	o, err := c.options()
	if err != nil {
		return nil, err
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !bulwark.IsToolCall(ctx) {
				return next(ctx, req) // resources, prompts: no tool arguments to key
			}
			p, rerr := o.keys.read(ctx, req, true)
			if rerr != nil {
				return nil, rerr
			}
			if p.key == "" {
				if o.requireKey {
					return nil, bulwark.InvalidArgument(o.keys.field(), "this tool requires an idempotency key: a unique string per intended operation, reused only to repeat that same operation")
				}
				return next(ctx, req)
			}
			return o.once(ctx, store, req, p, next)
		}
	}, nil
}

func (o *options) once(ctx context.Context, store Store, req *mcp.CallToolRequest, p parsed, next mcp.ToolHandler) (*mcp.CallToolResult, error) {
	call := bulwark.CallFrom(ctx)
	fp, err := fingerprint(p.args)
	if err != nil {
		return nil, bulwark.InvalidArgument("", "arguments cannot be fingerprinted")
	}
	tool := ""
	if req != nil && req.Params != nil {
		tool = req.Params.Name
	}
	key := storeKey(call.Principal(), tool, p.key)
	ctx = withScope(ctx, scopeOf(call.Principal()))
	token := newToken()
	giveUp := o.giveUp(ctx)
	_, renewed := store.(Renewer)
	for {
		existing, tmpl, claimed, err := o.claim(ctx, store, key, token, fp)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if errors.Is(err, ErrPrincipalFull) {
				return nil, bulwark.RateLimited("too many calls with idempotency keys are in progress for this caller", time.Second)
			}
			return nil, bulwark.Unavailable("the idempotency store is unavailable", 0, err)
		}
		if claimed {
			break
		}
		if existing.Fingerprint != fp {
			return nil, bulwark.InvalidArgument(o.keys.field(), "this idempotency key was already used with different arguments; use a new key for a new operation")
		}
		if existing.Done {
			res, err := replay(existing.Result, tmpl)
			if err != nil {
				return nil, bulwark.Internal(err)
			}
			call.SetField(RecordField, "replayed")
			return res, nil
		}
		// A live owner renews its claim every third of the pending TTL,
		// so a claim with less than half of it left was abandoned: its
		// process died mid-call. Waiting for it is pointless.
		left := existing.Remaining
		abandoned := renewed && left > 0 && left < o.pendingTTL/2
		now := o.clock.Now()
		if abandoned || !now.Before(giveUp) {
			retryAfter := left
			if retryAfter <= 0 {
				retryAfter = o.poll // the store does not say
			}
			call.SetField(RecordField, "in progress")
			return nil, bulwark.Unavailable("a call with this idempotency key is still in progress", retryAfter, nil)
		}
		select {
		case <-o.clock.After(min(o.poll, giveUp.Sub(now))):
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}

	// This call holds the key. Whatever happens, settle the claim on a
	// context that outlives the caller: the work is done either way.
	bg := context.WithoutCancel(ctx)
	stop := o.keepClaim(bg, store, key, token)
	settled := false
	defer func() {
		if !settled { // the handler panicked
			stop()
			_ = store.Release(bg, key, token)
		}
	}()
	ctx = withKey(ctx, p.key)
	res, err := next(ctx, req)
	stop()
	settled = true
	call.SetField(RecordField, "executed")
	if !storable(ctx, res, err) {
		_ = store.Release(bg, key, token)
		return res, err
	}
	data, merr := json.Marshal(res)
	if merr != nil {
		_ = store.Release(bg, key, token)
		return res, err
	}
	if cerr := complete(bg, store, key, token, Entry{Fingerprint: fp, Done: true, Result: data}, o.ttl); cerr != nil {
		// The result stands; the claim lapses after its pending TTL, after
		// which a duplicate would run again. Note it for the audit record.
		call.SetField(RecordField, "executed; result not stored")
	}
	return res, err
}

// giveUp is when a duplicate stops waiting for the call that holds its
// key: after the wait (Config.Wait), and a poll interval before its own
// deadline, so that it receives the refusal that says when to retry rather
// than a deadline-exceeded one.
func (o *options) giveUp(ctx context.Context) time.Time {
	now := o.clock.Now()
	wait := o.wait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-o.poll)
	}
	return now.Add(wait)
}

type scopeCtx struct{}

// scopeOf names the principal for a store's per-principal bound: a hash
// of how it authenticated and its ID, "" for no principal.
func scopeOf(p *bulwark.Principal) string {
	if p == nil {
		return ""
	}
	return storeKey(p, "", "")[:32]
}

func withScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeCtx{}, scope)
}

func scopeFrom(ctx context.Context) string {
	s, _ := ctx.Value(scopeCtx{}).(string)
	return s
}

// completeAttempts is how many times the layer tries to store a result:
// a write that ran must not be left pending over one dropped connection.
const completeAttempts = 3

func complete(ctx context.Context, store Store, key, token string, e Entry, ttl time.Duration) error {
	var err error
	for i := 0; i < completeAttempts; i++ {
		if err = store.Complete(ctx, key, token, e, ttl); err == nil || errors.Is(err, ErrNotOwner) {
			return err
		}
	}
	return err
}

// keepClaim renews the claim on key every third of the pending TTL while
// the handler runs, when store is a [Renewer], so that a slow handler keeps
// the key. The returned function stops the renewals and waits for them to
// end.
func (o *options) keepClaim(ctx context.Context, store Store, key, token string) (stop func()) {
	rn, ok := store.(Renewer)
	if !ok {
		return func() {}
	}
	every := max(o.pendingTTL/3, time.Millisecond)
	ctx, cancel := context.WithCancel(ctx)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-o.clock.After(every):
			case <-ctx.Done():
				return
			}
			// A failed renewal is tried again at the next tick while
			// the claim may still be live; a lost claim cannot be won
			// back (Complete will report it).
			if err := rn.Renew(ctx, key, token, o.pendingTTL); errors.Is(err, ErrNotOwner) {
				return
			}
		}
	}()
	return func() {
		cancel()
		<-ended
	}
}

// storable reports whether a call's outcome is the tool's answer, to be
// replayed: a result, or an IsError result the model is meant to read.
func storable(ctx context.Context, res *mcp.CallToolResult, err error) bool {
	switch bulwark.OutcomeOf(ctx, res, err) {
	case bulwark.OutcomeOK, bulwark.OutcomeToolError:
		return err == nil && res != nil
	}
	return false
}

// claim claims key in store. From a [MemoryStore] a completed entry also
// comes with its decoded result (tmpl), so that replays copy it instead of
// decoding the stored JSON each time.
func (o *options) claim(ctx context.Context, store Store, key, token, fp string) (e Entry, tmpl *mcp.CallToolResult, claimed bool, err error) {
	if ms, ok := store.(*MemoryStore); ok {
		return ms.claimDecoded(scopeFrom(ctx), key, token, fp, o.pendingTTL)
	}
	e, claimed, err = store.Claim(ctx, key, token, fp, o.pendingTTL)
	return e, nil, claimed, err
}

// replay returns a stored result as a fresh value, so every caller owns
// what it receives: a deep copy of tmpl (the stored JSON, decoded) when
// there is one, otherwise data decoded.
func replay(data []byte, tmpl *mcp.CallToolResult) (*mcp.CallToolResult, error) {
	var res *mcp.CallToolResult
	if tmpl != nil {
		res = jsontext.CloneResult(tmpl)
	} else {
		var err error
		if res, err = decodeResult(data); err != nil {
			return nil, err
		}
	}
	if res.Meta == nil {
		res.Meta = mcp.Meta{}
	}
	res.Meta[ReplayMetaKey] = true
	return res, nil
}

func decodeResult(data []byte) (*mcp.CallToolResult, error) {
	res := new(mcp.CallToolResult)
	if err := json.Unmarshal(data, res); err != nil {
		return nil, err
	}
	return res, nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

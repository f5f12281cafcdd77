package retry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ReplayMetaKey is the _meta key set to true on a result that Idempotency
// replayed from its store rather than computed.
const ReplayMetaKey = "bulwark/idempotent-replay"

// IdempotencyField is the call-record field ([bulwark.Call.SetField]) that
// Idempotency sets to "executed" or "replayed".
const IdempotencyField = "idempotency"

// Idempotency makes calls that carry an idempotency key (see [WithKeys])
// execute at most once per (principal, tool, key):
//
//   - the first call claims the key in store and runs; its result is
//     stored for [WithTTL] (24 hours by default);
//   - a later call with the same key and the same arguments receives a
//     copy of the stored result, marked with _meta[ReplayMetaKey], without
//     running the handler;
//   - a call with the same key and different arguments is refused with an
//     invalid-argument refusal: keys must not be reused;
//   - a duplicate that arrives while the first is still running waits for
//     its result (up to [WithWait] and its own deadline), then replays it;
//     if the wait runs out it is refused as unavailable, with a retry hint.
//
// Keys are scoped by the authenticated principal ([bulwark.Call.Principal]:
// its authentication method and ID), so one caller can never replay
// another's result; without an auth layer every caller shares one scope. Keys and principals enter the store only
// as a hash. Arguments are compared by the SHA-256 of their canonical JSON
// (key order and whitespace do not matter).
//
// What is stored: successful results, and IsError results that are the
// tool's answer (not a bulwark refusal, not a retryable error). When the
// handler returns an error, a refusal or a retryable failure, the claim is
// released so the client can try again with the same key: a handler whose
// write may have taken effect must report that as a result, not an error.
//
// While the handler runs, the claim is renewed if the store is a [Renewer],
// so a duplicate never runs because the first call was slow. Only a
// process that dies mid-call, or a store that loses the claim or fails to
// take the result, frees the key for another run: after the pending TTL
// ([WithPendingTTL]).
//
// Calls without a key pass through, unless [RequireKey] is set. A call's
// key is available to the handler with [KeyFrom]. If the store fails, the
// call is refused as unavailable rather than run unprotected.
//
// Place Idempotency after auth (it needs the principal), inside
// bulwark.Timeout and outside retry: just before retry is right. Inside the
// timeout matters: a handler abandoned at its deadline keeps running, and
// only a layer between the timeout and the handler sees it finish and can
// settle the key then; outside, the key would be released while the write
// may still happen.
func Idempotency(store Store, opts ...Option) bulwark.Middleware {
	o := buildOptions(opts)
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, rerr := o.keys.read(req, true)
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
	}
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
	token := newToken()
	giveUp := o.clock.Now().Add(o.wait)
	for {
		existing, claimed, err := store.Claim(ctx, key, token, fp, o.pendingTTL)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
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
			res, err := replay(existing.Result)
			if err != nil {
				return nil, bulwark.Internal(err)
			}
			call.SetField(IdempotencyField, "replayed")
			return res, nil
		}
		if !o.clock.Now().Before(giveUp) {
			return nil, bulwark.Unavailable("a call with this idempotency key is still in progress", o.poll, nil)
		}
		select {
		case <-o.clock.After(o.poll):
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
	call.SetField(IdempotencyField, "executed")
	if !storable(res, err) {
		_ = store.Release(bg, key, token)
		return res, err
	}
	data, merr := json.Marshal(res)
	if merr != nil {
		_ = store.Release(bg, key, token)
		return res, err
	}
	if cerr := store.Complete(bg, key, token, Entry{Fingerprint: fp, Done: true, Result: data}, o.ttl); cerr != nil {
		// The result stands; the claim lapses after its pending TTL, after
		// which a duplicate would run again. Note it for the audit record.
		call.SetField(IdempotencyField, "executed; result not stored")
	}
	return res, err
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

func storable(res *mcp.CallToolResult, err error) bool {
	if err != nil || res == nil {
		return false
	}
	if !res.IsError {
		return true
	}
	if bulwark.RefusalOf(res, nil) != nil {
		return false
	}
	if e := res.GetError(); e != nil {
		var be *bulwark.Error
		if errors.As(e, &be) || Transient(e) {
			return false
		}
	}
	return true
}

// replay decodes a stored result into a fresh value, so every caller owns
// what it receives.
func replay(data []byte) (*mcp.CallToolResult, error) {
	res := new(mcp.CallToolResult)
	if err := json.Unmarshal(data, res); err != nil {
		return nil, err
	}
	if res.Meta == nil {
		res.Meta = mcp.Meta{}
	}
	res.Meta[ReplayMetaKey] = true
	return res, nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

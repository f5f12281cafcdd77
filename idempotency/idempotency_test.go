package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/redisidem"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var destructive = &mcp.Tool{Name: "update_email", Annotations: &mcp.ToolAnnotations{DestructiveHint: new(true)}}

// layer returns the idempotency layer over store configured by c.
func layer(t testing.TB, store idempotency.Store, c idempotency.Config) bulwark.Middleware {
	t.Helper()
	mw, err := idempotency.New(store, c)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func newRedisStore(t *testing.T) *redisidem.Store {
	t.Helper()
	s, err := redisidem.New(testenv.NewRedis(t), redisidem.Config{Prefix: testenv.RedisPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustMemory(t testing.TB, clk bulwark.Clock) *idempotency.MemoryStore {
	s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// counter is a handler that counts its runs and answers with the run number.
type counter struct{ n atomic.Int32 }

func (c *counter) handle(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	n := c.n.Add(1)
	return bulwarktest.TextResult("run " + string(rune('0'+n))), nil
}

//lint:ignore ST1008 returns what the chain returned, in the handler's order, followed by the call record
func call(t testing.TB, h mcp.ToolHandler, principal string, args any) (*mcp.CallToolResult, error, *bulwark.Call) {
	t.Helper()
	return callMeta(t, h, principal, args, nil)
}

// callMeta is call with the request's _meta set to meta.
//
//lint:ignore ST1008 as call
func callMeta(t testing.TB, h mcp.ToolHandler, principal string, args any, meta mcp.Meta) (*mcp.CallToolResult, error, *bulwark.Call) {
	t.Helper()
	req := bulwarktest.Request("update_email", args)
	req.Params.Meta = meta
	ctx, c := bulwarktest.Context(context.Background(), req, destructive)
	if principal != "" {
		c.SetPrincipal(&bulwark.Principal{ID: principal})
	}
	res, err := h(ctx, req)
	return res, err, c
}

func replayed(res *mcp.CallToolResult) bool {
	return res != nil && res.Meta[idempotency.ReplayMetaKey] == true
}

func TestIdempotencyReplay(t *testing.T) {
	var c counter
	h := layer(t, mustMemory(t, nil), idempotency.Config{})(c.handle)
	args := map[string]any{"id": "c-1", "email": "a@example.com", "idempotency_key": "op-1"}
	res, err, rec := call(t, h, "alice", args)
	if err != nil || bulwarktest.ResultText(res) != "run 1" || replayed(res) || rec.Fields()[idempotency.RecordField] != "executed" {
		t.Fatalf("first: %v %v %v", bulwarktest.ResultText(res), err, rec.Fields())
	}
	// Same key, same arguments written differently: a replay.
	raw := `{ "idempotency_key":"op-1",  "email": "a@example.com", "id":"c-1" }`
	res2, err, rec := call(t, h, "alice", raw)
	if err != nil || bulwarktest.ResultText(res2) != "run 1" || !replayed(res2) || rec.Fields()[idempotency.RecordField] != "replayed" {
		t.Fatalf("replay: %v %v %v", bulwarktest.ResultText(res2), err, res2.Meta)
	}
	if c.n.Load() != 1 {
		t.Fatalf("handler ran %d times", c.n.Load())
	}
	// Each replay is the caller's own copy.
	res2.Content[0].(*mcp.TextContent).Text = "tampered"
	res2.Meta["x"] = 1
	res3, _, _ := call(t, h, "alice", args)
	if bulwarktest.ResultText(res3) != "run 1" || res3.Meta["x"] != nil {
		t.Fatal("a replayed result was shared between callers")
	}
	// Same key, different arguments: refused.
	args2 := map[string]any{"id": "c-1", "email": "b@example.com", "idempotency_key": "op-1"}
	_, err, _ = call(t, h, "alice", args2)
	if e := bulwark.ErrorOf(err); !errors.Is(err, bulwark.CodeInvalidArgument) || e.Field != "idempotency_key" || !strings.Contains(e.Message, "different arguments") {
		t.Fatalf("reused key: %v", err)
	}
	if c.n.Load() != 1 {
		t.Fatalf("handler ran %d times", c.n.Load())
	}
}

// Keys are scoped by principal and tool: one caller never receives
// another's result.
func TestIdempotencyScope(t *testing.T) {
	var c counter
	h := layer(t, mustMemory(t, nil), idempotency.Config{})(c.handle)
	args := map[string]any{"idempotency_key": "k"}
	a, _, _ := call(t, h, "alice", args)
	b, _, _ := call(t, h, "bob", args)
	anon, _, _ := call(t, h, "", args)
	if bulwarktest.ResultText(a) != "run 1" || bulwarktest.ResultText(b) != "run 2" || bulwarktest.ResultText(anon) != "run 3" || replayed(b) {
		t.Fatalf("%q %q %q", bulwarktest.ResultText(a), bulwarktest.ResultText(b), bulwarktest.ResultText(anon))
	}
	req := bulwarktest.Request("other_tool", args)
	ctx, rec := bulwarktest.Context(context.Background(), req, destructive)
	rec.SetPrincipal(&bulwark.Principal{ID: "alice"})
	if res, _ := h(ctx, req); bulwarktest.ResultText(res) != "run 4" {
		t.Fatalf("another tool with the same key: %q", bulwarktest.ResultText(res))
	}
}

func TestIdempotencyKeyFromMetaAndHandler(t *testing.T) {
	var seen string
	h := layer(t, mustMemory(t, nil), idempotency.Config{Keys: idempotency.KeySource{Argument: "-", Meta: "io.example/key"}})(
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			seen = idempotency.KeyFrom(ctx)
			return bulwarktest.TextResult("ok"), nil
		})
	_, err, _ := callMeta(t, h, "alice", map[string]any{"idempotency_key": "ignored"}, mcp.Meta{"io.example/key": "m-1"})
	if err != nil || seen != "m-1" {
		t.Fatalf("err %v, handler saw key %q", err, seen)
	}
	res, _, _ := callMeta(t, h, "alice", map[string]any{"idempotency_key": "ignored"}, mcp.Meta{"io.example/key": "m-1"})
	if !replayed(res) {
		t.Fatal("not replayed")
	}
}

func TestIdempotencyRefusals(t *testing.T) {
	h := layer(t, mustMemory(t, nil), idempotency.Config{RequireKey: true})((&counter{}).handle)
	for _, tc := range []struct {
		name  string
		args  any
		meta  mcp.Meta
		field string
	}{
		{"missing with RequireKey", map[string]any{"id": 1}, nil, "idempotency_key"},
		{"not a string", map[string]any{"idempotency_key": 12}, nil, "idempotency_key"},
		{"empty", map[string]any{"idempotency_key": ""}, nil, "idempotency_key"},
		{"too long", map[string]any{"idempotency_key": strings.Repeat("k", idempotency.MaxKeyLength+1)}, nil, "idempotency_key"},
		{"control character", map[string]any{"idempotency_key": "a\nb"}, nil, "idempotency_key"},
		{"meta not a string", nil, mcp.Meta{"idempotency_key": 5}, "_meta.idempotency_key"},
		{"argument and meta differ", map[string]any{"idempotency_key": "a"}, mcp.Meta{"idempotency_key": "b"}, "idempotency_key"},
		{"malformed JSON", json.RawMessage(`{"idempotency_key":`), nil, ""},
		{"trailing data", json.RawMessage(`{"idempotency_key":"a"} {}`), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err, _ := callMeta(t, h, "alice", tc.args, tc.meta)
			e := bulwark.ErrorOf(err)
			if !errors.Is(err, bulwark.CodeInvalidArgument) {
				t.Fatalf("err %v, want invalid argument", err)
			}
			if tc.field != "" && e.Field != tc.field {
				t.Fatalf("field %q, want %q", e.Field, tc.field)
			}
		})
	}
	// Without RequireKey, calls without a key pass through every time.
	var c counter
	h = layer(t, mustMemory(t, nil), idempotency.Config{})(c.handle)
	call(t, h, "alice", map[string]any{"id": 1})
	call(t, h, "alice", map[string]any{"id": 1})
	if c.n.Load() != 2 {
		t.Fatalf("keyless calls ran %d times", c.n.Load())
	}
}

// Failures release the key so the client can try again; tool answers are
// stored.
func TestIdempotencyWhatIsStored(t *testing.T) {
	answer := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "no such customer"}}, IsError: true}
	// What a typed handler's returned error becomes: an IsError result
	// that bulwark.OutcomeOf classifies as internal.
	failed := &mcp.CallToolResult{}
	failed.SetError(errors.New("lost"))
	deliberate := &mcp.CallToolResult{}
	deliberate.SetError(bulwark.ToolError("no such customer"))
	refusal, _ := bulwark.ToWire(nil, nil, bulwark.Unavailable("x", 0, nil), nil)
	for _, tc := range []struct {
		name   string
		res    *mcp.CallToolResult
		err    error
		stored bool
	}{
		{"success", bulwarktest.TextResult("ok"), nil, true},
		{"tool's error answer", answer, nil, true},
		{"error", nil, errors.New("db down"), false},
		{"refusal", nil, bulwark.RateLimited("slow", 0), false},
		{"deliberate tool error", deliberate, nil, true},
		{"handler's error in a result", failed, nil, false},
		{"refusal result", refusal, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			h := layer(t, mustMemory(t, nil), idempotency.Config{})(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				n++
				if n > 1 {
					return bulwarktest.TextResult("again"), nil
				}
				return tc.res, tc.err
			})
			args := map[string]any{"idempotency_key": "k"}
			call(t, h, "alice", args)
			res, _, _ := call(t, h, "alice", args)
			if got := replayed(res); got != tc.stored {
				t.Fatalf("replayed %v, want %v (handler ran %d times)", got, tc.stored, n)
			}
		})
	}
}

func TestIdempotencyPanicReleases(t *testing.T) {
	n := 0
	h := bulwark.Chain(bulwark.Recover(slog.New(slog.DiscardHandler)), layer(t, mustMemory(t, nil), idempotency.Config{}))(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n++
		if n == 1 {
			panic("bug")
		}
		return bulwarktest.TextResult("ok"), nil
	})
	args := map[string]any{"idempotency_key": "k"}
	if _, err, _ := call(t, h, "alice", args); !errors.Is(err, bulwark.CodeInternal) {
		t.Fatal(err)
	}
	if res, err, _ := call(t, h, "alice", args); err != nil || replayed(res) || n != 2 {
		t.Fatalf("after a panic: %v %v, %d runs", res, err, n)
	}
}

func TestIdempotencyTTL(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	var c counter
	h := layer(t, mustMemory(t, clk), idempotency.Config{TTL: time.Hour, Clock: clk})(c.handle)
	args := map[string]any{"idempotency_key": "k"}
	call(t, h, "alice", args)
	clk.Advance(time.Hour - 1)
	if res, _, _ := call(t, h, "alice", args); !replayed(res) {
		t.Fatal("expired early")
	}
	clk.Advance(1)
	if res, _, _ := call(t, h, "alice", args); replayed(res) || c.n.Load() != 2 {
		t.Fatal("did not expire at the TTL")
	}
}

type failingStore struct{}

func (failingStore) Claim(context.Context, string, string, string, time.Duration) (idempotency.Entry, bool, error) {
	return idempotency.Entry{}, false, errors.New("connection refused")
}
func (failingStore) Complete(context.Context, string, string, idempotency.Entry, time.Duration) error {
	return nil
}
func (failingStore) Release(context.Context, string, string) error { return nil }

func TestIdempotencyStoreDown(t *testing.T) {
	var c counter
	h := layer(t, failingStore{}, idempotency.Config{})(c.handle)
	_, err, _ := call(t, h, "alice", map[string]any{"idempotency_key": "k"})
	if !errors.Is(err, bulwark.CodeUnavailable) || c.n.Load() != 0 {
		t.Fatalf("err %v, runs %d: want unavailable without running", err, c.n.Load())
	}
	if strings.Contains(err.Error(), "connection refused") {
		t.Fatal("the store's error leaked into the client message")
	}
}

// completions signals every successful Complete.
type completions struct {
	idempotency.Store
	done chan struct{}
}

func (s completions) Complete(ctx context.Context, key, token string, e idempotency.Entry, ttl time.Duration) error {
	err := s.Store.Complete(ctx, key, token, e, ttl)
	if err == nil {
		s.done <- struct{}{}
	}
	return err
}

// exactlyOnce fires n identical calls at once: the handler runs once, and
// every caller receives its result.
func exactlyOnce(t *testing.T, store idempotency.Store, n int) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	cs := completions{Store: store, done: make(chan struct{}, 1)}
	started := make(chan struct{})
	release := make(chan struct{})
	var runs atomic.Int32
	h := layer(t, cs, idempotency.Config{Clock: clk, PollInterval: 10 * time.Millisecond})(
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if runs.Add(1) == 1 {
				close(started)
			}
			<-release
			return bulwarktest.TextResult("written"), nil
		})
	results := make([]*mcp.CallToolResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i], _ = call(t, h, "alice", map[string]any{"id": "c-1", "idempotency_key": "op-9"})
		}(i)
	}
	<-started
	clk.BlockUntil(n - 1) // every duplicate is waiting
	close(release)
	<-cs.done
	clk.Advance(10 * time.Millisecond)
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("handler ran %d times for %d duplicates", runs.Load(), n)
	}
	replays := 0
	for i := range results {
		if errs[i] != nil || bulwarktest.ResultText(results[i]) != "written" {
			t.Fatalf("caller %d: %v %v", i, results[i], errs[i])
		}
		if replayed(results[i]) {
			replays++
		}
		for j := 0; j < i; j++ {
			if results[i] == results[j] {
				t.Fatal("two callers share one result")
			}
		}
	}
	if replays != n-1 {
		t.Fatalf("%d replays, want %d", replays, n-1)
	}
}

func TestIdempotencyConcurrentDuplicatesMemory(t *testing.T) {
	for _, n := range []int{32, 64} {
		exactlyOnce(t, mustMemory(t, nil), n)
	}
}

func TestIdempotencyConcurrentDuplicatesRedis(t *testing.T) {
	exactlyOnce(t, newRedisStore(t), 64)
}

// A duplicate waits at most WithWait, then is refused with a hint: the
// time the claim has left.
func TestIdempotencyWaitLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wait  time.Duration
		polls int
	}{
		{"bounded wait", 100 * time.Millisecond, 2},
		{"no wait", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := bulwarktest.NewFakeClock(time.Time{})
			args := map[string]any{"idempotency_key": "k"}
			h, _, release := blockFirst(t, mustMemory(t, clk), args, idempotency.Config{Clock: clk, Wait: tc.wait, PollInterval: 50 * time.Millisecond})
			done := make(chan error, 1)
			go func() { _, err, _ := call(t, h, "alice", args); done <- err }()
			for i := 0; i < tc.polls; i++ {
				clk.BlockUntil(2) // the first call's claim renewal and the duplicate's poll
				clk.Advance(50 * time.Millisecond)
			}
			err := <-done
			left := 5*time.Minute - time.Duration(tc.polls)*50*time.Millisecond
			if e := bulwark.ErrorOf(err); !errors.Is(err, bulwark.CodeUnavailable) || e.RetryAfter != left {
				t.Fatalf("err %v", err)
			}
			release()
		})
	}
}

// A waiting duplicate gives up when its own context ends.
func TestIdempotencyWaitCancelled(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	args := map[string]any{"idempotency_key": "k"}
	h, _, release := blockFirst(t, mustMemory(t, clk), args, idempotency.Config{Clock: clk})
	req := bulwarktest.Request("update_email", args)
	ctx, cancel := context.WithCancel(context.Background())
	ctx, rec := bulwarktest.Context(ctx, req, destructive)
	rec.SetPrincipal(&bulwark.Principal{ID: "alice"})
	done := make(chan error, 1)
	go func() { _, err := h(ctx, req); done <- err }()
	clk.BlockUntil(2) // the first call's claim renewal and the duplicate's poll
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	release()
}

// FuzzIdempotencyKey feeds arbitrary arguments and _meta values: the layer
// either passes the call, replays, or refuses with invalid argument; it
// never panics. Arguments that differ only in formatting share a key's
// result.
func FuzzIdempotencyKey(f *testing.F) {
	f.Add([]byte(`{"idempotency_key":"k","id":1}`), "")
	f.Add([]byte(`{"idempotency_key":12}`), "m")
	f.Add([]byte(`[1,2,3]`), "m")
	f.Add([]byte(`"str"`), "")
	f.Add([]byte(`null`), "meta-key")
	f.Add([]byte(`{"a":{"b":[1.0,2e3,"x"]},"idempotency_key":"\u0000"}`), "")
	f.Add([]byte(`{`), "")
	f.Add([]byte(``), "k")
	f.Fuzz(func(t *testing.T, args []byte, meta string) {
		var c counter
		h := layer(t, mustMemory(t, nil), idempotency.Config{})(c.handle)
		var m mcp.Meta
		if meta != "" {
			m = mcp.Meta{idempotency.DefaultKeyName: meta}
		}
		res, err, _ := callMeta(t, h, "p", json.RawMessage(args), m)
		if err != nil {
			if !errors.Is(err, bulwark.CodeInvalidArgument) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if res == nil {
			t.Fatal("nil result without error")
		}
		var buf bytes.Buffer
		if json.Valid(args) && json.Indent(&buf, args, "", "   ") == nil {
			res2, err2, _ := callMeta(t, h, "p", json.RawMessage(buf.Bytes()), m)
			if err2 != nil {
				t.Fatalf("same arguments reformatted: %v", err2)
			}
			if replayed(res) {
				t.Fatal("first call replayed")
			}
			if c.n.Load() == 1 && !replayed(res2) && bulwarktest.ResultText(res2) != "run 2" {
				t.Fatalf("second call neither replayed nor ran: %v", res2)
			}
		}
	})
}

// waitForWaiters waits until n channels are pending on clk.
func waitForWaiters(t *testing.T, clk *bulwarktest.FakeClock, n int) {
	t.Helper()
	clk.BlockUntil(n)
}

// A handler that runs longer than the pending TTL keeps its claim: a
// duplicate arriving after the TTL has passed finds the key in progress
// instead of running the write a second time.
func TestIdempotencySlowHandlerKeepsClaim(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	args := map[string]any{"idempotency_key": "slow"}
	h, runs, release := blockFirst(t, mustMemory(t, clk), args, idempotency.Config{Clock: clk, PendingTTL: time.Minute, Wait: -1})
	for i := 0; i < 6; i++ { // two minutes, twice the pending TTL
		waitForWaiters(t, clk, 1) // the claim's renewal is waiting
		clk.Advance(20 * time.Second)
	}
	waitForWaiters(t, clk, 1) // the last renewal is done
	_, err, _ := call(t, h, "alice", args)
	if !errors.Is(err, bulwark.CodeUnavailable) || runs.Load() != 1 {
		t.Fatalf("duplicate after the pending TTL: err %v, %d runs; want in progress, 1 run", err, runs.Load())
	}
	release()
	if res, _, _ := call(t, h, "alice", args); !replayed(res) || bulwarktest.ResultText(res) != "written" || runs.Load() != 1 {
		t.Fatalf("after the slow call: replayed=%v, %d runs", replayed(res), runs.Load())
	}
}

// A principal is who authenticated and how: an API key and a token
// subject that happen to share a name do not share keys.
func TestIdempotencyScopeIncludesMethod(t *testing.T) {
	var c counter
	h := layer(t, mustMemory(t, nil), idempotency.Config{})(c.handle)
	args := map[string]any{"idempotency_key": "k"}
	for i, p := range []*bulwark.Principal{{ID: "svc", Method: "api_key"}, {ID: "svc", Method: "jwt"}} {
		req := bulwarktest.Request("update_email", args)
		ctx, rec := bulwarktest.Context(context.Background(), req, destructive)
		rec.SetPrincipal(p)
		res, err := h(ctx, req)
		if err != nil || replayed(res) || int(c.n.Load()) != i+1 {
			t.Fatalf("%s/%s: %v %v, replayed=%v", p.Method, p.ID, bulwarktest.ResultText(res), err, replayed(res))
		}
	}
}

// flakyComplete fails the first n Completes, as a store connection that
// drops once would.
type flakyComplete struct {
	idempotency.Store
	n atomic.Int32
}

func (s *flakyComplete) Complete(ctx context.Context, key, token string, e idempotency.Entry, ttl time.Duration) error {
	if s.n.Add(-1) >= 0 {
		return errors.New("connection reset")
	}
	return s.Store.Complete(ctx, key, token, e, ttl)
}

// A store error while saving the result is tried again: a key whose write
// ran must not stay pending, to be run again once its claim lapses.
func TestIdempotencyCompleteRetried(t *testing.T) {
	store := &flakyComplete{Store: mustMemory(t, nil)}
	store.n.Store(1)
	var c counter
	h := layer(t, store, idempotency.Config{Wait: -1})(c.handle)
	args := map[string]any{"idempotency_key": "k"}
	if _, _, rec := call(t, h, "alice", args); rec.Fields()[idempotency.RecordField] != "executed" {
		t.Fatalf("first call: %v", rec.Fields())
	}
	if res, err, _ := call(t, h, "alice", args); err != nil || !replayed(res) || c.n.Load() != 1 {
		t.Fatalf("duplicate: %v %v, %d runs; want a replay", res, err, c.n.Load())
	}
	// A store that keeps failing: the result stands, and the call record
	// says it was not stored.
	store.n.Store(100)
	args = map[string]any{"idempotency_key": "k2"}
	if res, err, rec := call(t, h, "alice", args); err != nil || bulwarktest.ResultText(res) != "run 2" || rec.Fields()[idempotency.RecordField] != "executed; result not stored" {
		t.Fatalf("store down: %v %v %v", res, err, rec.Fields())
	}
}

// blockFirst wraps a handler in the layer configured by c and starts a
// call with args (as alice) whose handler blocks: it returns once that
// handler runs. Later runs answer at once. release unblocks the first run
// and waits for its call to return.
func blockFirst(t *testing.T, store idempotency.Store, args any, c idempotency.Config) (h mcp.ToolHandler, runs *atomic.Int32, release func()) {
	t.Helper()
	started, unblock, first := make(chan struct{}), make(chan struct{}), make(chan struct{})
	runs = new(atomic.Int32)
	h = layer(t, store, c)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if runs.Add(1) == 1 {
			close(started)
			<-unblock
		}
		return bulwarktest.TextResult("written"), nil
	})
	go func() {
		defer close(first)
		call(t, h, "alice", args)
	}()
	<-started
	return h, runs, func() {
		close(unblock)
		<-first
	}
}

// One principal cannot take the whole store, nor push another principal's
// results out of it: its own oldest completed keys go first, and with all
// its keys in progress it is refused as rate limited while others go on.
func TestIdempotencyPerPrincipalBound(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 100, Clock: clk}) // 10 per principal
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	h := layer(t, store, idempotency.Config{Clock: clk})(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		runs.Add(1)
		return bulwarktest.TextResult("done"), nil
	})
	key := func(i int) map[string]any { return map[string]any{"idempotency_key": fmt.Sprintf("k-%d", i)} }
	for i := 0; i < 5; i++ {
		if _, err, _ := call(t, h, "bob", key(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Alice floods the store with completed keys: it keeps 10 of hers.
	for i := 0; i < 500; i++ {
		if _, err, _ := call(t, h, "alice", key(i)); err != nil {
			t.Fatalf("alice %d: %v", i, err)
		}
	}
	if n := store.Len(); n != 15 {
		t.Fatalf("store holds %d keys, want alice's 10 and bob's 5", n)
	}
	// Bob's results are all still there: replays, no second run.
	before := runs.Load()
	for i := 0; i < 5; i++ {
		if res, err, _ := call(t, h, "bob", key(i)); err != nil || !replayed(res) {
			t.Fatalf("bob's key %d after alice's flood: replayed=%v %v", i, replayed(res), err)
		}
	}
	// Alice's newest keys replay; her oldest ran out of room (documented).
	if res, _, _ := call(t, h, "alice", key(499)); !replayed(res) {
		t.Fatal("alice's newest key did not replay")
	}
	if runs.Load() != before {
		t.Fatalf("%d runs during replays", runs.Load()-before)
	}

	// With all ten of her keys in progress, alice's next key is refused as
	// rate limited; bob is not affected.
	// (Claims without a principal count against MaxEntries only.)
	store2, _ := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 100, Clock: clk})
	for i := 0; i < 10; i++ {
		if _, ok, err := store2.Claim(context.Background(), fmt.Sprintf("raw-%d", i), "t", "fp", time.Minute); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	h2 := layer(t, store2, idempotency.Config{Clock: clk})(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		started <- struct{}{}
		<-release
		return bulwarktest.TextResult("done"), nil
	})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); call(t, h2, "alice", key(i)) }()
	}
	for i := 0; i < 10; i++ {
		<-started
	}
	_, err, _ = call(t, h2, "alice", key(10))
	if e := bulwark.ErrorOf(err); !errors.Is(err, bulwark.CodeRateLimited) || e.RetryAfter <= 0 {
		t.Fatalf("alice's 11th key in progress: %v, want rate limited", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err, _ := call(t, h2, "bob", key(0)); err != nil {
			t.Errorf("bob while alice is at her bound: %v", err)
		}
	}()
	<-started
	close(release)
	wg.Wait()
	if _, _, err := store2.Claim(context.Background(), "raw-x", "t", "fp", time.Minute); err != nil {
		t.Fatalf("a claim without a principal: %v", err)
	}
}

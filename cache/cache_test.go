package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func readOnly(name string) *mcp.Tool {
	return &mcp.Tool{Name: name, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
}

func writeTool(name string) *mcp.Tool {
	return &mcp.Tool{Name: name}
}

// env is one cache under test with a fake clock and a counting handler.
type env struct {
	t     *testing.T
	clock *bulwarktest.FakeClock
	c     *cache.Cache
	rec   *bulwarktest.Recorder
	h     mcp.ToolHandler
	defs  map[string]*mcp.Tool
}

func newEnv(t *testing.T, s cache.Config) *env {
	t.Helper()
	e := &env{t: t, clock: bulwarktest.NewFakeClock(time.Time{}), rec: &bulwarktest.Recorder{}}
	s.Clock = e.clock
	store, err := cache.NewMemoryStore(cache.MemoryConfig{Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	if e.c, err = cache.New(store, s); err != nil {
		t.Fatal(err)
	}
	e.defs = map[string]*mcp.Tool{}
	for _, d := range []*mcp.Tool{readOnly("get_customer"), readOnly("search"), writeTool("update_customer"), writeTool("send_email")} {
		e.defs[d.Name] = d
	}
	// Each answer is distinct, so a test can tell a cached one from a new one.
	var n atomic.Int64
	e.rec.Func = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult(fmt.Sprintf("answer %d", n.Add(1))), nil
	}
	e.h = cache.Middleware(e.c)(e.rec.Handle)
	return e
}

// call runs one call as principal (nil: anonymous) and returns the
// result text, the error and the call record.
//
//lint:ignore ST1008 returns what the chain returned, in the handler's order, followed by the call record
func (e *env) call(tool string, args any, p *bulwark.Principal) (*mcp.CallToolResult, error, *bulwark.Call) {
	e.t.Helper()
	req := bulwarktest.Request(tool, args)
	ctx, c := bulwarktest.Context(context.Background(), req, e.defs[tool])
	c.SetPrincipal(p)
	res, err := e.h(ctx, req)
	return res, err, c
}

func (e *env) text(tool string, args any, p *bulwark.Principal) string {
	e.t.Helper()
	res, err, _ := e.call(tool, args, p)
	if err != nil {
		e.t.Fatalf("%s: %v", tool, err)
	}
	return bulwarktest.ResultText(res)
}

var (
	alice = &bulwark.Principal{ID: "alice", Method: "api_key", Scopes: []string{"read"}}
	bob   = &bulwark.Principal{ID: "bob", Method: "api_key", Scopes: []string{"read"}}
)

func TestHitMissAndStatus(t *testing.T) {
	e := newEnv(t, cache.Config{})
	res, err, c := e.call("get_customer", map[string]any{"id": "c-1"}, alice)
	if err != nil || bulwarktest.ResultText(res) != "answer 1" || c.Field("cache") != "miss" {
		t.Fatalf("first call = %q, %v, status %q", bulwarktest.ResultText(res), err, c.Field("cache"))
	}
	res, err, c = e.call("get_customer", map[string]any{"id": "c-1"}, alice)
	if err != nil || bulwarktest.ResultText(res) != "answer 1" || c.Field("cache") != "hit" {
		t.Fatalf("second call = %q, %v, status %q", bulwarktest.ResultText(res), err, c.Field("cache"))
	}
	if got := e.text("get_customer", map[string]any{"id": "c-2"}, alice); got != "answer 2" {
		t.Fatalf("other arguments = %q, want a new answer", got)
	}
	// Write tools (not read-only) bypass the cache.
	_, _, c = e.call("update_customer", map[string]any{"id": "c-1"}, alice)
	if c.Field("cache") != "bypass" {
		t.Fatalf("write tool status %q", c.Field("cache"))
	}
	if got := e.text("update_customer", map[string]any{"id": "c-1"}, alice); got != "answer 4" {
		t.Fatalf("write tool answered %q: it was cached", got)
	}
	st := e.c.Stats()
	if st.Hits != 1 || st.Misses != 2 || st.Bypassed != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestKeyIgnoresSpellingOfArguments(t *testing.T) {
	e := newEnv(t, cache.Config{})
	spellings := []string{
		`{"id":"c-1","limit":10,"filter":{"a":1,"b":[1,2]}}`,
		`{ "limit" : 10.0 , "filter" : { "b" : [1, 2.00], "a" : 1e0 }, "id" : "c\u002d1" }`,
		"{\n\t\"filter\":{\"a\":10E-1,\"b\":[1,2]},\"id\":\"c\\u002D1\",\"limit\":1e1}",
	}
	for i, s := range spellings {
		if got := e.text("search", json.RawMessage(s), alice); got != "answer 1" {
			t.Fatalf("spelling %d answered %q; want the cached answer 1", i, got)
		}
	}
	if got := e.text("search", json.RawMessage(`{"id":"c-1","limit":11,"filter":{"a":1,"b":[1,2]}}`), alice); got != "answer 2" {
		t.Fatalf("different value answered %q", got)
	}
	if got := e.text("search", json.RawMessage(`{"id":"c-1","limit":10,"filter":{"a":1,"b":[2,1]}}`), alice); got != "answer 3" {
		t.Fatalf("array order changed but answered %q", got)
	}
}

func TestPrincipalIsolation(t *testing.T) {
	tests := []struct {
		name   string
		a, b   *bulwark.Principal
		shared bool
	}{
		{"different IDs", alice, bob, false},
		{"same ID other method", alice, &bulwark.Principal{ID: "alice", Method: "jwt", Scopes: []string{"read"}}, false},
		{"same ID fewer scopes", &bulwark.Principal{ID: "alice", Method: "jwt", Scopes: []string{"read", "admin"}}, &bulwark.Principal{ID: "alice", Method: "jwt", Scopes: []string{"read"}}, false},
		{"same ID other roles", &bulwark.Principal{ID: "alice", Roles: []string{"support"}}, &bulwark.Principal{ID: "alice"}, false},
		{"anonymous and principal", nil, alice, false},
		{"scope order does not matter", &bulwark.Principal{ID: "alice", Scopes: []string{"a", "b"}}, &bulwark.Principal{ID: "alice", Scopes: []string{"b", "a"}}, true},
		{"same principal", alice, &bulwark.Principal{ID: "alice", Method: "api_key", Scopes: []string{"read"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, cache.Config{})
			first := e.text("get_customer", map[string]any{"id": "c-1"}, tt.a)
			second := e.text("get_customer", map[string]any{"id": "c-1"}, tt.b)
			if (first == second) != tt.shared {
				t.Fatalf("first %q, second %q; shared want %v", first, second, tt.shared)
			}
		})
	}
}

func TestPublicToolsShareAcrossPrincipals(t *testing.T) {
	e := newEnv(t, cache.Config{Public: bulwark.ToolNames("search")})
	a := e.text("search", map[string]any{"q": "x"}, alice)
	b := e.text("search", map[string]any{"q": "x"}, bob)
	if a != b {
		t.Fatalf("public tool: alice %q, bob %q; want shared", a, b)
	}
	// get_customer is not public: still isolated.
	if e.text("get_customer", nil, alice) == e.text("get_customer", nil, bob) {
		t.Fatal("non-public tool shared between principals")
	}
}

func TestToolSelection(t *testing.T) {
	tests := []struct {
		name   string
		cfg    cache.Config
		tool   string
		cached bool
	}{
		{"read-only by default", cache.Config{}, "get_customer", true},
		{"write not by default", cache.Config{}, "update_customer", false},
		{"unregistered not by default", cache.Config{}, "unknown", false},
		{"when adds to the default", cache.Config{When: func(ctx context.Context, req *mcp.CallToolRequest) bool {
			return bulwark.IsReadOnly(bulwark.ToolFrom(ctx)) || req.Params.Name == "unknown"
		}}, "unknown", true},
		{"when replaces default", cache.Config{When: bulwark.ToolNames("send_email")}, "send_email", true},
		{"when excludes read-only", cache.Config{When: bulwark.ToolNames("send_email")}, "get_customer", false},
		{"zero tool TTL", cache.Config{TTL: bulwark.ByTool(time.Minute, map[string]time.Duration{"get_customer": 0})}, "get_customer", false},
		{"other tool keeps the default TTL", cache.Config{TTL: bulwark.ByTool(time.Minute, map[string]time.Duration{"search": 0})}, "get_customer", true},
		{"negative TTL", cache.Config{TTL: func(context.Context, *mcp.CallToolRequest) time.Duration { return -1 }}, "get_customer", false},
		{"key func declines", cache.Config{Key: func(context.Context, *mcp.CallToolRequest) (string, bool) { return "", false }}, "get_customer", false},
		{"invalidating tool never cached", cache.Config{When: bulwark.ToolNames("update_customer"), Invalidates: map[string]cache.TagFunc{"update_customer": cache.ArgTag("customer", "id")}}, "update_customer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			e.text(tt.tool, map[string]any{"id": "c-1"}, alice)
			e.text(tt.tool, map[string]any{"id": "c-1"}, alice)
			if got := len(e.rec.Calls()) == 1; got != tt.cached {
				t.Fatalf("handler ran %d times; cached want %v", len(e.rec.Calls()), tt.cached)
			}
		})
	}
}

func TestMalformedArgumentsBypass(t *testing.T) {
	e := newEnv(t, cache.Config{})
	for _, raw := range []string{`{"id":`, `{"id":1,"id":2}`, `{"id":"\ud800"}`} {
		_, _, c := e.call("get_customer", json.RawMessage(raw), alice)
		if c.Field("cache") != "bypass" {
			t.Errorf("%s: status %q, want bypass", raw, c.Field("cache"))
		}
	}
}

func TestTTLWithFakeClock(t *testing.T) {
	e := newEnv(t, cache.Config{TTL: bulwark.ByTool(time.Minute, map[string]time.Duration{"search": 10 * time.Second})})
	args := map[string]any{"id": "c-1"}
	e.text("get_customer", args, alice)
	e.text("search", args, alice)
	e.clock.Advance(10*time.Second - time.Nanosecond)
	if e.text("search", args, alice) != "answer 2" {
		t.Fatal("search expired before its 10s TTL")
	}
	e.clock.Advance(time.Nanosecond)
	if got := e.text("search", args, alice); got != "answer 3" {
		t.Fatalf("search at its TTL answered %q; want fresh", got)
	}
	e.clock.Advance(50*time.Second - time.Nanosecond)
	if e.text("get_customer", args, alice) != "answer 1" {
		t.Fatal("get_customer expired before its 1m TTL")
	}
	e.clock.Advance(time.Nanosecond)
	if got := e.text("get_customer", args, alice); got != "answer 4" {
		t.Fatalf("get_customer at its TTL answered %q", got)
	}
}

func TestMaxTTLCaps(t *testing.T) {
	e := newEnv(t, cache.Config{MaxTTL: time.Minute, TTL: bulwark.Fixed(time.Hour)})
	e.text("get_customer", nil, alice)
	e.clock.Advance(time.Minute)
	if got := e.text("get_customer", nil, alice); got != "answer 2" {
		t.Fatalf("TTL beyond MaxTTL: answered %q", got)
	}
}

func TestErrorsAndIsErrorNotCached(t *testing.T) {
	tests := []struct {
		name string
		fn   mcp.ToolHandler
	}{
		{"IsError result", func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r := &mcp.CallToolResult{}
			r.SetError(errors.New("customer not found"))
			return r, nil
		}},
		{"Go error", func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, errors.New("db down")
		}},
		{"refusal", func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, bulwark.Unavailable("upstream down", time.Second, nil)
		}},
		{"nil result", func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, cache.Config{})
			e.rec.Func = tt.fn
			for i := 0; i < 3; i++ {
				_, _, c := e.call("get_customer", nil, alice)
				if c.Field("cache") != "miss" {
					t.Fatalf("call %d status %q", i, c.Field("cache"))
				}
			}
			if len(e.rec.Calls()) != 3 {
				t.Fatalf("handler ran %d times; want 3 (nothing cached)", len(e.rec.Calls()))
			}
		})
	}
}

func TestOversizedResultNotCached(t *testing.T) {
	e := newEnv(t, cache.Config{MaxItemBytes: 100})
	e.rec.Func = func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult(strings.Repeat("x", 200)), nil
	}
	e.call("get_customer", nil, alice)
	e.call("get_customer", nil, alice)
	if len(e.rec.Calls()) != 2 || e.c.Stats().Skipped != 2 {
		t.Fatalf("handler ran %d times, stats %+v", len(e.rec.Calls()), e.c.Stats())
	}
}

func TestCallersGetCopies(t *testing.T) {
	e := newEnv(t, cache.Config{})
	size := int64(7)
	e.rec.Func = func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{
			Meta: mcp.Meta{"source": map[string]any{"db": "primary", "shards": []any{1.0, 2.0}}},
			Content: []mcp.Content{
				&mcp.TextContent{Text: "hello", Meta: mcp.Meta{"k": "v"}, Annotations: &mcp.Annotations{Audience: []mcp.Role{"user"}}},
				&mcp.ImageContent{Data: []byte("png"), MIMEType: "image/png"},
				&mcp.ResourceLink{URI: "db://c/1", Name: "c1", Size: &size},
				&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "db://c/1", Blob: []byte("blob")}},
			},
			StructuredContent: map[string]any{"id": "c-1", "tags": []any{"a"}},
		}, nil
	}
	first, _, _ := e.call("get_customer", nil, alice) // the miss: the handler's own result
	want, _ := json.Marshal(first)
	vandalize := func(res *mcp.CallToolResult) {
		res.Meta["progressToken"] = 1
		res.Meta["source"].(map[string]any)["db"] = "changed"
		res.Meta["source"].(map[string]any)["shards"].([]any)[0] = 99.0
		tc := res.Content[0].(*mcp.TextContent)
		tc.Text = "changed"
		tc.Meta["k"] = "changed"
		tc.Annotations.Audience[0] = "assistant"
		res.Content[1].(*mcp.ImageContent).Data[0] = 'X'
		*res.Content[2].(*mcp.ResourceLink).Size = 99
		res.Content[3].(*mcp.EmbeddedResource).Resource.Blob[0] = 'X'
		res.Content[3].(*mcp.EmbeddedResource).Resource.URI = "changed"
		switch sc := res.StructuredContent.(type) {
		case json.RawMessage:
			sc[0] = ' '
		case map[string]any:
			sc["id"] = "changed"
			sc["tags"].([]any)[0] = "changed"
		}
		res.Content = append(res.Content[:0], &mcp.TextContent{Text: "replaced"})
	}
	// What the SDK does to the miss's result must not reach the entry.
	vandalize(first)

	for round := 0; round < 3; round++ {
		res, err, c := e.call("get_customer", nil, alice)
		if err != nil || c.Field("cache") != "hit" {
			t.Fatalf("round %d: %v, status %q", round, err, c.Field("cache"))
		}
		got, _ := json.Marshal(res)
		if string(got) != string(want) {
			t.Fatalf("round %d: hit is\n%s\nwant\n%s", round, got, want)
		}
		// Vandalize everything reachable, as the SDK and outer layers may.
		vandalize(res)
	}
	if len(e.rec.Calls()) != 1 {
		t.Fatalf("handler ran %d times", len(e.rec.Calls()))
	}
}

func TestSingleflight(t *testing.T) {
	e := newEnv(t, cache.Config{})
	release := make(chan struct{})
	started := make(chan struct{}, 100)
	var runs atomic.Int32
	e.rec.Func = func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		runs.Add(1)
		started <- struct{}{}
		<-release
		return bulwarktest.TextResult("shared"), nil
	}
	const n = 20
	var wg sync.WaitGroup
	results := make([]*mcp.CallToolResult, n)
	statuses := make([]string, n)
	joined := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			joined <- struct{}{}
			res, err, c := e.call("get_customer", map[string]any{"id": "c-1"}, alice)
			if err != nil {
				t.Error(err)
			}
			results[i], statuses[i] = res, c.Field("cache")
		}()
	}
	<-started
	for i := 0; i < n; i++ {
		<-joined
	}
	// Let the waiters reach the in-flight table; a late one finds the
	// stored result instead, which is just as good.
	waitFor(t, func() bool { return e.c.Stats().Misses == 1 })
	close(release)
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("handler ran %d times for %d identical concurrent misses", runs.Load(), n)
	}
	misses := 0
	for i, r := range results {
		if bulwarktest.ResultText(r) != "shared" {
			t.Fatalf("caller %d got %q", i, bulwarktest.ResultText(r))
		}
		for j := 0; j < i; j++ {
			if r == results[j] || r.Content[0] == results[j].Content[0] {
				t.Fatalf("callers %d and %d share a result value", i, j)
			}
		}
		if statuses[i] == "miss" {
			misses++
		}
	}
	if misses != 1 {
		t.Fatalf("statuses %v: want exactly one miss", statuses)
	}
}

// waitFor polls cond: used only for goroutines reaching a blocking point,
// never to let time pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	// The bound is far beyond any scheduling delay of a busy machine.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatal("condition not reached")
}

func TestSingleflightWaiterCanLeave(t *testing.T) {
	e := newEnv(t, cache.Config{})
	release := make(chan struct{})
	started := make(chan struct{})
	e.rec.Func = func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		close(started)
		<-release
		return bulwarktest.TextResult("late"), nil
	}
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		e.call("get_customer", nil, alice)
	}()
	<-started

	req := bulwarktest.Request("get_customer", nil)
	ctx, cancel := context.WithCancel(context.Background())
	ctx, c := bulwarktest.Context(ctx, req, e.defs["get_customer"])
	c.SetPrincipal(alice)
	errc := make(chan error, 1)
	go func() {
		_, err := e.h(ctx, req)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, bulwark.CodeCanceled) {
		t.Fatalf("waiter that left got %v; want a cancellation refusal", err)
	}
	close(release)
	<-leaderDone
}

func TestSingleflightLeaderCanceledWaitersRetry(t *testing.T) {
	e := newEnv(t, cache.Config{})
	var runs atomic.Int32
	leaderIn := make(chan struct{})
	e.rec.Func = func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if runs.Add(1) == 1 {
			close(leaderIn)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return bulwarktest.TextResult("second run"), nil
	}
	req := bulwarktest.Request("get_customer", nil)
	lctx, cancel := context.WithCancel(context.Background())
	lctx, lc := bulwarktest.Context(lctx, req, e.defs["get_customer"])
	lc.SetPrincipal(alice)
	lerr := make(chan error, 1)
	go func() {
		_, err := e.h(lctx, req)
		lerr <- err
	}()
	<-leaderIn
	werr := make(chan string, 1)
	go func() {
		res, err, _ := e.call("get_customer", nil, alice)
		if err != nil {
			werr <- err.Error()
			return
		}
		werr <- bulwarktest.ResultText(res)
	}()
	waitFor(t, func() bool { return runs.Load() == 1 && e.c.Stats().Misses == 1 })
	time.Sleep(time.Millisecond) // let the waiter join the flight (either order passes)
	cancel()
	if err := <-lerr; err == nil {
		t.Fatal("canceled leader succeeded")
	}
	if got := <-werr; got != "second run" {
		t.Fatalf("waiter got %q; want its own run after the leader gave up", got)
	}
}

func TestInvalidationByWrites(t *testing.T) {
	e := newEnv(t, cache.Config{Tags: map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id"), "search": func(context.Context, *mcp.CallToolRequest) []string { return []string{"customers"} }}, Invalidates: map[string]cache.TagFunc{"update_customer": func(ctx context.Context, req *mcp.CallToolRequest) []string {
		return append(cache.ArgTag("customer", "id")(ctx, req), "customers")
	}}})
	c1 := map[string]any{"id": "c-1"}
	c2 := map[string]any{"id": "c-2"}
	a1 := e.text("get_customer", c1, alice)
	b1 := e.text("get_customer", c1, bob)
	a2 := e.text("get_customer", c2, alice)
	s := e.text("search", nil, alice)

	var seenByHandler atomic.Bool
	write := e.rec.Func
	e.rec.Func = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if req.Params.Name == "update_customer" {
			seenByHandler.Store(true)
		}
		return write(ctx, req)
	}
	_, _, wc := e.call("update_customer", c1, alice)
	if !seenByHandler.Load() || wc.Field("cache") != "bypass" {
		t.Fatalf("write: handler ran %v, status %q", seenByHandler.Load(), wc.Field("cache"))
	}
	// By the time the write returned, its tags were invalidated for every
	// principal; other records were not.
	if got := e.text("get_customer", c1, alice); got == a1 {
		t.Fatal("alice still sees the pre-write entry")
	}
	if got := e.text("get_customer", c1, bob); got == b1 {
		t.Fatal("bob still sees the pre-write entry")
	}
	if got := e.text("get_customer", c2, alice); got != a2 {
		t.Fatalf("customer c-2 was invalidated too: %q vs %q", got, a2)
	}
	if got := e.text("search", nil, alice); got == s {
		t.Fatal("search tagged customers was not invalidated")
	}
	if e.c.Stats().Invalidated != 3 { // customer:c-1, customer? (reads naming no record), customers
		t.Fatalf("stats %+v", e.c.Stats())
	}
	// Manual invalidation.
	a1 = e.text("get_customer", c1, alice)
	if err := e.c.Invalidate(context.Background(), "customer:c-1"); err != nil {
		t.Fatal(err)
	}
	if e.text("get_customer", c1, alice) == a1 {
		t.Fatal("Invalidate did not invalidate")
	}
}

func TestInvalidationFailureIsRecorded(t *testing.T) {
	clock := bulwarktest.NewFakeClock(time.Time{})
	c, err := cache.New(failingStore{}, cache.Config{Clock: clock,
		Invalidates: map[string]cache.TagFunc{"update_customer": cache.ArgTag("customer", "id")}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &bulwarktest.Recorder{}
	h := cache.Middleware(c)(rec.Handle)
	req := bulwarktest.Request("update_customer", map[string]any{"id": "c-1"})
	ctx, call := bulwarktest.Context(context.Background(), req, writeTool("update_customer"))
	res, err := h(ctx, req)
	if err != nil || bulwarktest.ResultText(res) != "ok" {
		t.Fatalf("write result lost: %v, %v", res, err)
	}
	if call.Fields()["cache_invalidation"] != "failed" || c.Stats().Errors != 1 {
		t.Fatalf("fields %v, stats %+v", call.Fields(), c.Stats())
	}
}

// failingStore fails every operation, like an unreachable Redis.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) Get(context.Context, string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, errStoreDown
}
func (failingStore) Set(context.Context, string, cache.Entry, time.Duration) error {
	return errStoreDown
}
func (failingStore) Generations(context.Context, []string) ([]uint64, error) {
	return nil, errStoreDown
}
func (failingStore) Bump(context.Context, []string, time.Duration) error { return errStoreDown }

func TestStoreFailureFailsOpen(t *testing.T) {
	for _, tags := range []bool{false, true} {
		t.Run(fmt.Sprintf("tags=%v", tags), func(t *testing.T) {
			var cfg cache.Config
			if tags {
				cfg.Tags = map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")}
			}
			c, _ := cache.New(failingStore{}, cfg)
			rec := &bulwarktest.Recorder{}
			h := cache.Middleware(c)(rec.Handle)
			for i := 0; i < 2; i++ {
				req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
				ctx, call := bulwarktest.Context(context.Background(), req, readOnly("get_customer"))
				res, err := h(ctx, req)
				if err != nil || bulwarktest.ResultText(res) != "ok" || call.Field("cache") != "miss" {
					t.Fatalf("call %d: %v %v %q", i, res, err, call.Field("cache"))
				}
			}
			if len(rec.Calls()) != 2 || c.Stats().Errors == 0 || c.Stats().Misses != 2 {
				t.Fatalf("handler ran %d, stats %+v", len(rec.Calls()), c.Stats())
			}
		})
	}
}

func TestStaleOnFailure(t *testing.T) {
	e := newEnv(t, cache.Config{StaleFor: time.Minute, TTL: bulwark.Fixed(10 * time.Second)})
	e.text("get_customer", nil, alice) // answer 1, stored at t0
	var fail atomic.Value
	ok := e.rec.Func
	e.rec.Func = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if f := fail.Load(); f != nil {
			return f.(func() (*mcp.CallToolResult, error))()
		}
		return ok(ctx, req)
	}
	unavailable := func() (*mcp.CallToolResult, error) {
		return nil, bulwark.Unavailable("breaker open", 5*time.Second, nil)
	}
	fail.Store(unavailable)

	e.clock.Advance(30 * time.Second) // expired 20s ago, within the stale window
	res, err, c := e.call("get_customer", nil, alice)
	if err != nil || bulwarktest.ResultText(res) != "answer 1" || c.Field("cache") != "stale" {
		t.Fatalf("stale serve: %q, %v, %q", bulwarktest.ResultText(res), err, c.Field("cache"))
	}
	mark, _ := res.Meta[cache.MetaKey].(map[string]any)
	if mark["status"] != "stale" || mark["ageSeconds"] != int64(30) {
		t.Fatalf("stale mark %v", res.Meta)
	}

	tests := []struct {
		name  string
		fn    func() (*mcp.CallToolResult, error)
		stale bool
	}{
		{"internal", func() (*mcp.CallToolResult, error) { return nil, errors.New("connection reset") }, true},
		{"deadline", func() (*mcp.CallToolResult, error) {
			return nil, &bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: context.DeadlineExceeded}
		}, true},
		{"refusal in IsError result", func() (*mcp.CallToolResult, error) {
			r := &mcp.CallToolResult{}
			r.SetError(bulwark.Unavailable("", 0, nil))
			return r, nil
		}, true},
		{"tool error result", func() (*mcp.CallToolResult, error) {
			r := &mcp.CallToolResult{}
			r.SetError(errors.New("customer not found"))
			return r, nil
		}, false},
		{"invalid argument", func() (*mcp.CallToolResult, error) { return nil, bulwark.InvalidArgument("id", "bad") }, false},
		{"canceled", func() (*mcp.CallToolResult, error) { return nil, &bulwark.Error{Code: bulwark.CodeCanceled} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail.Store(tt.fn)
			_, _, c := e.call("get_customer", nil, alice)
			if got := c.Field("cache") == "stale"; got != tt.stale {
				t.Fatalf("status %q; stale want %v", c.Field("cache"), tt.stale)
			}
		})
	}

	// Beyond TTL + StaleFor the entry is gone: the failure reaches the caller.
	fail.Store(unavailable)
	e.clock.Advance(40 * time.Second) // 70s after storing: past 10s + 60s
	if _, err, c := e.call("get_customer", nil, alice); !errors.Is(err, bulwark.CodeUnavailable) || c.Field("cache") != "miss" {
		t.Fatalf("past the stale bound: %v, %q", err, c.Field("cache"))
	}
	if st := e.c.Stats(); st.StaleServed != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStaleOffByDefault(t *testing.T) {
	e := newEnv(t, cache.Config{TTL: bulwark.Fixed(10 * time.Second)})
	e.text("get_customer", nil, alice)
	e.rec.Func = func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return nil, bulwark.Unavailable("down", 0, nil)
	}
	e.clock.Advance(11 * time.Second)
	if _, err, _ := e.call("get_customer", nil, alice); !errors.Is(err, bulwark.CodeUnavailable) {
		t.Fatalf("stale served without StaleFor: %v", err)
	}
}

func TestIgnoreArgsAndKeyFunc(t *testing.T) {
	e := newEnv(t, cache.Config{IgnoreArgs: []string{"trace_id", "nonce"}})
	a := e.text("get_customer", map[string]any{"id": "c-1", "trace_id": "t-1", "nonce": 1}, alice)
	b := e.text("get_customer", map[string]any{"id": "c-1", "trace_id": "t-2", "nonce": 2}, alice)
	if a != b {
		t.Fatal("ignored arguments split the cache")
	}
	// Only top-level fields are ignored.
	if e.text("get_customer", map[string]any{"id": "c-1", "x": map[string]any{"nonce": 1}}, alice) ==
		e.text("get_customer", map[string]any{"id": "c-1", "x": map[string]any{"nonce": 2}}, alice) {
		t.Fatal("nested field ignored")
	}

	k := newEnv(t, cache.Config{Key: func(_ context.Context, req *mcp.CallToolRequest) (string, bool) {
		return "everyone", true
	}})
	if k.text("get_customer", map[string]any{"id": 1}, alice) != k.text("get_customer", map[string]any{"id": 2}, bob) {
		t.Fatal("KeyFunc material not used")
	}
}

func TestNilCacheAndInvalidSettings(t *testing.T) {
	rec := &bulwarktest.Recorder{}
	h := cache.Middleware(nil)(rec.Handle)
	for i := 0; i < 2; i++ {
		req := bulwarktest.Request("get_customer", nil)
		ctx, _ := bulwarktest.Context(context.Background(), req, readOnly("get_customer"))
		h(ctx, req)
	}
	if len(rec.Calls()) != 1 {
		t.Fatalf("default cache: handler ran %d times", len(rec.Calls()))
	}
	if _, err := cache.New(nil, cache.Config{StaleFor: -1}); err == nil {
		t.Fatal("negative StaleFor accepted")
	}
	if _, err := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: -1}); err == nil {
		t.Fatal("negative MaxEntries accepted")
	}
	// A request without params and a call without a record do not panic.
	if _, err := h(context.Background(), &mcp.CallToolRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestStress(t *testing.T) {
	e := newEnv(t, cache.Config{StaleFor: time.Minute, Tags: map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")}, Invalidates: map[string]cache.TagFunc{"update_customer": cache.ArgTag("customer", "id")}})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				id := map[string]any{"id": fmt.Sprintf("c-%d", i%7)}
				p := alice
				if i%2 == 0 {
					p = bob
				}
				switch i % 13 {
				case 0:
					e.call("update_customer", id, p)
				case 5:
					e.clock.Advance(time.Second)
				default:
					res, err, _ := e.call("get_customer", id, p)
					if err != nil {
						t.Error(err)
						return
					}
					res.Meta = mcp.Meta{"mutated": true}
					res.Content[0].(*mcp.TextContent).Text = "mutated"
				}
			}
		}()
	}
	wg.Wait()
	st := e.c.Stats()
	if st.Hits == 0 || st.Misses == 0 || st.Invalidated == 0 {
		t.Fatalf("stress stats %+v", st)
	}
	// Nothing a caller did leaked into the cache.
	if got := e.text("get_customer", map[string]any{"id": "c-1"}, alice); got == "mutated" {
		t.Fatal("mutation reached the cache")
	}
}

func TestStressSingleflightWithCancellations(t *testing.T) {
	e := newEnv(t, cache.Config{TTL: bulwark.Fixed(time.Second)})
	var runs atomic.Int64
	e.rec.Func = func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		runs.Add(1)
		for i := 0; i < 50; i++ {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			runtime.Gosched()
		}
		return bulwarktest.TextResult("value"), nil
	}
	const rounds, callers = 30, 12
	for r := 0; r < rounds; r++ {
		e.clock.Advance(time.Second) // the entry expires: a new miss each round
		var wg sync.WaitGroup
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ctx, c := bulwarktest.Context(ctx, req, e.defs["get_customer"])
				c.SetPrincipal(alice)
				if i%3 == 0 {
					go cancel()
				}
				res, err := e.h(ctx, req)
				switch {
				case err != nil:
					if !errors.Is(err, bulwark.CodeCanceled) && !errors.Is(err, context.Canceled) {
						t.Errorf("unexpected error %v", err)
					}
				case bulwarktest.ResultText(res) != "value":
					t.Errorf("got %q", bulwarktest.ResultText(res))
				}
			}()
		}
		wg.Wait()
	}
	if n := runs.Load(); n > rounds*callers/2 {
		t.Fatalf("handler ran %d times for %d rounds of %d identical calls", n, rounds, callers)
	}
}

func TestInvalidationWhenWritePanics(t *testing.T) {
	e := newEnv(t, cache.Config{Tags: map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")}, Invalidates: map[string]cache.TagFunc{"update_customer": cache.ArgTag("customer", "id")}})
	before := e.text("get_customer", map[string]any{"id": "c-1"}, alice)
	read := e.rec.Func
	e.rec.Func = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if req.Params.Name == "update_customer" {
			panic("half-written")
		}
		return read(ctx, req)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed: Recover's job, not the cache's")
			}
		}()
		e.call("update_customer", map[string]any{"id": "c-1"}, alice)
	}()
	if e.text("get_customer", map[string]any{"id": "c-1"}, alice) == before {
		t.Fatal("entry survived a write that panicked")
	}
}

func TestSingleflightSharesFailuresWithoutCaching(t *testing.T) {
	e := newEnv(t, cache.Config{})
	release := make(chan struct{})
	var runs atomic.Int32
	e.rec.Func = func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if runs.Add(1) == 1 {
			<-release
		}
		r := &mcp.CallToolResult{}
		r.SetError(errors.New("customer not found"))
		return r, nil
	}
	const n = 8
	var wg sync.WaitGroup
	results := make([]*mcp.CallToolResult, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _, _ = e.call("get_customer", map[string]any{"id": "nope"}, alice)
		}()
	}
	waitFor(t, func() bool { return runs.Load() == 1 })
	close(release)
	wg.Wait()
	for i, r := range results {
		if r == nil || !r.IsError || bulwarktest.ResultText(r) != "customer not found" {
			t.Fatalf("caller %d got %+v", i, r)
		}
		if i > 0 && r == results[0] {
			t.Fatal("callers share one result value")
		}
	}
	before := runs.Load()
	e.call("get_customer", map[string]any{"id": "nope"}, alice)
	if runs.Load() != before+1 {
		t.Fatal("an IsError result was cached")
	}
}

// TestReportStatus: with ReportStatus every answer of a cached tool says
// in _meta how the cache answered, uncached tools get nothing, and the
// mark never reaches the stored entry or the handler's own result.
func TestReportStatus(t *testing.T) {
	e := newEnv(t, cache.Config{ReportStatus: true, StaleFor: time.Minute, TTL: bulwark.Fixed(10 * time.Second)})
	handed := map[*mcp.CallToolResult]bool{}
	e.rec.Func = func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if len(e.rec.Calls()) > 2 {
			return nil, bulwark.Unavailable("down", 0, nil)
		}
		res := bulwarktest.TextResult("answer")
		res.Meta = mcp.Meta{"app/trace": "t-1"}
		handed[res] = true
		return res, nil
	}
	status := func(res *mcp.CallToolResult) any {
		m, _ := res.Meta[cache.MetaKey].(map[string]any)
		return m["status"]
	}
	steps := []struct {
		tool    string
		advance time.Duration
		want    any
	}{
		{"get_customer", 0, "miss"},
		{"get_customer", 0, "hit"},
		{"get_customer", 0, "hit"},
		{"update_customer", 0, nil}, // not cached: no mark
		{"get_customer", 20 * time.Second, "stale"},
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		res, err, _ := e.call(st.tool, map[string]any{"id": "c-1"}, alice)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := status(res); got != st.want {
			t.Fatalf("step %d (%s): status %v, want %v (meta %v)", i, st.tool, got, st.want, res.Meta)
		}
		if res.Meta["app/trace"] != "t-1" {
			t.Fatalf("step %d: the handler's _meta was lost: %v", i, res.Meta)
		}
		if st.want != nil && handed[res] {
			t.Fatalf("step %d: the handler's own result was marked instead of a copy", i)
		}
	}
	for res := range handed {
		if _, ok := res.Meta[cache.MetaKey]; ok {
			t.Fatalf("a handler's result was written into: %v", res.Meta)
		}
	}
}

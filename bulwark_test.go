package bulwark_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type echoIn struct {
	Text string `json:"text"`
}

type echoOut struct {
	Echo string `json:"echo"`
}

var objectSchema = map[string]any{"type": "object"}

// newServer returns a server with a typed tool "echo" (read-only) and a
// raw tool "raw" whose behaviour the test sets through rec.
func newServer(t *testing.T, rec *bulwarktest.Recorder) *mcp.Server {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "echo", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
			return nil, echoOut{Echo: in.Text}, nil
		})
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "raw", InputSchema: objectSchema}, rec.Handle)
	return s
}

// refuse returns a middleware that refuses every call with err.
func refuse(err error) bulwark.Middleware {
	return func(mcp.ToolHandler) mcp.ToolHandler {
		return func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, err }
	}
}

func TestUseCoversTypedAndRawTools(t *testing.T) {
	rec := &bulwarktest.Recorder{}
	s := newServer(t, rec)
	var seen []string
	var mu sync.Mutex
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			seen = append(seen, req.Params.Name)
			mu.Unlock()
			return next(ctx, req)
		}
	})
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	res, err := bulwarktest.CallTool(ctx, cs, "echo", map[string]any{"text": "hi"})
	if err != nil || res.IsError {
		t.Fatalf("echo: %v %+v", err, res)
	}
	if got := bulwarktest.ResultText(res); got != `{"echo":"hi"}` {
		t.Errorf("echo text = %q", got)
	}
	if _, err := bulwarktest.CallTool(ctx, cs, "raw", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	// The lists pass through the chain; ping does not.
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := cs.Ping(ctx, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != "echo,raw,tools/list" {
		t.Errorf("chain saw %v, want [echo raw tools/list]", seen)
	}
	if len(rec.Calls()) != 1 {
		t.Errorf("raw handler calls = %d", len(rec.Calls()))
	}
}

func TestRecordFilledByInnerSeenByOuter(t *testing.T) {
	rec := &bulwarktest.Recorder{}
	s := newServer(t, rec)
	got := make(chan *bulwark.Call, 1)
	outer := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			got <- bulwark.CallFrom(ctx)
			return res, err
		}
	}
	inner := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			c.SetPrincipal(&bulwark.Principal{ID: "alice", Method: "api_key"})
			c.AddAttempt()
			c.AddAttempt()
			c.SetField("cache", "miss")
			c.SetField("breaker", "closed")
			return next(ctx, req)
		}
	}
	bulwark.Use(s, outer, inner)
	cs := bulwarktest.Connect(t, s, nil)
	if _, err := bulwarktest.CallTool(context.Background(), cs, "echo", map[string]any{"text": "x"}); err != nil {
		t.Fatal(err)
	}
	c := <-got
	if c.PrincipalID() != "alice" || c.Attempts() != 2 || c.Field("cache") != "miss" || c.Field("breaker") != "closed" {
		t.Errorf("record = principal %q attempts %d cache %q breaker %q", c.PrincipalID(), c.Attempts(), c.Field("cache"), c.Field("breaker"))
	}
	if c.Tool != "echo" || c.ID == "" || c.Start.IsZero() || c.Transport != "stdio" {
		t.Errorf("record identity = %+v", c)
	}
	if !bulwark.IsReadOnly(c.Def) {
		t.Errorf("registry did not supply echo's annotations: %+v", c.Def)
	}
}

// TestWireMapping checks what a real client receives for each refusal.
func TestWireMapping(t *testing.T) {
	secret := "db password hunter2"
	cases := []struct {
		err       error
		isResult  bool
		rpcCode   int64
		code      bulwark.Code
		text      string
		retryAfer int
		field     string
	}{
		{bulwark.InvalidArgument("email", "must contain exactly one @"), true, 0, bulwark.CodeInvalidArgument, `argument "email": must contain exactly one @`, 0, "email"},
		{bulwark.PermissionDenied("missing scope customers:write"), true, 0, bulwark.CodePermissionDenied, "missing scope customers:write", 0, ""},
		{bulwark.RateLimited("rate limit exceeded", 1500*time.Millisecond), true, 0, bulwark.CodeRateLimited, "rate limit exceeded; retry after 2s", 2, ""},
		{bulwark.Unavailable("database unavailable", 30*time.Second, errors.New(secret)), true, 0, bulwark.CodeUnavailable, "database unavailable; retry after 30s", 30, ""},
		{&bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: errors.New(secret)}, true, 0, bulwark.CodeDeadlineExceeded, "deadline exceeded", 0, ""},
		{bulwark.Unauthenticated("invalid API key", errors.New(secret)), false, bulwark.CodeUnauthenticated.RPCCode(), bulwark.CodeUnauthenticated, "invalid API key", 0, ""},
		{&bulwark.Error{Code: bulwark.CodeCanceled, Cause: errors.New(secret)}, false, bulwark.CodeCanceled.RPCCode(), bulwark.CodeCanceled, "request cancelled", 0, ""},
		{bulwark.Internal(errors.New(secret)), false, bulwark.CodeInternal.RPCCode(), bulwark.CodeInternal, "internal error (id ", 0, ""},
		{errors.New(secret), false, bulwark.CodeInternal.RPCCode(), bulwark.CodeInternal, "internal error (id ", 0, ""},
		{fmt.Errorf("wrapped: %w", bulwark.RateLimited("slow down", time.Second)), true, 0, bulwark.CodeRateLimited, "slow down; retry after 1s", 1, ""},
	}
	var logs bytes.Buffer
	defer swapDefaultLogger(&logs)()
	for _, tc := range cases {
		t.Run(string(tc.code), func(t *testing.T) {
			s := newServer(t, &bulwarktest.Recorder{})
			bulwark.Use(s, refuse(tc.err))
			cs := bulwarktest.Connect(t, s, nil)
			res, err := bulwarktest.CallTool(context.Background(), cs, "echo", map[string]any{"text": "x"})
			if tc.isResult {
				if err != nil || res == nil || !res.IsError {
					t.Fatalf("want IsError result, got %+v, %v", res, err)
				}
				if got := bulwarktest.ResultText(res); got != tc.text {
					t.Errorf("text = %q, want %q", got, tc.text)
				}
			} else {
				var wire *jsonrpc.Error
				if !errors.As(err, &wire) {
					t.Fatalf("want JSON-RPC error, got %+v, %v", res, err)
				}
				if wire.Code != tc.rpcCode || wire.Code == 0 {
					t.Errorf("code = %d, want %d", wire.Code, tc.rpcCode)
				}
				if !strings.HasPrefix(wire.Message, tc.text) {
					t.Errorf("message = %q, want prefix %q", wire.Message, tc.text)
				}
			}
			r := bulwark.RefusalOf(res, err)
			if r == nil || r.Code != tc.code || r.RetryAfterSeconds != tc.retryAfer || r.Field != tc.field || r.CorrelationID == "" {
				t.Errorf("refusal = %+v", r)
			}
			if strings.Contains(fmt.Sprint(err), secret) || strings.Contains(bulwarktest.ResultText(res), secret) {
				t.Errorf("cause leaked to the client: %v / %s", err, bulwarktest.ResultText(res))
			}
			if tc.code == bulwark.CodeInternal {
				if !strings.Contains(err.Error(), r.CorrelationID) {
					t.Errorf("internal error %q lacks correlation id %q", err, r.CorrelationID)
				}
				if !strings.Contains(logs.String(), r.CorrelationID) || !strings.Contains(logs.String(), secret) {
					t.Errorf("log lacks the detail for %s: %s", r.CorrelationID, logs.String())
				}
			}
		})
	}
}

// A typed handler that returns a *bulwark.Error gets the same mapping as a
// layer that refuses, although the SDK turns its error into a result.
func TestTypedHandlerRefusal(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "busy"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
		return nil, echoOut{}, bulwark.Unavailable("loyalty service down", 5*time.Second, errors.New("dial tcp 10.0.0.9:443"))
	})
	bulwark.Use(s)
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "busy", map[string]any{"text": "x"})
	if err != nil {
		t.Fatal(err)
	}
	r := bulwark.RefusalOf(res, err)
	if r == nil || r.Code != bulwark.CodeUnavailable || r.RetryAfterSeconds != 5 {
		t.Fatalf("refusal = %+v", r)
	}
	if strings.Contains(bulwarktest.ResultText(res), "10.0.0.9") {
		t.Errorf("cause leaked: %s", bulwarktest.ResultText(res))
	}
}

func TestOnlySelects(t *testing.T) {
	s := newServer(t, &bulwarktest.Recorder{})
	bulwark.Use(s,
		bulwark.Only(func(ctx context.Context, _ *mcp.CallToolRequest) bool {
			return bulwark.IsReadOnly(bulwark.ToolFrom(ctx))
		}, refuse(bulwark.PermissionDenied("read-only tools are closed"))),
	)
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	res, err := bulwarktest.CallTool(ctx, cs, "echo", map[string]any{"text": "x"})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodePermissionDenied {
		t.Errorf("read-only tool not refused: %+v %v", res, err)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "raw", map[string]any{})
	if err != nil || res.IsError {
		t.Errorf("raw tool refused: %+v %v", res, err)
	}
}

func TestMatchers(t *testing.T) {
	ro := &mcp.Tool{Name: "ro", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	f := false
	safeWrite := &mcp.Tool{Name: "w", Annotations: &mcp.ToolAnnotations{DestructiveHint: &f, IdempotentHint: true}}
	bare := &mcp.Tool{Name: "bare"}
	for _, tc := range []struct {
		tool                          *mcp.Tool
		readOnly, idempotent, destroy bool
	}{
		{ro, true, true, false},
		{safeWrite, false, true, false},
		{bare, false, false, true},
		{nil, false, false, true},
	} {
		if bulwark.IsReadOnly(tc.tool) != tc.readOnly || bulwark.IsIdempotent(tc.tool) != tc.idempotent || bulwark.IsDestructive(tc.tool) != tc.destroy {
			t.Errorf("%+v: readOnly %v idempotent %v destructive %v", tc.tool, bulwark.IsReadOnly(tc.tool), bulwark.IsIdempotent(tc.tool), bulwark.IsDestructive(tc.tool))
		}
	}
	req := bulwarktest.Request("w", nil)
	ctx, _ := bulwarktest.Context(context.Background(), req, safeWrite)
	if !bulwark.ToolNames("x", "w")(ctx, req) || bulwark.ToolNames("x")(ctx, req) {
		t.Error("ToolNames matched the wrong tools")
	}
}

// Transparency: notifications, cancellation and other methods behave as
// without bulwark.
func TestTransparency(t *testing.T) {
	var progress, logged sync.WaitGroup
	progress.Add(1)
	logged.Add(1)
	started := make(chan struct{})
	cancelled := make(chan struct{})
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "notify", InputSchema: objectSchema}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: 1, Total: 2}); err != nil {
			return nil, err
		}
		//lint:ignore SA1019 the logging feature is deprecated but still served; this test proves its notifications pass through the chain
		if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "working"}); err != nil {
			return nil, err
		}
		return bulwarktest.TextResult("done"), nil
	})
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "block", InputSchema: objectSchema}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	s.AddPrompt(&mcp.Prompt{Name: "p"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "prompt"}}}}, nil
	})
	s.AddResource(&mcp.Resource{URI: "file:///r", Name: "r"}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: "file:///r", Text: "resource"}}}, nil
	})
	bulwark.Use(s, bulwark.Recover(nil), bulwark.Timeout(bulwark.Fixed(10*time.Second)))
	cs := bulwarktest.Connect(t, s, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Done() },
		//lint:ignore SA1019 the logging feature is deprecated but still served; this test proves its notifications pass through the chain
		LoggingMessageHandler: func(context.Context, *mcp.LoggingMessageRequest) { logged.Done() },
	})
	ctx := context.Background()
	//lint:ignore SA1019 the logging feature is deprecated but still served; this test proves its notifications pass through the chain
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatal(err)
	}
	params := &mcp.CallToolParams{Name: "notify", Arguments: map[string]any{}}
	params.SetProgressToken("tok")
	// Under protocol 2026-07-28 the level travels with each request; older
	// protocols use logging/setLevel, sent above.
	//lint:ignore SA1019 the logging feature is deprecated but still served; this test proves its notifications pass through the chain
	params.Meta[mcp.MetaKeyLogLevel] = "debug"
	res, err := cs.CallTool(ctx, params)
	if err != nil || bulwarktest.ResultText(res) != "done" {
		t.Fatalf("notify: %+v %v", res, err)
	}
	waitGroup(t, &progress, "progress notification")
	waitGroup(t, &logged, "log notification")

	// Cancellation from the client reaches the handler through the chain.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "block", Arguments: map[string]any{}})
		errc <- err
	}()
	<-started
	cancel()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler was not cancelled")
	}
	<-errc

	if p, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "p"}); err != nil || p.Messages[0].Content.(*mcp.TextContent).Text != "prompt" {
		t.Errorf("prompts/get: %+v %v", p, err)
	}
	if r, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///r"}); err != nil || r.Contents[0].Text != "resource" {
		t.Errorf("resources/read: %+v %v", r, err)
	}
	if l, err := cs.ListResources(ctx, nil); err != nil || len(l.Resources) != 1 {
		t.Errorf("resources/list: %+v %v", l, err)
	}
	if l, err := cs.ListTools(ctx, nil); err != nil || len(l.Tools) != 2 {
		t.Errorf("tools/list: %+v %v", l, err)
	}
	// An unknown tool keeps the SDK's own error.
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "nope"})
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("unknown tool: %v", err)
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s reached the client", what)
	}
}

func panicky(next mcp.ToolHandler) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if req.Params.Name == "mwpanic" {
			panic("middleware bug")
		}
		return next(ctx, req)
	}
}

func panicServer(t *testing.T, mws ...bulwark.Middleware) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "panic", InputSchema: objectSchema}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		panic("handler bug: token=sk-should-not-leak")
	})
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "mwpanic", InputSchema: objectSchema}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("unreachable"), nil
	})
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "ok", InputSchema: objectSchema}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("still serving"), nil
	})
	bulwark.Use(s, mws...)
	return s
}

func checkPanics(t *testing.T, cs *mcp.ClientSession, logs *bytes.Buffer) {
	t.Helper()
	ctx := context.Background()
	for _, tool := range []string{"panic", "mwpanic", "panic"} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
		r := bulwark.RefusalOf(res, err)
		if r == nil || r.Code != bulwark.CodeInternal {
			t.Fatalf("%s: want internal error, got %+v %v", tool, res, err)
		}
		if strings.Contains(err.Error(), "sk-should-not-leak") || strings.Contains(err.Error(), "bug") {
			t.Errorf("panic detail reached the client: %v", err)
		}
		if !strings.Contains(logs.String(), r.CorrelationID) {
			t.Errorf("no log line for %s", r.CorrelationID)
		}
	}
	if !strings.Contains(logs.String(), "goroutine") {
		t.Error("stack not logged")
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "ok", Arguments: map[string]any{}})
	if err != nil || bulwarktest.ResultText(res) != "still serving" {
		t.Fatalf("server stopped serving after panics: %+v %v", res, err)
	}
}

func TestRecoverInMemory(t *testing.T) {
	for _, placement := range []string{"recover-outside", "recover-inside", "no-recover"} {
		t.Run(placement, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			defer swapDefaultLogger(&logs)()
			var mws []bulwark.Middleware
			switch placement {
			case "recover-outside":
				mws = []bulwark.Middleware{bulwark.Recover(logger), panicky}
			case "recover-inside": // the middleware panics outside Recover
				mws = []bulwark.Middleware{panicky, bulwark.Recover(logger)}
			default:
				mws = []bulwark.Middleware{panicky}
			}
			cs := bulwarktest.Connect(t, panicServer(t, mws...), nil)
			checkPanics(t, cs, &logs)
		})
	}
}

func TestRecoverStreamableHTTP(t *testing.T) {
	var logs bytes.Buffer
	s := panicServer(t, bulwark.Recover(slog.New(slog.NewJSONHandler(&logs, nil))), panicky, bulwark.Timeout(bulwark.Fixed(5*time.Second)))
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	srv := httptest.NewServer(handler)
	defer srv.Close()
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: srv.URL, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	checkPanics(t, cs, &logs)
	// A panic inside Timeout's goroutine is recovered there.
	if !strings.Contains(logs.String(), "panic") {
		t.Errorf("logs: %s", logs.String())
	}
}

func TestTimeoutHandlerIgnoresContext(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	h := bulwark.Timeout(bulwark.Fixed(20 * time.Millisecond))(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		<-release // ignores ctx entirely
		close(finished)
		return bulwarktest.TextResult("late"), nil
	})
	start := time.Now()
	res, err := h(context.Background(), bulwarktest.Request("slow", nil))
	if !errors.Is(err, bulwark.CodeDeadlineExceeded) || res != nil {
		t.Fatalf("got %+v %v, want deadline exceeded", res, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("returned after %v", el)
	}
	// The abandoned goroutine finishes once the handler returns; goleak in
	// TestMain checks that nothing is left behind.
	close(release)
	<-finished
}

func TestTimeoutPerTool(t *testing.T) {
	var got time.Duration
	var bounded bool
	h := bulwark.Timeout(bulwark.ByTool(time.Second, map[string]time.Duration{"slow": time.Minute, "free": 0}))(
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			dl, ok := ctx.Deadline()
			got, bounded = time.Until(dl), ok
			return &mcp.CallToolResult{}, nil
		})
	for tool, want := range map[string]time.Duration{"other": time.Second, "slow": time.Minute, "free": 0} {
		if _, err := h(context.Background(), bulwarktest.Request(tool, nil)); err != nil {
			t.Fatal(err)
		}
		if want == 0 {
			if bounded {
				t.Errorf("%s: bounded, want no deadline", tool)
			}
			continue
		}
		if !bounded || got > want || got < want-time.Second/2 {
			t.Errorf("%s: deadline in %v, want %v", tool, got, want)
		}
	}
}

// A nil PerCall bounds nothing.
func TestTimeoutNil(t *testing.T) {
	h := bulwark.Timeout(nil)(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if _, ok := ctx.Deadline(); ok {
			t.Error("deadline set")
		}
		return &mcp.CallToolResult{}, nil
	})
	if _, err := h(context.Background(), bulwarktest.Request("t", nil)); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutDistinguishesClientCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := bulwark.Timeout(bulwark.Fixed(time.Minute))(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	})
	_, err := h(ctx, bulwarktest.Request("t", nil))
	if !errors.Is(err, bulwark.CodeCanceled) {
		t.Fatalf("got %v, want canceled", err)
	}
}

func TestTimeoutRecoversPanicInGoroutine(t *testing.T) {
	h := bulwark.Timeout(bulwark.Fixed(time.Minute))(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		panic("inside timeout")
	})
	_, err := h(context.Background(), bulwarktest.Request("t", nil))
	var perr *bulwark.PanicError
	if !errors.Is(err, bulwark.CodeInternal) || !errors.As(err, &perr) {
		t.Fatalf("got %v", err)
	}
}

func TestErrorsIsAs(t *testing.T) {
	cause := errors.New("connection reset")
	err := fmt.Errorf("get customer: %w", bulwark.Unavailable("db down", time.Second, cause))
	if !errors.Is(err, bulwark.CodeUnavailable) || errors.Is(err, bulwark.CodeInternal) {
		t.Error("Is by code failed")
	}
	if !errors.Is(err, cause) {
		t.Error("cause not reachable")
	}
	var e *bulwark.Error
	if !errors.As(err, &e) || e.RetryAfter != time.Second {
		t.Error("As failed")
	}
	if strings.Contains(e.Error(), "reset") || !strings.Contains(e.Cause.Error(), "reset") {
		t.Errorf("Error %q / Cause %v", e.Error(), e.Cause)
	}
	if bulwark.ErrorOf(context.DeadlineExceeded).Code != bulwark.CodeDeadlineExceeded || bulwark.ErrorOf(context.Canceled).Code != bulwark.CodeCanceled || bulwark.ErrorOf(nil) != nil {
		t.Error("context errors not classified")
	}
	if !errors.Is(bulwark.CodeRateLimited, bulwark.CodeRateLimited) {
		t.Error("bare sentinel not classified")
	}
}

func TestCorrelationIDsUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		_, c := bulwarktest.Context(context.Background(), nil, nil)
		id := c.ID
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestNilCallIsSafe(t *testing.T) {
	var c *bulwark.Call
	c.SetPrincipal(&bulwark.Principal{ID: "x"})
	c.AddAttempt()
	c.SetField("cache", "hit")
	c.SetRejection(errors.New("x"))
	c.SetField("k", "v")
	if c.Principal() != nil || c.Attempts() != 0 || c.Fields() != nil || c.Rejection() != nil {
		t.Error("nil call returned values")
	}
}

func swapDefaultLogger(w *bytes.Buffer) func() {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(testenv.LockedWriter{Mu: new(sync.Mutex), W: w}, nil)))
	return func() { slog.SetDefault(old) }
}

func TestWrapForRefusalIsMapped(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	called := false
	bulwark.AddTool(s, &mcp.Tool{Name: "limited"}, bulwark.WrapFor(
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
			called = true
			return nil, echoOut{}, nil
		},
		refuse(bulwark.RateLimited("too many calls", 3*time.Second)),
	))
	bulwark.Use(s)
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "limited", map[string]any{"text": "x"})
	r := bulwark.RefusalOf(res, err)
	if r == nil || r.Code != bulwark.CodeRateLimited || r.RetryAfterSeconds != 3 || called {
		t.Fatalf("refusal %+v, handler called %v", r, called)
	}
}

func TestAddToolRegistersInferredSchema(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	tool := &mcp.Tool{Name: "echo"}
	bulwark.AddTool(s, tool, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
		return nil, echoOut{}, nil
	})
	if tool.InputSchema != nil {
		t.Error("AddTool modified the caller's tool")
	}
	def, ok := bulwark.LookupTool(s, "echo")
	if !ok {
		t.Fatal("not registered")
	}
	schema, ok := def.InputSchema.(*jsonschema.Schema)
	if !ok || schema.Type != "object" || schema.Properties["text"] == nil || schema.Properties["text"].Type != "string" {
		t.Fatalf("registered schema = %#v", def.InputSchema)
	}
	// It is what tools/list advertises.
	cs := bulwarktest.Connect(t, s, nil)
	l, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var adv, reg any
	b, _ := json.Marshal(l.Tools[0].InputSchema)
	json.Unmarshal(b, &adv)
	b, _ = json.Marshal(schema)
	json.Unmarshal(b, &reg)
	if !reflect.DeepEqual(adv, reg) {
		t.Errorf("advertised %v, registered %v", adv, reg)
	}
}

func TestTransportRecorded(t *testing.T) {
	got := make(chan string, 4)
	record := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			got <- bulwark.CallFrom(ctx).Transport
			return next(ctx, req)
		}
	}
	s := newServer(t, &bulwarktest.Recorder{})
	bulwark.Use(s, record)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		handler http.Handler
		client  func(url string) mcp.Transport
	}{
		{"streamable", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil),
			func(u string) mcp.Transport {
				return &mcp.StreamableClientTransport{Endpoint: u, DisableStandaloneSSE: true}
			}},
		{"sse", mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, nil),
			func(u string) mcp.Transport { return &mcp.SSEClientTransport{Endpoint: u} }},
	} {
		srv := httptest.NewServer(tc.handler)
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v1"}, nil).Connect(ctx, tc.client(srv.URL), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bulwarktest.CallTool(ctx, cs, "raw", map[string]any{}); err != nil {
			t.Fatal(err)
		}
		if tr := <-got; tr != "http" {
			t.Errorf("%s: transport %q", tc.name, tr)
		}
		cs.Close()
		srv.Close()
	}
	cs := bulwarktest.Connect(t, s, nil)
	if _, err := bulwarktest.CallTool(ctx, cs, "raw", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if tr := <-got; tr != "stdio" {
		t.Errorf("in-memory: transport %q", tr)
	}
}

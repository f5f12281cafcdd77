package bulwark_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// offerings returns a server with a resource, a resource template, a
// prompt and a completion handler, besides the tools of newServer.
func offerings(t *testing.T) *mcp.Server {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, &mcp.ServerOptions{
		CompletionHandler: func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{"42"}}}, nil
		},
	})
	bulwark.AddTool(s, &mcp.Tool{Name: "echo", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
			return nil, echoOut{Echo: in.Text}, nil
		})
	s.AddResource(&mcp.Resource{URI: "config://app", Name: "config"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "mode=prod"}}}, nil
	})
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "customer://{id}", Name: "customer"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "customer record"}}}, nil
	})
	s.AddPrompt(&mcp.Prompt{Name: "summary", Arguments: []*mcp.PromptArgument{{Name: "id"}}}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "summarise " + req.Params.Arguments["id"]}}}}, nil
	})
	return s
}

type seenCall struct{ method, target, tool, name string }

// recordCalls is a layer that notes each call's record and, for the
// methods in refuse, refuses with err.
func recordCalls(mu *sync.Mutex, seen *[]seenCall, refuse map[string]error) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			mu.Lock()
			*seen = append(*seen, seenCall{c.Method, c.Target, c.Tool, req.Params.Name})
			mu.Unlock()
			if err := refuse[c.Method]; err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
	}
}

func TestUseGuardsResourcesPromptsAndCompletion(t *testing.T) {
	s := offerings(t)
	var (
		mu   sync.Mutex
		seen []seenCall
	)
	bulwark.Use(s, recordCalls(&mu, &seen, nil))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()

	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://7"})
	if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text != "customer record" {
		t.Fatalf("resources/read: %v %+v", err, rr)
	}
	gp, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "summary", Arguments: map[string]string{"id": "7"}})
	if err != nil || len(gp.Messages) != 1 {
		t.Fatalf("prompts/get: %v %+v", err, gp)
	}
	cr, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "summary"}, Argument: mcp.CompleteParamsArgument{Name: "id", Value: "4"}})
	if err != nil || len(cr.Completion.Values) != 1 {
		t.Fatalf("completion/complete: %v %+v", err, cr)
	}
	if _, err := bulwarktest.CallTool(ctx, cs, "echo", map[string]any{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	// Lists pass through the chain; ping does not.
	if _, err := cs.ListResources(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := cs.Ping(ctx, nil); err != nil {
		t.Fatal(err)
	}
	want := []seenCall{
		{bulwark.MethodReadResource, "customer://7", "", bulwark.MethodReadResource},
		{bulwark.MethodGetPrompt, "summary", "", bulwark.MethodGetPrompt},
		{bulwark.MethodComplete, "summary", "", bulwark.MethodComplete},
		{bulwark.MethodCallTool, "echo", "echo", "echo"},
		{bulwark.MethodListResources, "", "", bulwark.MethodListResources},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(want) {
		t.Fatalf("chain saw %+v, want %+v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("call %d: %+v, want %+v", i, seen[i], want[i])
		}
	}
}

func TestUseMapsRefusalsOfOtherMethodsToRPCErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int64
		refuse bulwark.Code
	}{
		{"permission denied", bulwark.PermissionDenied("missing scope customers:read"), bulwark.CodePermissionDenied.RPCCode(), bulwark.CodePermissionDenied},
		{"unauthenticated", bulwark.Unauthenticated("authentication required", nil), bulwark.CodeUnauthenticated.RPCCode(), bulwark.CodeUnauthenticated},
		{"rate limited", bulwark.RateLimited("", 2e9), bulwark.CodeRateLimited.RPCCode(), bulwark.CodeRateLimited},
		{"unavailable", bulwark.Unavailable("down", 0, nil), bulwark.CodeUnavailable.RPCCode(), bulwark.CodeUnavailable},
		{"deadline", &bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: context.DeadlineExceeded}, bulwark.CodeDeadlineExceeded.RPCCode(), bulwark.CodeDeadlineExceeded},
		{"invalid argument", bulwark.InvalidArgument("uri", "bad"), bulwark.CodeInvalidArgument.RPCCode(), bulwark.CodeInvalidArgument},
		{"unexpected", errors.New("dial db.internal:5432: refused"), bulwark.CodeInternal.RPCCode(), bulwark.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := offerings(t)
			var (
				mu   sync.Mutex
				seen []seenCall
			)
			refuse := map[string]error{bulwark.MethodReadResource: tt.err, bulwark.MethodGetPrompt: tt.err}
			bulwark.Use(s, recordCalls(&mu, &seen, refuse))
			cs := bulwarktest.Connect(t, s, nil)
			ctx := context.Background()
			_, rerr := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "config://app"})
			_, perr := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "summary"})
			for _, err := range []error{rerr, perr} {
				var wire *jsonrpc.Error
				if !errors.As(err, &wire) {
					t.Fatalf("got %v, want a JSON-RPC error", err)
				}
				if wire.Code != tt.code {
					t.Errorf("code %d, want %d (%s)", wire.Code, tt.code, wire.Message)
				}
				r := bulwark.RefusalOf(nil, err)
				if r == nil || r.Code != tt.refuse || r.CorrelationID == "" {
					t.Errorf("refusal %+v, want code %s with a correlation ID", r, tt.refuse)
				}
				if strings.Contains(wire.Message, "db.internal") || strings.Contains(string(wire.Data), "db.internal") {
					t.Errorf("cause leaked: %s %s", wire.Message, wire.Data)
				}
			}
		})
	}
}

func TestUseRecoversPanicsInOtherMethods(t *testing.T) {
	s := offerings(t)
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if bulwark.CallFrom(ctx).Method == bulwark.MethodGetPrompt {
				panic("prompt layer broke")
			}
			return next(ctx, req)
		}
	})
	cs := bulwarktest.Connect(t, s, nil)
	_, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "summary"})
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != bulwark.CodeInternal.RPCCode() || !strings.HasPrefix(wire.Message, "internal error (id ") {
		t.Fatalf("got %v, want internal error", err)
	}
	// The server keeps serving.
	if _, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "config://app"}); err != nil {
		t.Fatal(err)
	}
}

// The SDK's own errors for these methods pass through unchanged, so an
// unguarded client sees what the SDK would have sent.
func TestUseKeepsSDKErrorsOfOtherMethods(t *testing.T) {
	s := offerings(t)
	bulwark.Use(s, bulwark.Recover(nil))
	cs := bulwarktest.Connect(t, s, nil)
	_, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "nothing://here"})
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != jsonrpc.CodeInvalidParams || wire.Message != "Resource not found" {
		t.Fatalf("got %v, want resource not found", err)
	}
}

// A layer that only makes sense for tools sees IsToolCall false for the
// other methods.
func TestIsToolCall(t *testing.T) {
	s := offerings(t)
	var (
		mu  sync.Mutex
		got = map[string]bool{}
	)
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			got[bulwark.CallFrom(ctx).Method] = bulwark.IsToolCall(ctx)
			mu.Unlock()
			return next(ctx, req)
		}
	})
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	bulwarktest.CallTool(ctx, cs, "echo", map[string]any{"text": "x"})
	cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "config://app"})
	cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "config://app"})
	mu.Lock()
	defer mu.Unlock()
	if !got[bulwark.MethodCallTool] || got[bulwark.MethodReadResource] {
		t.Errorf("IsToolCall by method: %v", got)
	}
	if !bulwark.IsToolCall(context.Background()) {
		t.Error("IsToolCall without a record must be true: a layer called directly is a tool layer")
	}
}

// captureLog makes slog.Default write to a buffer for the test.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type idIn struct {
	ID int `json:"id"`
}

func TestUnexpectedHandlerErrorsDoNotLeak(t *testing.T) {
	const secret = "shipping: connection refused to 10.0.0.7"
	logs := captureLog(t)
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	fail := func(err error) mcp.ToolHandlerFor[idIn, any] {
		return func(context.Context, *mcp.CallToolRequest, idIn) (*mcp.CallToolResult, any, error) {
			return nil, nil, err
		}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "sdk_plain"}, fail(errors.New(secret)))
	bulwark.AddTool(s, &mcp.Tool{Name: "bulwark_plain"}, fail(errors.New(secret)))
	bulwark.AddTool(s, &mcp.Tool{Name: "bulwark_mimic"}, fail(errors.New(`validating "arguments": `+secret)))
	mcp.AddTool(s, &mcp.Tool{Name: "sdk_tool_error"}, fail(bulwark.ToolError("no customer with ID 7")))
	bulwark.AddTool(s, &mcp.Tool{Name: "bulwark_tool_error"}, fail(bulwark.ToolError("no customer with ID 7")))
	bulwark.AddTool(s, &mcp.Tool{Name: "bulwark_refusal"}, fail(bulwark.PermissionDenied("missing scope x")))
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "raw_set_error", InputSchema: objectSchema}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		r := &mcp.CallToolResult{}
		r.SetError(errors.New(secret))
		return r, nil
	})
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "raw_built", InputSchema: objectSchema}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "no customer with ID 7"}}}, nil
	})
	bulwark.Use(s, bulwark.Recover(nil))
	cs := bulwarktest.Connect(t, s, nil)
	tests := []struct {
		tool     string
		args     map[string]any
		internal bool   // the client reads "internal error (id …)"
		text     string // otherwise the text it reads (prefix)
	}{
		{tool: "sdk_plain", args: map[string]any{"id": 1}, internal: true},
		{tool: "bulwark_plain", args: map[string]any{"id": 1}, internal: true},
		{tool: "bulwark_mimic", args: map[string]any{"id": 1}, internal: true},
		{tool: "raw_set_error", args: map[string]any{}, internal: true},
		{tool: "sdk_tool_error", args: map[string]any{"id": 1}, text: "no customer with ID 7"},
		{tool: "bulwark_tool_error", args: map[string]any{"id": 1}, text: "no customer with ID 7"},
		{tool: "bulwark_refusal", args: map[string]any{"id": 1}, text: "missing scope x"},
		{tool: "raw_built", args: map[string]any{}, text: "no customer with ID 7"},
		// The SDK's own validation messages reach the model.
		{tool: "sdk_plain", args: map[string]any{"id": "seven"}, text: `validating "arguments": `},
		{tool: "bulwark_plain", args: map[string]any{"id": "seven"}, text: `validating "arguments": `},
	}
	for _, tt := range tests {
		t.Run(tt.tool+"/"+tt.text, func(t *testing.T) {
			res, err := bulwarktest.CallTool(context.Background(), cs, tt.tool, tt.args)
			if err != nil {
				t.Fatalf("got JSON-RPC error %v, want an IsError result", err)
			}
			text := bulwarktest.ResultText(res)
			if !res.IsError {
				t.Fatalf("not an error result: %q", text)
			}
			if strings.Contains(text, "10.0.0.7") {
				t.Fatalf("detail leaked to the client: %q", text)
			}
			if tt.internal {
				r := bulwark.RefusalOf(res, nil)
				if !strings.HasPrefix(text, "internal error (id ") || r == nil || r.Code != bulwark.CodeInternal || !strings.Contains(text, r.CorrelationID) {
					t.Fatalf("got %q (refusal %+v), want internal error with its correlation ID", text, r)
				}
				if !strings.Contains(logs.String(), r.CorrelationID) || !strings.Contains(logs.String(), "10.0.0.7") {
					t.Errorf("log lacks the detail under %s:\n%s", r.CorrelationID, logs.String())
				}
				return
			}
			if !strings.HasPrefix(text, tt.text) {
				t.Fatalf("got %q, want %q", text, tt.text)
			}
		})
	}
}

// Without Use, a handler registered with bulwark.AddTool still sends no
// detail: the SDK sends the marked error's text, "internal error".
func TestAddToolHidesErrorsWithoutUse(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "t"}, func(context.Context, *mcp.CallToolRequest, idIn) (*mcp.CallToolResult, any, error) {
		return nil, nil, errors.New("shipping: connection refused")
	})
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "t", map[string]any{"id": 1})
	if err != nil || !res.IsError || bulwarktest.ResultText(res) != "internal error" {
		t.Fatalf("got %v %q", err, bulwarktest.ResultText(res))
	}
}

// bulwark's JSON-RPC codes mean nothing else to any major MCP SDK.
func TestRPCCodesAreOurOwn(t *testing.T) {
	taken := map[int64]string{
		-32000: "connection closed (TypeScript, Python)",
		-32001: "request timeout (TypeScript, Python)",
		-32002: "resource not found (specification before SEP-2164, older SDKs)",
		-32003: "Swift SDK",
		-32020: "header mismatch (Go)", -32021: "missing client capability (Go)", -32022: "unsupported protocol version (Go)",
		-32042: "URL elicitation required (specification)",
	}
	own := []int64{bulwark.CodeUnauthenticated.RPCCode(), bulwark.CodePermissionDenied.RPCCode(), bulwark.CodeRateLimited.RPCCode(),
		bulwark.CodeUnavailable.RPCCode(), bulwark.CodeDeadlineExceeded.RPCCode()}
	seen := map[int64]bool{}
	for _, c := range own {
		if what, ok := taken[c]; ok {
			t.Errorf("code %d already means %s", c, what)
		}
		if c > -32000 || c < -32099 {
			t.Errorf("code %d is outside the server-error range", c)
		}
		if seen[c] {
			t.Errorf("code %d used twice", c)
		}
		seen[c] = true
	}
}

type readOnlyProbe struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (p *readOnlyProbe) layer(next mcp.ToolHandler) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		p.mu.Lock()
		p.seen[req.Params.Name] = bulwark.IsReadOnly(bulwark.ToolFrom(ctx))
		p.mu.Unlock()
		return next(ctx, req)
	}
}

func TestUseLearnsToolsAddedWithoutBulwark(t *testing.T) {
	logs := captureLog(t)
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "sdk_lookup", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(context.Context, *mcp.CallToolRequest, idIn) (*mcp.CallToolResult, any, error) {
			return nil, nil, nil
		})
	probe := &readOnlyProbe{seen: map[string]bool{}}
	bulwark.Use(s, probe.layer)
	cs := bulwarktest.Connect(t, s, nil)
	if _, err := bulwarktest.CallTool(context.Background(), cs, "sdk_lookup", map[string]any{"id": 1}); err != nil {
		t.Fatal(err)
	}
	probe.mu.Lock()
	defer probe.mu.Unlock()
	if !probe.seen["sdk_lookup"] {
		t.Error("the layers did not see the annotations of a tool added with mcp.AddTool")
	}
	if def, ok := bulwark.LookupTool(s, "sdk_lookup"); !ok || def.InputSchema == nil {
		t.Errorf("definition not learned: %+v", def)
	}
	if !strings.Contains(logs.String(), "sdk_lookup") || !strings.Contains(logs.String(), "bulwark.AddTool") {
		t.Errorf("no warning names the tool:\n%s", logs.String())
	}
}

func TestCheckTools(t *testing.T) {
	captureLog(t)
	ctx := context.Background()
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	if err := bulwark.CheckTools(ctx, s); err == nil || !strings.Contains(err.Error(), "Use") {
		t.Fatalf("CheckTools before Use: %v", err)
	}
	bulwark.AddTool(s, &mcp.Tool{Name: "known"}, func(context.Context, *mcp.CallToolRequest, idIn) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	bulwark.Use(s, bulwark.Recover(nil))
	if err := bulwark.CheckTools(ctx, s); err != nil {
		t.Fatalf("every tool registered: %v", err)
	}
	mcp.AddTool(s, &mcp.Tool{Name: "stray_b", Annotations: &mcp.ToolAnnotations{IdempotentHint: true}},
		func(context.Context, *mcp.CallToolRequest, idIn) (*mcp.CallToolResult, any, error) {
			return nil, nil, nil
		})
	s.AddTool(&mcp.Tool{Name: "stray_a", InputSchema: objectSchema}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
	err := bulwark.CheckTools(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "stray_a, stray_b") || strings.Contains(err.Error(), "known") {
		t.Fatalf("CheckTools = %v, want the two stray tools named", err)
	}
	if def, ok := bulwark.LookupTool(s, "stray_b"); !ok || !bulwark.IsIdempotent(def) {
		t.Errorf("stray_b not learned: %+v", def)
	}
	// Registering the definition with bulwark settles it.
	bulwark.Register(s, &mcp.Tool{Name: "stray_a"}, &mcp.Tool{Name: "stray_b"})
	if err := bulwark.CheckTools(ctx, s); err != nil {
		t.Fatalf("after Register: %v", err)
	}
}

package bulwark_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// afterNext is a layer that runs f on the record of every list request once
// the inner chain has returned.
func afterNext(f func(c *bulwark.Call)) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			if c := bulwark.CallFrom(ctx); err == nil && callrec.IsList(c.Method) {
				f(c)
			}
			return res, err
		}
	}
}

// The lists run through the chain: each is one record naming its method,
// the layers see the SDK's real list in Call.Result, and what a layer sets
// with Call.SetResult is what the client receives.
func TestUseRunsListsThroughTheChain(t *testing.T) {
	s := offerings(t)
	var (
		mu   sync.Mutex
		seen = map[string]mcp.Result{}
	)
	bulwark.Use(s, afterNext(func(c *bulwark.Call) {
		mu.Lock()
		seen[c.Method] = c.Result()
		mu.Unlock()
		if list, ok := c.Result().(*mcp.ListPromptsResult); ok {
			cp := *list
			cp.Prompts = append([]*mcp.Prompt(nil), list.Prompts...)
			cp.Prompts[0] = &mcp.Prompt{Name: "renamed"}
			c.SetResult(&cp)
		}
	}))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ListResources(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ListResourceTemplates(ctx, nil); err != nil {
		t.Fatal(err)
	}
	pl, err := cs.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Prompts) != 1 || pl.Prompts[0].Name != "renamed" {
		t.Errorf("prompts/list = %+v, want the layer's result", pl.Prompts)
	}
	mu.Lock()
	defer mu.Unlock()
	if r, ok := seen[bulwark.MethodListTools].(*mcp.ListToolsResult); !ok || len(r.Tools) != 1 || r.Tools[0].Name != "echo" {
		t.Errorf("tools/list result seen by the layer: %#v", seen[bulwark.MethodListTools])
	}
	if r, ok := seen[bulwark.MethodListResources].(*mcp.ListResourcesResult); !ok || len(r.Resources) != 1 {
		t.Errorf("resources/list result seen by the layer: %#v", seen[bulwark.MethodListResources])
	}
	if r, ok := seen[bulwark.MethodListResourceTemplates].(*mcp.ListResourceTemplatesResult); !ok || len(r.ResourceTemplates) != 1 {
		t.Errorf("resources/templates/list result seen by the layer: %#v", seen[bulwark.MethodListResourceTemplates])
	}
	if r, ok := seen[bulwark.MethodListPrompts].(*mcp.ListPromptsResult); !ok || r.Prompts[0].Name != "summary" {
		t.Errorf("prompts/list result seen by the layer: %#v", seen[bulwark.MethodListPrompts])
	}
}

// A layer cannot send a client the result of another method, nor none.
func TestUseRefusesAResultOfTheWrongType(t *testing.T) {
	tests := []struct {
		name string
		set  func(c *bulwark.Call)
	}{
		{"other type", func(c *bulwark.Call) { c.SetResult(&mcp.ListPromptsResult{}) }},
		{"nil", func(c *bulwark.Call) { c.SetResult(nil) }},
		{"typed nil", func(c *bulwark.Call) { c.SetResult((*mcp.ListToolsResult)(nil)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := offerings(t)
			bulwark.Use(s, afterNext(tt.set))
			cs := bulwarktest.Connect(t, s, nil)
			_, err := cs.ListTools(context.Background(), nil)
			var wire *jsonrpc.Error
			if !errors.As(err, &wire) || wire.Code != bulwark.CodeInternal.RPCCode() || !strings.HasPrefix(wire.Message, "internal error (id ") {
				t.Fatalf("got %v, want internal error", err)
			}
		})
	}
}

// A layer may change the request of another method before next, with a
// value of the same type; another type is an internal error.
func TestUseServesTheRequestALayerSet(t *testing.T) {
	s := offerings(t)
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			if r, ok := c.Request().(*mcp.ReadResourceRequest); ok && r.Params.URI == "customer://7" {
				cp := *r
				cp.Params = &mcp.ReadResourceParams{URI: "config://app"}
				c.SetRequest(&cp)
			}
			if c.Method == bulwark.MethodGetPrompt {
				c.SetRequest(&mcp.ListToolsRequest{})
			}
			return next(ctx, req)
		}
	})
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://7"})
	if err != nil || rr.Contents[0].Text != "mode=prod" {
		t.Fatalf("resources/read: %v %+v", err, rr)
	}
	_, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "summary"})
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != bulwark.CodeInternal.RPCCode() {
		t.Fatalf("prompts/get with a replaced request of another type: %v", err)
	}
}

// A panic in a layer that works on a list is recovered, by Recover and,
// without it, by Use itself; the server keeps serving.
func TestUseRecoversPanicsInListLayers(t *testing.T) {
	boom := afterNext(func(c *bulwark.Call) {
		if c.Method == bulwark.MethodListTools {
			panic("list filter broke")
		}
	})
	for _, mws := range [][]bulwark.Middleware{{bulwark.Recover(nil), boom}, {boom}} {
		s := offerings(t)
		bulwark.Use(s, mws...)
		cs := bulwarktest.Connect(t, s, nil)
		ctx := context.Background()
		_, err := cs.ListTools(ctx, nil)
		var wire *jsonrpc.Error
		if !errors.As(err, &wire) || wire.Code != bulwark.CodeInternal.RPCCode() || strings.Contains(wire.Message, "broke") {
			t.Fatalf("%d layers: got %v, want internal error", len(mws), err)
		}
		if _, err := cs.ListPrompts(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// Timeout bounds a list like a call, and a per-tool timeout names it by its
// method.
func TestTimeoutBoundsLists(t *testing.T) {
	s := offerings(t)
	stuck := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if bulwark.CallFrom(ctx).Method == bulwark.MethodListTools {
				<-ctx.Done() // a list that never finishes on its own
				return nil, ctx.Err()
			}
			return next(ctx, req)
		}
	}
	bulwark.Use(s, bulwark.Timeout(bulwark.ByTool(time.Hour, map[string]time.Duration{bulwark.MethodListTools: 20 * time.Millisecond})), stuck)
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	_, err := cs.ListTools(ctx, nil)
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != bulwark.CodeDeadlineExceeded.RPCCode() {
		t.Fatalf("tools/list: %v, want deadline exceeded", err)
	}
	if _, err := cs.ListPrompts(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// A handler that answers with neither a result nor an error gets the
// client an internal error with a correlation ID, never the SDK's text
// naming a Go function value, on tools/call and on the other methods.
func TestUseAnswersNothingWithAnInternalError(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "nothing", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
	s.AddPrompt(&mcp.Prompt{Name: "nothing"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return nil, nil
	})
	bulwark.Use(s)
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	_, terr := bulwarktest.CallTool(ctx, cs, "nothing", map[string]any{})
	_, perr := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "nothing"})
	for _, err := range []error{terr, perr} {
		var wire *jsonrpc.Error
		if !errors.As(err, &wire) || wire.Code != bulwark.CodeInternal.RPCCode() || !strings.HasPrefix(wire.Message, "internal error (id ") {
			t.Errorf("got %v, want internal error (id …)", err)
		}
	}
}

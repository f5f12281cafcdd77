package bulwark_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A layer that hides prompts whose name starts with "internal_": it lets
// the SDK answer prompts/list, reads the real list from the record and
// replaces it with a filtered copy. auth's Guard filters every list this
// way.
func ExampleCall_SetResult() {
	s := mcp.NewServer(&mcp.Implementation{Name: "prompts", Version: "v1"}, nil)
	prompt := func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{}, nil
	}
	s.AddPrompt(&mcp.Prompt{Name: "internal_debug"}, prompt)
	s.AddPrompt(&mcp.Prompt{Name: "summary"}, prompt)
	hide := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			c := bulwark.CallFrom(ctx)
			if list, ok := c.Result().(*mcp.ListPromptsResult); ok && err == nil {
				cp := *list // the SDK's list is shared: change a copy
				cp.Prompts = nil
				for _, p := range list.Prompts {
					if !strings.HasPrefix(p.Name, "internal_") {
						cp.Prompts = append(cp.Prompts, p)
					}
				}
				c.SetResult(&cp)
			}
			return res, err
		}
	}
	bulwark.Use(s, hide)
	cs, done := serveInMemory(s)
	defer done()
	list, _ := cs.ListPrompts(context.Background(), nil)
	for _, p := range list.Prompts {
		fmt.Println(p.Name)
	}
	// Output: summary
}

// A layer reads the request of a method other than tools/call, as the SDK
// decoded it, from the record.
func ExampleCall_Request() {
	s := mcp.NewServer(&mcp.Implementation{Name: "docs", Version: "v1"}, nil)
	s.AddResource(&mcp.Resource{URI: "doc://readme", Name: "readme"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "hello"}}}, nil
	})
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if r, ok := bulwark.CallFrom(ctx).Request().(*mcp.ReadResourceRequest); ok {
				fmt.Println("reading", r.Params.URI)
			}
			return next(ctx, req)
		}
	})
	cs, done := serveInMemory(s)
	defer done()
	res, _ := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "doc://readme"})
	fmt.Println(res.Contents[0].Text)
	// Output:
	// reading doc://readme
	// hello
}

// An outer layer learns what the client receives once next has returned:
// here an inner layer mistakenly answers tools/list with a prompt list, so
// Use sends an internal error, and the outer layer sees it.
func ExampleCall_ResultError() {
	s := mcp.NewServer(&mcp.Implementation{Name: "tools", Version: "v1"}, nil)
	outer := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			if err == nil {
				if e := bulwark.CallFrom(ctx).ResultError(res); e != nil {
					fmt.Println("client receives:", e.Code)
				} else {
					fmt.Println("client receives the result")
				}
			}
			return res, err
		}
	}
	spoil := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			if c := bulwark.CallFrom(ctx); c.Method == bulwark.MethodListTools {
				c.SetResult(&mcp.ListPromptsResult{})
			}
			return res, err
		}
	}
	bulwark.Use(s, outer, spoil)
	cs, done := serveInMemory(s)
	defer done()
	_, _ = cs.ListPrompts(context.Background(), nil)
	_, _ = cs.ListTools(context.Background(), nil)
	// Output:
	// client receives the result
	// client receives: internal
}

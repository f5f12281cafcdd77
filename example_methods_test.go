package bulwark_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type orderIn struct {
	ID string `json:"id"`
}

// A handler's error reaches the model only when it is a ToolError; any
// other error becomes "internal error (id …)" and its text stays on the
// server.
func ExampleToolError() {
	defer quietLog()() // the detail is logged to slog.Default
	s := mcp.NewServer(&mcp.Implementation{Name: "orders", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "get_order"}, func(_ context.Context, _ *mcp.CallToolRequest, in orderIn) (*mcp.CallToolResult, any, error) {
		if in.ID == "42" {
			return nil, nil, errors.New("shipping: connection refused to 10.0.0.7")
		}
		return nil, nil, bulwark.ToolError("no order with ID " + in.ID)
	})
	bulwark.Use(s, bulwark.Recover(nil))
	cs, done := serveInMemory(s)
	defer done()
	for _, id := range []string{"7", "42"} {
		res, _ := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "get_order", Arguments: map[string]any{"id": id}})
		text := res.Content[0].(*mcp.TextContent).Text
		if strings.HasPrefix(text, "internal error (id ") {
			text = "internal error (id …)"
		}
		fmt.Println(res.IsError, text)
	}
	// Output:
	// true no order with ID 7
	// true internal error (id …)
}

// Call.ResultError classifies an IsError result the way ToWire, audit and
// metrics do; it works without a record too.
func ExampleCall_ResultError_isError() {
	show := func(err error) {
		var res mcp.CallToolResult
		res.SetError(err)
		var c *bulwark.Call // no record: a tools/call
		if e := c.ResultError(&res); e != nil {
			fmt.Println(e.Code)
		} else {
			fmt.Println("for the model")
		}
	}
	show(bulwark.ToolError("no such customer"))
	show(bulwark.RateLimited("", 0))
	show(errors.New("dial tcp 10.0.0.7:5432: connection refused"))
	// Output:
	// for the model
	// rate_limited
	// internal
}

// CheckTools, called after Use and before serving, names the tools that
// were added without bulwark and registers their definitions.
func ExampleCheckTools() {
	defer quietLog()()
	s := mcp.NewServer(&mcp.Implementation{Name: "orders", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "get_order"}, func(context.Context, *mcp.CallToolRequest, orderIn) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "cancel_order"}, func(context.Context, *mcp.CallToolRequest, orderIn) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	bulwark.Use(s, bulwark.Recover(nil))
	fmt.Println(bulwark.CheckTools(context.Background(), s))
	_, known := bulwark.LookupTool(s, "cancel_order")
	fmt.Println("cancel_order known now:", known)
	// Output:
	// bulwark.CheckTools: tools added without bulwark.AddTool, AddToolHandler or Register: cancel_order
	// cancel_order known now: true
}

// Use guards resources, prompts and completions too; layers that only make
// sense for tools ask IsToolCall.
func ExampleIsToolCall() {
	s := mcp.NewServer(&mcp.Implementation{Name: "docs", Version: "v1"}, nil)
	s.AddResource(&mcp.Resource{URI: "doc://readme", Name: "readme"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "hello"}}}, nil
	})
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			fmt.Println(c.Method, c.Target, "tool call:", bulwark.IsToolCall(ctx))
			return next(ctx, req)
		}
	})
	cs, done := serveInMemory(s)
	defer done()
	res, _ := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "doc://readme"})
	fmt.Println(res.Contents[0].Text)
	// Output:
	// resources/read doc://readme tool call: false
	// hello
}

// A list filter beneath Use that leaves bulwark's own inventory of tools
// unfiltered (auth's Guard.FilterLists does) lets CheckTools see them all.
func ExampleCheckTools_filtered() {
	hideAll := func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if list, ok := res.(*mcp.ListToolsResult); ok && !callrec.IsInventory(ctx) {
				list.Tools = nil
			}
			return res, err
		}
	}
	defer quietLog()()
	s := mcp.NewServer(&mcp.Implementation{Name: "orders", Version: "v1"}, nil)
	s.AddTool(&mcp.Tool{Name: "raw_tool", InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{}, nil
	})
	s.AddReceivingMiddleware(hideAll)
	bulwark.Use(s)
	fmt.Println(bulwark.CheckTools(context.Background(), s))
	// Output:
	// bulwark.CheckTools: tools added without bulwark.AddTool, AddToolHandler or Register: raw_tool
}

// quietLog sends slog.Default to io.Discard and returns the function that
// restores it.
func quietLog() func() {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	return func() { slog.SetDefault(old) }
}

package deprecation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/deprecation"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleMark() {
	s := mcp.NewServer(&mcp.Implementation{Name: "crm", Version: "v2"}, nil)
	old := deprecation.Mark(&mcp.Tool{Name: "find_customer", Description: "Find a customer by ID."},
		time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), "get_customer")
	type in struct {
		Name string `json:"name"`
	}
	bulwark.AddTool(s, old, func(ctx context.Context, req *mcp.CallToolRequest, in in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "found " + in.Name}}}, nil, nil
	})
	var usage deprecation.Usage
	bulwark.Use(s, deprecation.Middleware(&usage))

	ctx := context.Background()
	ct, st := mcp.NewInMemoryTransports() // any transport works the same way
	ss, _ := s.Connect(ctx, st, nil)
	defer ss.Close()
	cs, _ := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v1"}, nil).Connect(ctx, ct, nil)
	defer cs.Close()

	tools, _ := cs.ListTools(ctx, nil)
	fmt.Println(tools.Tools[0].Description)
	res, _ := cs.CallTool(ctx, &mcp.CallToolParams{Name: "find_customer", Arguments: map[string]any{"name": "c-1"}})
	fmt.Println(res.Meta[deprecation.MetaKey].(map[string]any)["replacement"])
	fmt.Println(usage.Count("find_customer"))
	// Output:
	// DEPRECATED: this tool will be removed after 2027-03-01; use get_customer instead. Find a customer by ID.
	// get_customer
	// 1
}

func ExampleMiddleware() {
	tool := deprecation.Mark(&mcp.Tool{Name: "old"}, time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), "new")
	var usage deprecation.Usage
	h := deprecation.Middleware(&usage)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{}, nil
	})
	req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "old"}}
	ctx, _ := bulwarktest.Context(context.Background(), req, tool)
	res, _ := h(ctx, req)
	d := res.Meta[deprecation.MetaKey].(deprecation.Notice)
	fmt.Println(d.Message, usage.Count("old"))
	// Output: DEPRECATED: this tool will be removed after 2027-06-30; use new instead. 1
}

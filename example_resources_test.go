package bulwark_test

import (
	"context"
	"fmt"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Call.Resource tells a layer what the server serves a resources/read
// with: an exact resource first, else the first of its templates (in the
// order of their URI templates) that matches, as the SDK does.
func ExampleCall_Resource() {
	s := mcp.NewServer(&mcp.Implementation{Name: "files", Version: "v1"}, nil)
	read := func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "data"}}}, nil
	}
	s.AddResource(&mcp.Resource{URI: "x://readme", Name: "readme"}, read)
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "x://{id}", Name: "item"}, read)
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "x://{+path}", Name: "path"}, read)
	bulwark.Use(s, func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if c := bulwark.CallFrom(ctx); c.Method == bulwark.MethodReadResource {
				match, template, err := c.Resource(c.Target)
				fmt.Printf("%s: %q template=%v err=%v\n", c.Target, match, template, err)
			}
			return next(ctx, req)
		}
	})
	cs, done := serveInMemory(s)
	defer done()
	for _, uri := range []string{"x://readme", "x://7", "y://1"} {
		_, _ = cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
	}
	// Output:
	// x://readme: "x://readme" template=false err=<nil>
	// x://7: "x://{+path}" template=true err=<nil>
	// y://1: "" template=false err=<nil>
}

package deprecation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/deprecation"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestDeprecationsDoNotWriteIntoSharedResults(t *testing.T) {
	shared := bulwarktest.TextResult("cached")
	tool := deprecation.Mark(&mcp.Tool{Name: "old"}, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), "")
	if !strings.HasPrefix(tool.Description, "DEPRECATED: this tool will be removed after 2027-01-02.") {
		t.Errorf("description = %q", tool.Description)
	}
	var usage deprecation.Usage
	h := deprecation.Middleware(&usage)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return shared, nil
	})
	req := bulwarktest.Request("old", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, tool)
	res, err := h(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Meta[deprecation.MetaKey]; !ok {
		t.Error("no warning in result")
	}
	if shared.Meta != nil {
		t.Error("shared result was modified")
	}
	if usage.Count("old") != 1 || strings.Join(usage.Tools(), ",") != "old" {
		t.Errorf("usage = %d %v", usage.Count("old"), usage.Tools())
	}
	if call.Fields()["deprecated"] != "2027-01-02" {
		t.Errorf("fields = %v", call.Fields())
	}
	// Other tools pass untouched.
	req = bulwarktest.Request("current", nil)
	ctx, _ = bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "current"})
	if res, _ := h(ctx, req); res != shared {
		t.Error("non-deprecated tool's result was copied")
	}
}

package bulwark_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// resourceRecorder is a layer that records, per call, what Call.Resource
// says the server serves the call's target with.
type resourceRecorder struct {
	match    string
	template bool
	err      error
}

func (rr *resourceRecorder) layer(next mcp.ToolHandler) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := bulwark.CallFrom(ctx)
		rr.match, rr.template, rr.err = c.Resource(c.Target)
		return next(ctx, req)
	}
}

func TestCallResourceMatchesAsTheSDKServes(t *testing.T) {
	ctx := context.Background()
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, &mcp.ServerOptions{
		CompletionHandler: func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{}, nil
		},
	})
	answer := func(text string) mcp.ResourceHandler {
		return func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: text}}}, nil
		}
	}
	for _, tmpl := range []string{"x://{id}", "x://{+path}", "y://{id}/orders", "y://{id}"} {
		s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: tmpl, Name: tmpl}, answer(tmpl))
	}
	s.AddResource(&mcp.Resource{URI: "x://exact", Name: "exact"}, answer("x://exact"))
	rr := &resourceRecorder{}
	bulwark.Use(s, rr.layer)
	cs := bulwarktest.Connect(t, s, nil)

	tests := []struct {
		uri      string
		match    string
		template bool
	}{
		{"x://exact", "x://exact", false},
		{"x://7", "x://{+path}", true}, // "+" sorts before "i"
		{"x://a/b", "x://{+path}", true},
		{"y://1", "y://{id}", true},
		{"y://1/orders", "y://{id}/orders", true},
		{"z://1", "", false},
	}
	for _, tt := range tests {
		res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: tt.uri})
		if rr.err != nil || rr.match != tt.match || rr.template != tt.template {
			t.Errorf("Resource(%q) = %q, %v, %v; want %q, %v", tt.uri, rr.match, rr.template, rr.err, tt.match, tt.template)
		}
		// What the SDK served agrees.
		if tt.match == "" {
			if err == nil {
				t.Errorf("read %s: served, want not found", tt.uri)
			}
			continue
		}
		if err != nil {
			t.Fatalf("read %s: %v", tt.uri, err)
		}
		if got := res.Contents[0].Text; got != tt.match {
			t.Errorf("read %s: served by %s, Resource says %s", tt.uri, got, tt.match)
		}
	}

	// A completion reference naming a template is that template.
	for ref, want := range map[string]string{"x://{id}": "x://{id}", "x://7": "x://{+path}"} {
		if _, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/resource", URI: ref}, Argument: mcp.CompleteParamsArgument{Name: "id", Value: "1"}}); err != nil {
			t.Fatal(err)
		}
		if rr.match != want || !rr.template || rr.err != nil {
			t.Errorf("complete %s: Resource = %q, %v, %v; want %q", ref, rr.match, rr.template, rr.err, want)
		}
	}

	// A call record Use did not make knows no resources.
	_, c := bulwarktest.Context(context.Background(), nil, nil)
	if _, _, err := c.Resource("x://7"); err == nil {
		t.Error("Resource on a record without Use: no error")
	}
}

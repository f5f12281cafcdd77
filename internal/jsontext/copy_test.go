package jsontext

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A copy shares nothing a holder can change: changing every part of it
// leaves the original as it was. Both the cache and idempotent replays
// hand out results through CloneResult.
func TestCloneResultSharesNothing(t *testing.T) {
	size := int64(3)
	orig := func() *mcp.CallToolResult {
		return &mcp.CallToolResult{
			Meta: mcp.Meta{"m": map[string]any{"k": []any{"v"}}},
			Content: []mcp.Content{
				&mcp.TextContent{Text: "t", Meta: mcp.Meta{"k": "v"}, Annotations: &mcp.Annotations{Audience: []mcp.Role{"user"}}},
				&mcp.ImageContent{Data: []byte{1, 2}, MIMEType: "image/png"},
				&mcp.AudioContent{Data: []byte{3}, MIMEType: "audio/wav"},
				&mcp.ResourceLink{URI: "db://x", Name: "x", Size: &size, Icons: []mcp.Icon{{Source: "s", Sizes: []string{"1x1"}}}},
				&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "db://y", Blob: []byte{4}, Meta: mcp.Meta{"v": true}}},
			},
			StructuredContent: map[string]any{"a": []any{1.0, map[string]any{"b": "c"}}},
		}
	}
	r, want := orig(), orig()
	cp := CloneResult(r)
	if !reflect.DeepEqual(cp, want) {
		t.Fatalf("copy differs:\n%#v", cp)
	}
	cp.Meta["m"].(map[string]any)["k"].([]any)[0] = "changed"
	tc := cp.Content[0].(*mcp.TextContent)
	tc.Text, tc.Meta["k"], tc.Annotations.Audience[0] = "x", "x", "x"
	cp.Content[1].(*mcp.ImageContent).Data[0] = 9
	cp.Content[2].(*mcp.AudioContent).Data[0] = 9
	rl := cp.Content[3].(*mcp.ResourceLink)
	*rl.Size, rl.Icons[0].Sizes[0] = 9, "x"
	er := cp.Content[4].(*mcp.EmbeddedResource)
	er.Resource.Blob[0], er.Resource.Meta["v"] = 9, false
	cp.StructuredContent.(map[string]any)["a"].([]any)[1].(map[string]any)["b"] = "x"
	cp.Content[0] = nil
	if !reflect.DeepEqual(r, want) {
		got, _ := json.Marshal(r)
		t.Fatalf("the original changed with its copy: %s", got)
	}
	if CloneResult(nil) != nil {
		t.Error("nil copied to non-nil")
	}
	raw := json.RawMessage(`{"a":1}`)
	rc := CloneResult(&mcp.CallToolResult{StructuredContent: raw})
	rc.StructuredContent.(json.RawMessage)[2] = 'z'
	if string(raw) != `{"a":1}` {
		t.Error("raw structured content shared")
	}
}

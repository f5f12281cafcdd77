package cache

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// snapshot is an optimization of encode-then-decode; both must build the
// same template, or hits from memory would differ from hits from Redis.
func TestSnapshotMatchesDecode(t *testing.T) {
	type out struct {
		ID    string  `json:"id"`
		Total float64 `json:"total"`
		N     int     `json:"n"`
	}
	size := int64(3)
	tests := []*mcp.CallToolResult{
		{Content: []mcp.Content{&mcp.TextContent{Text: "hi"}}},
		{Content: []mcp.Content{}},
		{},
		{
			Meta: mcp.Meta{"n": 1, "s": out{ID: "x", N: 2}, "list": []int{1, 2}},
			Content: []mcp.Content{
				&mcp.TextContent{Text: "t", Meta: mcp.Meta{"k": []string{"a"}}, Annotations: &mcp.Annotations{Audience: []mcp.Role{"user"}, Priority: 0.5}},
				&mcp.ImageContent{Data: []byte{1, 2, 3}, MIMEType: "image/png", Meta: mcp.Meta{"w": 10}},
				&mcp.AudioContent{Data: []byte{4}, MIMEType: "audio/wav"},
				&mcp.ResourceLink{URI: "db://x", Name: "x", Size: &size, Icons: []mcp.Icon{{Source: "https://x/i.png", Sizes: []string{"48x48"}}}},
				&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "db://y", Text: "y", Meta: mcp.Meta{"v": true}}},
			},
			StructuredContent: out{ID: "c-1", Total: 12.5, N: 3},
		},
		{StructuredContent: json.RawMessage(`{ "b": 1, "a": [1, 2] }`)},
		{StructuredContent: []any{1, "two", nil}},
	}
	for i, res := range tests {
		b, err := encodeResult(res)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeResult(b)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := snapshot(res)
		if !ok {
			t.Fatalf("%d: snapshot refused", i)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%d: snapshot\n%s\ndecode\n%s", i, gj, wj)
		}
		// Same Go shapes, so clones of either behave alike; raw structured
		// content may differ only in whitespace.
		gsc, wsc := got.StructuredContent, want.StructuredContent
		got.StructuredContent, want.StructuredContent = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d: snapshot %#v\ndecode %#v", i, got, want)
		}
		if (gsc == nil) != (wsc == nil) {
			t.Errorf("%d: structured content %v vs %v", i, gsc, wsc)
		}
	}
	if _, ok := snapshot(&mcp.CallToolResult{Content: []mcp.Content{(*mcp.TextContent)(nil)}}); ok {
		t.Error("nil content accepted")
	}
}

package idempotency

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A replay copied from the decoded template equals a replay decoded from
// the stored JSON, and shares nothing mutable with the template.
func TestReplayCopyMatchesDecode(t *testing.T) {
	size := int64(42)
	results := []*mcp.CallToolResult{
		{Content: []mcp.Content{&mcp.TextContent{Text: "hello", Meta: mcp.Meta{"a": []any{1, "x"}}, Annotations: &mcp.Annotations{Audience: []mcp.Role{"user"}, Priority: 0.5}}}},
		{Content: []mcp.Content{&mcp.ImageContent{Data: []byte{1, 2, 3}, MIMEType: "image/png"}, &mcp.AudioContent{Data: []byte{4}, MIMEType: "audio/wav"}}, IsError: true},
		{Content: []mcp.Content{&mcp.ResourceLink{URI: "file:///a", Name: "a", Size: &size, Icons: []mcp.Icon{{Source: "s", Sizes: []string{"16x16"}}}}}},
		{Content: []mcp.Content{&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///b", Blob: []byte("blob"), Meta: mcp.Meta{"k": "v"}}}}},
		{Meta: mcp.Meta{"trace": map[string]any{"id": "t-1", "spans": []any{1.5, true, nil}}},
			StructuredContent: map[string]any{"customer": map[string]any{"id": "c-1", "tags": []any{"a", "b"}}, "n": 3},
			Content:           []mcp.Content{}},
		{StructuredContent: []any{1, 2, 3}},
	}
	for i, r := range results {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := decodeResult(data)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := replay(data, nil)
		got, _ := replay(data, tmpl)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("result %d: copy %+v, decode %+v", i, got, want)
		}
		before, _ := json.Marshal(tmpl)
		scribble(reflect.ValueOf(got))
		if after, _ := json.Marshal(tmpl); string(after) != string(before) {
			t.Fatalf("result %d: changing a replay changed the template:\n%s\n%s", i, before, after)
		}
	}
}

// scribble overwrites every string, byte, number and map entry reachable
// from v.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			if v.Kind() == reflect.Interface && v.Elem().Kind() != reflect.Pointer {
				if v.CanSet() {
					v.Set(reflect.ValueOf("scribbled"))
				}
				if m := v.Elem(); m.Kind() == reflect.Map || m.Kind() == reflect.Slice {
					scribble(m)
				}
				return
			}
			scribble(v.Elem())
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			scribble(v.MapIndex(k))
			v.SetMapIndex(k, reflect.ValueOf("scribbled").Convert(v.Type().Elem()))
		}
		v.SetMapIndex(reflect.ValueOf("added").Convert(v.Type().Key()), reflect.Zero(v.Type().Elem()))
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			scribble(v.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString("scribbled")
		}
	case reflect.Uint8, reflect.Int64, reflect.Float64:
		if v.CanSet() {
			switch v.Kind() {
			case reflect.Uint8:
				v.SetUint(9)
			case reflect.Int64:
				v.SetInt(9)
			default:
				v.SetFloat(9)
			}
		}
	}
}

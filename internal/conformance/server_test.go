package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

//lint:file-ignore SA1019 the client answers sampling requests as the suite does

// connect opens a session with the SDK's client over real HTTP, answering
// sampling and elicitation requests as the suite does.
func connect(t *testing.T, url string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Role: "assistant", Model: "test", Content: &mcp.TextContent{Text: "sampled"}}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "u", "email": "u@example.com"}}, nil
		},
	})
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// serveBoth serves a bare and a wrapped server over HTTP and returns their
// sessions and the wrapped variant.
func serveBoth(t *testing.T, brk string) (bareCS, wrappedCS *mcp.ClientSession, w *wrapped) {
	t.Helper()
	b := httptest.NewServer(bare(newServer()))
	t.Cleanup(b.Close)
	w, err := newWrapped(filepath.Join(t.TempDir(), "audit.jsonl"), brk)
	if err != nil {
		t.Fatal(err)
	}
	ws := httptest.NewServer(w.handler)
	t.Cleanup(ws.Close)
	return connect(t, b.URL), connect(t, ws.URL), w
}

func callJSON(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "error: " + err.Error()
	}
	res.Meta = nil // the layers' annotations (cache status, correlation ID) are allowed to differ
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWrappedAnswersAsBare calls every tool, prompt and resource the
// suite uses through both variants and requires the same answers, and
// that the answers are the ones the scenarios check for. (test_reconnection
// is left to the suite: the SDK's client does not resume a stream the
// server closes mid-call.)
func TestWrappedAnswersAsBare(t *testing.T) {
	bareCS, wrappedCS, w := serveBoth(t, "")
	calls := []struct {
		tool string
		args map[string]any
		want string // a part of the answer
	}{
		{"test_simple_text", nil, `"type":"text"`},
		{"test_image_content", nil, `"mimeType":"image/png"`},
		{"test_audio_content", nil, `"mimeType":"audio/wav"`},
		{"test_embedded_resource", nil, `"uri":"test://embedded-resource"`},
		{"test_multiple_content_types", nil, `"type":"resource"`},
		{"test_tool_with_logging", nil, `logged three messages`},
		{"test_tool_with_progress", nil, `"type":"text"`},
		{"test_error_handling", nil, `"isError":true`},
		{"test_sampling", map[string]any{"prompt": "hi"}, `sampled`},
		{"test_elicitation", map[string]any{"message": "who?"}, `action=accept`},
		{"test_elicitation_sep1034_defaults", nil, `action=accept`},
		{"test_elicitation_sep1330_enums", nil, `action=accept`},
		{"json_schema_2020_12_tool", map[string]any{"name": "n"}, `received 1 fields`},
	}
	for _, c := range calls {
		t.Run(c.tool, func(t *testing.T) {
			b, wr := callJSON(t, bareCS, c.tool, c.args), callJSON(t, wrappedCS, c.tool, c.args)
			if !strings.Contains(b, c.want) {
				t.Errorf("bare answered %s, want it to contain %s", b, c.want)
			}
			if wr != b {
				t.Errorf("wrapped answered\n%s\nbare answered\n%s", wr, b)
			}
		})
	}
	ctx := context.Background()
	for _, cs := range []*mcp.ClientSession{bareCS, wrappedCS} {
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://template/123/data"}); err != nil {
			t.Errorf("template resource: %v", err)
		}
		if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "test_prompt_with_arguments", Arguments: map[string]string{"arg1": "a", "arg2": "b"}}); err != nil {
			t.Errorf("prompt: %v", err)
		}
	}
	records, calls2, err := w.check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if calls2 != float64(len(calls)) {
		t.Errorf("metrics counted %v tool calls, want %d", calls2, len(calls))
	}
	if records < len(calls) {
		t.Errorf("audit trail has %d records, want at least %d", records, len(calls))
	}
}

// TestWrappedNeedsAValidToken proves the wrapped variant really sits behind
// bearer authentication: the runner only fills in a missing header, and a
// wrong token is refused before the server sees the request.
func TestWrappedNeedsAValidToken(t *testing.T) {
	w, err := newWrapped(filepath.Join(t.TempDir(), "audit.jsonl"), "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.handler)
	defer srv.Close()
	for _, token := range []string{"Bearer bk_not-a-key", "Bearer ", "Basic dXNlcjpwYXNz"} {
		req, err := http.NewRequest("POST", srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: HTTP %d, want 401", token, resp.StatusCode)
		}
	}
}

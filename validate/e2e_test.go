package validate_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type updateEmail struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Note  string `json:"note,omitempty"`
}

// newServer builds a server with a generic tool (update_email, schema from
// validate.Schema) and a raw tool (lookup, hand-written schema), both
// recording their calls, behind mws.
func newServer(t *testing.T, mws ...bulwark.Middleware) (*mcp.Server, *bulwarktest.Recorder, *bulwarktest.Recorder) {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	typed := &bulwarktest.Recorder{}
	schema, err := validate.Schema[updateEmail](
		validate.On("id", validate.FormatID()),
		validate.On("email", validate.FormatEmail()),
		validate.On("note", validate.MaxLength(20)),
	)
	if err != nil {
		t.Fatal(err)
	}
	bulwark.AddTool(s, &mcp.Tool{Name: "update_email", InputSchema: schema},
		func(ctx context.Context, req *mcp.CallToolRequest, in updateEmail) (*mcp.CallToolResult, any, error) {
			res, err := typed.Handle(ctx, req)
			return res, nil, err
		})
	raw := &bulwarktest.Recorder{}
	bulwark.AddToolHandler(s, &mcp.Tool{
		Name: "lookup",
		InputSchema: json.RawMessage(`{"type":"object",
			"properties":{"customer":{"type":"object","properties":{"email":{"type":"string","format":"email"}},"required":["email"]}},
			"required":["customer"]}`),
	}, raw.Handle)
	bulwark.Use(s, mws...)
	return s, typed, raw
}

func TestThroughClient(t *testing.T) {
	s, typed, raw := newServer(t, bulwark.Recover(nil), validate.Middleware(validate.Config{Strict: true, NormalizeNFC: true}))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()

	tests := []struct {
		name, tool string
		args       any
		rec        *bulwarktest.Recorder
		field, msg string // "" field and msg: accepted
	}{
		{"typed ok", "update_email", map[string]any{"id": "c-1", "email": "ada@example.com"}, typed, "", ""},
		{"typed email format", "update_email", map[string]any{"id": "c-1", "email": "Ada <ada@example.com>"}, typed, "email", "without a display name"},
		{"typed email header injection", "update_email", map[string]any{"id": "c-1", "email": "ada@example.com\r\nBcc: x@evil.example"}, typed, "email", "must not contain line breaks"},
		{"typed id pattern", "update_email", map[string]any{"id": "c 1; drop", "email": "ada@example.com"}, typed, "id", "must match the pattern ^[a-zA-Z0-9-]+$"},
		{"typed id length", "update_email", map[string]any{"id": strings.Repeat("a", 51), "email": "ada@example.com"}, typed, "id", "at most 50 characters"},
		{"typed unknown", "update_email", map[string]any{"id": "c-1", "email": "ada@example.com", "admin": true}, typed, "admin", "known fields are email, id, note"},
		{"typed missing", "update_email", map[string]any{"id": "c-1"}, typed, "email", "is required"},
		{"typed NUL", "update_email", map[string]any{"id": "c-1", "email": "ada@example.com", "note": "a\x00b"}, typed, "note", "U+0000"},
		{"raw ok", "lookup", map[string]any{"customer": map[string]any{"email": "ada@example.com"}}, raw, "", ""},
		{"raw nested email", "lookup", map[string]any{"customer": map[string]any{"email": "ada@localhost"}}, raw, "customer.email", "must have a domain with a dot"},
		{"raw strict unknown", "lookup", map[string]any{"customer": map[string]any{"email": "ada@example.com", "ssn": "1"}}, raw, "customer.ssn", "is not a known field"},
		{"raw not object", "lookup", []int{1}, raw, "", "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.rec.Calls())
			res, err := bulwarktest.CallTool(ctx, cs, tt.tool, tt.args)
			if err != nil {
				t.Fatalf("protocol error: %v", err)
			}
			if tt.msg == "" {
				if res.IsError {
					t.Fatalf("refused: %s", bulwarktest.ResultText(res))
				}
				if len(tt.rec.Calls())-before != 1 {
					t.Fatalf("handler ran %d times", len(tt.rec.Calls())-before)
				}
				return
			}
			if !res.IsError {
				t.Fatalf("accepted; want refusal at %q", tt.field)
			}
			if n := len(tt.rec.Calls()) - before; n != 0 {
				t.Fatalf("handler ran %d times after a refusal", n)
			}
			r := bulwark.RefusalOf(res, err)
			if r == nil || r.Code != bulwark.CodeInvalidArgument || r.Field != tt.field {
				t.Fatalf("refusal %+v; want invalid_argument at %q", r, tt.field)
			}
			text := bulwarktest.ResultText(res)
			if !strings.Contains(text, tt.msg) {
				t.Errorf("text %q does not contain %q", text, tt.msg)
			}
			if tt.field != "" && !strings.Contains(text, `"`+tt.field+`"`) {
				t.Errorf("text %q does not name the field", text)
			}
		})
	}

	t.Run("NFC reaches the typed handler", func(t *testing.T) {
		before := len(typed.Calls())
		res, err := bulwarktest.CallTool(ctx, cs, "update_email", map[string]any{"id": "c-1", "email": "a@b.co", "note": "cafe\u0301"})
		if err != nil || res.IsError {
			t.Fatalf("%v %s", err, bulwarktest.ResultText(res))
		}
		if got := string(typed.Calls()[before].Arguments); !strings.Contains(got, `"café"`) {
			t.Errorf("handler saw %s", got)
		}
	})
}

// Without the layer, the SDK lets a malformed email through to the handler:
// this is the gap the layer closes.
func TestSDKAloneSkipsEmailFormat(t *testing.T) {
	s, typed, _ := newServer(t)
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "update_email", map[string]any{"id": "c-1", "email": "not an email"})
	if err != nil || res.IsError {
		t.Fatalf("%v %s", err, bulwarktest.ResultText(res))
	}
	if len(typed.Calls()) != 1 {
		t.Fatalf("handler ran %d times", len(typed.Calls()))
	}
}

func TestWrapRawTool(t *testing.T) {
	// A single raw tool wrapped at registration, inside a server-wide Use
	// that provides the call record and definition.
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	rec := &bulwarktest.Recorder{}
	tool := &mcp.Tool{Name: "echo", InputSchema: json.RawMessage(`{"type":"object","properties":{"msg":{"type":"string","maxLength":5}}}`)}
	bulwark.AddToolHandler(s, tool, bulwark.Wrap(rec.Handle, validate.Middleware(validate.Config{Strict: true})))
	bulwark.Use(s)
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "echo", map[string]any{"msg": "too long"})
	if err != nil {
		t.Fatal(err)
	}
	r := bulwark.RefusalOf(res, err)
	if r == nil || r.Field != "msg" || len(rec.Calls()) != 0 {
		t.Fatalf("refusal %+v, handler ran %d times", r, len(rec.Calls()))
	}
}

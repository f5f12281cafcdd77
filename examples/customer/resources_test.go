package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestResourcesAndPromptsGuarded reads the customer resource and the
// summary prompt over streamable HTTP: a caller without customers:read
// neither sees nor reads them, a reader does, and every request is audited
// with its method.
func TestResourcesAndPromptsGuarded(t *testing.T) {
	stranger, entry, err := auth.GenerateKey("stranger", "orders:read")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(env map[string]string) {
		// The usual principals plus one without customers:read.
		var entries []auth.KeyEntry
		b, err := os.ReadFile(env["API_KEYS_FILE"])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &entries); err != nil {
			t.Fatal(err)
		}
		b, _ = json.Marshal(append(entries, entry))
		file := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		env["API_KEYS_FILE"] = file
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := func(err error) int64 {
		var wire *jsonrpc.Error
		if errors.As(err, &wire) {
			return wire.Code
		}
		return 0
	}

	out := f.connect(stranger)
	if _, err := out.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://C-000001"}); code(err) != bulwark.CodePermissionDenied.RPCCode() {
		t.Fatalf("stranger read the record: %v", err)
	} else if r := bulwark.RefusalOf(nil, err); r == nil || r.Message != "missing scope customers:read" {
		t.Errorf("refusal %+v", r)
	}
	if _, err := out.GetPrompt(ctx, &mcp.GetPromptParams{Name: promptSummary, Arguments: map[string]string{"customer_id": "C-000001"}}); code(err) != bulwark.CodePermissionDenied.RPCCode() {
		t.Fatalf("stranger got the prompt: %v", err)
	}
	if got := templates(t, out); len(got) != 0 {
		t.Errorf("stranger sees templates %v", got)
	}
	if got := prompts(t, out); len(got) != 0 {
		t.Errorf("stranger sees prompts %v", got)
	}

	reader := f.connect(f.keys.reader)
	if got := templates(t, reader); !slices.Equal(got, []string{customerTemplate}) {
		t.Errorf("reader sees templates %v", got)
	}
	if got := prompts(t, reader); !slices.Equal(got, []string{promptSummary}) {
		t.Errorf("reader sees prompts %v", got)
	}
	rr, err := reader.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://C-000001"})
	if err != nil {
		t.Fatal(err)
	}
	if rr.CacheScope != "private" {
		t.Errorf("a customer record is marked cacheScope %q, want private", rr.CacheScope)
	}
	var c Customer
	if len(rr.Contents) != 1 || json.Unmarshal([]byte(rr.Contents[0].Text), &c) != nil || c.ID != "C-000001" {
		t.Fatalf("read %+v", rr.Contents)
	}
	if _, err := reader.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://C-999999"}); code(err) != jsonrpc.CodeInvalidParams || !strings.Contains(err.Error(), "Resource not found") {
		t.Errorf("missing customer: %v", err)
	}
	if _, err := reader.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://C_1"}); code(err) != bulwark.CodeInvalidArgument.RPCCode() {
		t.Errorf("bad ID: %v", err)
	}
	gp, err := reader.GetPrompt(ctx, &mcp.GetPromptParams{Name: promptSummary, Arguments: map[string]string{"customer_id": "C-000001"}})
	if err != nil || len(gp.Messages) != 1 || !strings.Contains(gp.Messages[0].Content.(*mcp.TextContent).Text, "C-000001") {
		t.Fatalf("prompt: %v %+v", err, gp)
	}

	// The audit trail names the method of every request, lists included,
	// the caller, and what was read (in the arguments).
	type seen struct{ principal, method, outcome string }
	var got []seen
	for _, line := range strings.Split(strings.TrimSpace(f.audit.String()), "\n") {
		r, err := audit.ParseRecord([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != audit.KindCall {
			continue
		}
		if r.Method == bulwark.MethodReadResource && !strings.Contains(string(r.Arguments), "customer://") {
			t.Errorf("read record without its URI: %s", r.Arguments)
		}
		got = append(got, seen{r.Principal, r.Method, r.Outcome})
	}
	want := []seen{
		{"stranger", "resources/read", "permission_denied"},
		{"stranger", "prompts/get", "permission_denied"},
		{"stranger", "resources/templates/list", "ok"},
		{"stranger", "prompts/list", "ok"},
		{"reader", "resources/templates/list", "ok"},
		{"reader", "prompts/list", "ok"},
		{"reader", "resources/read", "ok"},
		{"reader", "resources/read", "protocol_error"},
		{"reader", "resources/read", "invalid_argument"},
		{"reader", "prompts/get", "ok"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit records\n got %v\nwant %v", got, want)
	}
	// After the audit check, which counts the requests made above.
	if lt, err := reader.ListResourceTemplates(ctx, nil); err != nil || lt.CacheScope != "private" {
		t.Errorf("a list filtered for its caller is not private: %v %+v", err, lt)
	}
}

func templates(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListResourceTemplates(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rt := range res.ResourceTemplates {
		out = append(out, rt.URITemplate)
	}
	return out
}

func prompts(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListPrompts(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range res.Prompts {
		out = append(out, p.Name)
	}
	return out
}

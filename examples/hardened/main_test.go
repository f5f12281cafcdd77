package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestServesOverStdio builds the program and talks to it as an MCP client
// would: with its key the caller reads, and the arguments are validated.
func TestServesOverStdio(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hardened")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatal(err)
	}
	key, entry, err := auth.GenerateKey("alice", "customers:read")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "keys.json")
	file, _ := json.Marshal([]auth.KeyEntry{entry})
	if err := os.WriteFile(keyFile, file, 0o600); err != nil {
		t.Fatal(err)
	}
	hmac := make([]byte, 32)
	rand.Read(hmac)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "API_KEYS_FILE="+keyFile, "MCP_API_KEY="+key, "AUDIT_HMAC_KEY="+hex.EncodeToString(hmac))
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "v1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_customer", Arguments: map[string]any{"id": "c-42"}})
	if err != nil || res.IsError {
		t.Fatalf("get_customer: %+v %v", res, err)
	}
	if got := res.Content[0].(*mcp.TextContent).Text; got != `{"name":"customer c-42"}` {
		t.Errorf("result %s", got)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_customer", Arguments: map[string]any{"id": "c-42'; DROP TABLE x"}})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodeInvalidArgument || r.Field != "id" {
		t.Errorf("bad id: %+v %v", res, err)
	}
}

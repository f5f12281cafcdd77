package bulwarktest_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestConnect shows Connect and Call as a test uses them (Connect needs a
// testing.TB, so it cannot run as an Example).
func TestConnect(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "svc", Version: "v1"}, nil)
	rec := &bulwarktest.Recorder{}
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "ping", InputSchema: map[string]any{"type": "object"}}, rec.Handle)
	bulwark.Use(s, bulwark.Recover(nil))
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "ping", map[string]any{"n": 1})
	if err != nil || bulwarktest.ResultText(res) != "ok" {
		t.Fatalf("%+v %v", res, err)
	}
	if c := rec.Calls(); len(c) != 1 || c[0].Call == nil || c[0].Call.Tool != "ping" || string(c[0].Arguments) != `{"n":1}` {
		t.Fatalf("recorded %+v", c)
	}
}

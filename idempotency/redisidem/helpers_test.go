package redisidem_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var destructive = &mcp.Tool{Name: "update_email", Annotations: &mcp.ToolAnnotations{DestructiveHint: new(true)}}

// layer returns the idempotency layer over store, with the defaults.
func layer(t testing.TB, store idempotency.Store) bulwark.Middleware {
	t.Helper()
	mw, err := idempotency.New(store, idempotency.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

// counter is a handler that counts its runs and answers with the run number.
type counter struct{ n atomic.Int32 }

func (c *counter) handle(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return bulwarktest.TextResult("run " + strconv.Itoa(int(c.n.Add(1)))), nil
}

//lint:ignore ST1008 returns what the chain returned, in the handler's order, followed by the call record
func call(t testing.TB, h mcp.ToolHandler, principal string, args any) (*mcp.CallToolResult, error, *bulwark.Call) {
	t.Helper()
	req := bulwarktest.Request("update_email", args)
	ctx, c := bulwarktest.Context(context.Background(), req, destructive)
	c.SetPrincipal(&bulwark.Principal{ID: principal})
	res, err := h(ctx, req)
	return res, err, c
}

func replayed(res *mcp.CallToolResult) bool {
	return res != nil && res.Meta[idempotency.ReplayMetaKey] == true
}

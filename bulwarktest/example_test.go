package bulwarktest_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleNewFakeClock() {
	clock := bulwarktest.NewFakeClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	timer := clock.After(time.Minute)
	clock.Advance(time.Minute)
	fmt.Println((<-timer).Format(time.TimeOnly))
	// Output: 12:01:00
}

func ExampleRecorder() {
	rec := &bulwarktest.Recorder{Result: bulwarktest.TextResult("stored")}
	h := bulwark.Chain(bulwark.Recover(nil))(rec.Handle)
	req := bulwarktest.Request("save", map[string]any{"id": "c-1"})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	res, _ := h(ctx, req)
	fmt.Println(bulwarktest.ResultText(res), len(rec.Calls()), string(rec.Calls()[0].Arguments))
	// Output: stored 1 {"id":"c-1"}
}

func ExampleRequest() {
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
	// What streamable HTTP would set, and a _meta entry.
	req.Extra = &mcp.RequestExtra{Header: http.Header{"User-Agent": {"test"}}}
	req.Params.Meta = mcp.Meta{"idempotencyKey": "k-1"}
	fmt.Println(req.Params.Name, string(req.Params.Arguments), req.Extra.Header.Get("User-Agent"), req.Params.Meta["idempotencyKey"])
	// Output: get_customer {"id":"c-1"} test k-1
}

func ExampleContext() {
	req := bulwarktest.Request("get_customer", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "get_customer"})
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	fmt.Println(bulwark.CallFrom(ctx).PrincipalID(), call.Tool)
	// Output: alice get_customer
}

func ExampleTextResult() {
	fmt.Println(bulwarktest.ResultText(bulwarktest.TextResult("hello")))
	// Output: hello
}

func ExampleStartProxy() {
	// Between a client and its dependency (here an address nothing listens
	// on, so the example needs no server).
	p, err := bulwarktest.StartProxy("127.0.0.1:0", "127.0.0.1:1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	p.Cut()     // the dependency "goes down"
	p.Restore() // and comes back
	fmt.Println(p.Addr() != "")
	// Output: true
}

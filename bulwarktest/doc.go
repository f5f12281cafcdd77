// Package bulwarktest is the test kit for code that uses bulwark: a fake
// clock, a recording tool handler, builders for *mcp.CallToolRequest, and a
// helper that connects a real mcp.Client to a server in memory.
//
// # Unit tests of one layer
//
// Call the middleware directly around a [Recorder], with a context made by
// [Context] so the layer finds a call record as it would under bulwark.Use:
//
//	rec := &bulwarktest.Recorder{}
//	h := bulwark.Timeout(bulwark.Fixed(time.Second))(rec.Handle) // the layer under test
//	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
//	ctx, call := bulwarktest.Context(context.Background(), req, nil)
//	res, err := h(ctx, req)
//
// # End-to-end tests
//
// [Connect] serves a *mcp.Server over mcp.NewInMemoryTransports and returns
// a client session; what it receives is exactly what a remote client would.
// Read refusals from it with bulwark.RefusalOf.
//
// # Time
//
// [FakeClock] implements bulwark.Clock. Layers that take a clock never
// sleep in tests: advance the fake clock instead.
package bulwarktest

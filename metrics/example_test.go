package metrics_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func ExampleNew() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Config{Tools: []string{"get_customer"}})
	if err != nil {
		panic(err)
	}
	h := metrics.Middleware(m)(new(bulwarktest.Recorder).Handle)

	// A known tool and a name the client made up.
	for _, tool := range []string{"get_customer", "get_customer", "x-9f2c"} {
		req := bulwarktest.Request(tool, nil)
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		h(ctx, req)
	}
	printCalls(reg)
	// Output:
	// bulwark_tool_calls_total{tool="get_customer",outcome="ok"} 2
	// bulwark_tool_calls_total{tool="other",outcome="ok"} 1
}

// printCalls prints the non-zero call counters in reg.
func printCalls(reg *prometheus.Registry) {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "bulwark_tool_calls_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if v := s.GetCounter().GetValue(); v > 0 {
				labels := map[string]string{}
				for _, lp := range s.GetLabel() {
					labels[lp.GetName()] = lp.GetValue()
				}
				fmt.Printf("%s{tool=%q,outcome=%q} %v\n", mf.GetName(), labels["tool"], labels["outcome"], v)
			}
		}
	}
}

func ExampleMiddleware() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Config{})
	if err != nil {
		panic(err)
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "v1"}, nil)
	// Tools added through bulwark are known to the metrics layer by name.
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "ping", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return bulwarktest.TextResult("pong"), nil
		})
	bulwark.Use(s, bulwark.Recover(nil), metrics.Middleware(m))
	fmt.Println("installed")
	// Output: installed
}

func ExampleHandler() {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, metrics.Config{}); err != nil {
		panic(err)
	}
	admin := http.NewServeMux()
	admin.Handle("GET /metrics", metrics.Handler(reg))
	// Serve admin on its own listener, e.g. 127.0.0.1:9090, apart from MCP.
	_ = &http.Server{Addr: "127.0.0.1:9090", Handler: admin}
	fmt.Println("mounted")
	// Output: mounted
}

func ExampleMetrics_SetBreakerState() {
	reg := prometheus.NewRegistry()
	m, _ := metrics.New(reg, metrics.Config{})
	// From a breaker's state-change callback:
	m.SetBreakerState("postgres", "open")
	n, _ := testutil.GatherAndCount(reg, "bulwark_breaker_state")
	fmt.Println(n, "series: one per state")
	// Output: 3 series: one per state
}

func ExampleMetrics_WatchAuditFailures() {
	reg := prometheus.NewRegistry()
	m, _ := metrics.New(reg, metrics.Config{})
	var sinkFailures uint64 = 4 // an audit sink's own counter
	m.WatchAuditFailures(func() uint64 { return sinkFailures })
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "bulwark_audit_sink_failures_total" {
			fmt.Println(mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	// Output: 4
}

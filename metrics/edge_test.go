package metrics_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func ExampleMetrics_ObserveEdge() {
	reg := prometheus.NewRegistry()
	m, _ := metrics.New(reg, metrics.Config{})
	// Given to edge.New as one of Config.Observers; called here by hand.
	ctx := context.Background()
	m.ObserveEdge(ctx, edge.Event{Kind: edge.EventSessionOpened})
	m.ObserveEdge(ctx, edge.Event{Kind: edge.EventSessionOpened})
	m.ObserveEdge(ctx, edge.Event{Kind: edge.EventSessionClosed, Reason: edge.ReasonIdle})
	m.ObserveEdge(ctx, edge.Event{Kind: edge.EventRefused, Reason: edge.ReasonPrincipalSessions})
	for _, name := range []string{"bulwark_sessions_open", "bulwark_sessions_opened_total"} {
		n, _ := testutil.GatherAndCount(reg, name)
		fmt.Println(name, n, "series")
	}
	fmt.Println(testutil.ToFloat64(gauge(reg, "bulwark_sessions_open")))
	// Output:
	// bulwark_sessions_open 1 series
	// bulwark_sessions_opened_total 1 series
	// 1
}

// gauge returns the single series called name as a collector.
func gauge(reg *prometheus.Registry, name string) prometheus.Collector {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetGauge().GetValue()
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			g.Set(v)
			return g
		}
	}
	return nil
}

// Reasons outside the edge's closed set cannot create label values.
func TestObserveEdgeBoundedLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := testutil.GatherAndCount(reg, "bulwark_http_refusals_total")
	for i := 0; i < 100; i++ {
		m.ObserveEdge(context.Background(), edge.Event{Kind: edge.EventRefused, Reason: edge.Reason(fmt.Sprint("made-up-", i))})
	}
	after, _ := testutil.GatherAndCount(reg, "bulwark_http_refusals_total")
	if after != before {
		t.Fatalf("series grew from %d to %d", before, after)
	}
	var nilM *metrics.Metrics
	nilM.ObserveEdge(context.Background(), edge.Event{Kind: edge.EventRefused})
}

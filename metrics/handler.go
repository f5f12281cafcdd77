package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the metrics gathered from g (nil means
// prometheus.DefaultGatherer) in the Prometheus exposition formats.
//
// Mount it on a separate admin listener, never on the listener that serves
// MCP: metrics describe the server's traffic and belong to operators. A
// failing collector does not hide the others: what could be gathered is
// still served.
func Handler(g prometheus.Gatherer) http.Handler {
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

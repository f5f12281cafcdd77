package metrics

import (
	"context"

	"github.com/bulwark-mcp/bulwark"

	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/prometheus/client_golang/prometheus"
)

// refusalReasons and closeReasons are the label values of the edge's
// series; any other reason is counted under "other".
var (
	refusalReasons = []edge.Reason{
		edge.ReasonOrigin, edge.ReasonHost, edge.Reason(bulwark.CodeUnauthenticated), edge.ReasonScope,
		edge.ReasonSessionUser, edge.Reason(bulwark.CodePermissionDenied), edge.ReasonBodyTooLarge, edge.ReasonProtocolVersion,
		edge.ReasonUnknownSession, edge.ReasonSessions, edge.ReasonPrincipalSessions, edge.ReasonStreams,
		edge.ReasonInFlight, edge.ReasonSubscriptions, edge.Reason(bulwark.CodeRateLimited), edge.Reason(bulwark.CodeInvalidArgument),
		edge.Reason(bulwark.CodeInternal),
	}
	closeReasons = []edge.Reason{edge.ReasonDeleted, edge.ReasonIdle, edge.ReasonMaxAge, edge.ReasonEvicted, edge.ReasonClosed}
)

// edgeSeries are the collectors of the HTTP edge.
type edgeSeries struct {
	refused *prometheus.CounterVec
	open    prometheus.Gauge
	opened  prometheus.Counter
	closed  *prometheus.CounterVec
	known   map[edge.Reason]bool
}

func newEdgeSeries(ns string) *edgeSeries {
	e := &edgeSeries{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "http_refusals_total",
			Help: "HTTP requests refused by the edge (or the SDK behind it), by reason: origin, host, unauthenticated, insufficient_scope, body_too_large, sessions, principal_sessions, streams, in_flight, subscriptions, ….",
		}, []string{"reason"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "sessions_open",
			Help: "MCP sessions held by the HTTP edge now.",
		}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "sessions_opened_total",
			Help: "MCP sessions opened over HTTP. Refused openings are http_refusals_total{reason=\"sessions\"|\"principal_sessions\"}.",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "sessions_closed_total",
			Help: "MCP sessions closed, by reason (deleted, idle, max_age, evicted, closed).",
		}, []string{"reason"}),
		known: make(map[edge.Reason]bool),
	}
	for _, r := range refusalReasons {
		e.refused.WithLabelValues(string(r))
		e.known[r] = true
	}
	e.refused.WithLabelValues(other)
	for _, r := range closeReasons {
		e.closed.WithLabelValues(string(r))
		e.known[r] = true
	}
	e.closed.WithLabelValues(other)
	return e
}

func (e *edgeSeries) collectors() []prometheus.Collector {
	return []prometheus.Collector{e.refused, e.open, e.opened, e.closed}
}

func (e *edgeSeries) label(r edge.Reason) string {
	if e.known[r] {
		return string(r)
	}
	return other
}

// ObserveEdge counts one event of the HTTP edge, which makes a *Metrics an
// edge.Observer: a refused request increments http_refusals_total by
// reason; a session opened increments sessions_opened_total and
// sessions_open; a session closed increments sessions_closed_total by
// reason and decrements sessions_open.
func (m *Metrics) ObserveEdge(_ context.Context, ev edge.Event) {
	if m == nil {
		return
	}
	e := m.edge
	switch ev.Kind {
	case edge.EventRefused:
		e.refused.WithLabelValues(e.label(ev.Reason)).Inc()
	case edge.EventSessionOpened:
		e.opened.Inc()
		e.open.Inc()
	case edge.EventSessionClosed:
		e.closed.WithLabelValues(e.label(ev.Reason)).Inc()
		e.open.Dec()
	}
}

package metrics

import (
	"context"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// outcomes lists every outcome label value; a call's outcome is always one
// of them, so the outcome label is bounded whatever a layer returns.
var outcomes = [...]bulwark.Outcome{
	bulwark.OutcomeOK,
	bulwark.OutcomeToolError,
	bulwark.OutcomeProtocolError,
	bulwark.Outcome(bulwark.CodeUnauthenticated),
	bulwark.Outcome(bulwark.CodePermissionDenied),
	bulwark.Outcome(bulwark.CodeInvalidArgument),
	bulwark.Outcome(bulwark.CodeRateLimited),
	bulwark.Outcome(bulwark.CodeUnavailable),
	bulwark.Outcome(bulwark.CodeDeadlineExceeded),
	bulwark.Outcome(bulwark.CodeCanceled),
	bulwark.Outcome(bulwark.CodeInternal),
}

const (
	idxRateLimited = 6
	idxInternal    = 10
)

// outcomeIndex is the index in outcomes of what the chain returned, as
// bulwark.OutcomeOf classifies it; an outcome a third-party layer invented
// counts as internal.
func outcomeIndex(ctx context.Context, res *mcp.CallToolResult, err error) int {
	o := bulwark.OutcomeOf(ctx, res, err)
	for i, known := range outcomes {
		if o == known {
			return i
		}
	}
	return idxInternal
}

// toolSeries holds the children of every vector for one tool label value,
// resolved once, so a call costs no label hashing.
type toolSeries struct {
	name     string
	inFlight prometheus.Gauge
	duration prometheus.Observer
	limited  prometheus.Counter
	retries  prometheus.Counter
	hit      prometheus.Counter
	miss     prometheus.Counter
	stale    prometheus.Counter
	calls    [len(outcomes)]prometheus.Counter
}

func (m *Metrics) newSeries(tool string) *toolSeries {
	ts := &toolSeries{
		name:     tool,
		inFlight: m.inFlight.WithLabelValues(tool),
		duration: m.duration.WithLabelValues(tool),
		limited:  m.rateLimit.WithLabelValues(tool),
		retries:  m.retries.WithLabelValues(tool),
		hit:      m.cache.WithLabelValues(tool, callrec.Hit),
		miss:     m.cache.WithLabelValues(tool, callrec.Miss),
		stale:    m.cache.WithLabelValues(tool, callrec.Stale),
	}
	for i, o := range outcomes {
		ts.calls[i] = m.calls.WithLabelValues(tool, string(o))
	}
	return ts
}

// methodSeries holds the children of the method vectors for one method.
type methodSeries struct {
	inFlight prometheus.Gauge
	duration prometheus.Observer
	calls    [len(outcomes)]prometheus.Counter
}

// guardedMethods are the methods other than tools/call that bulwark.Use
// runs through the chain; each is a method label value.
var guardedMethods = [...]string{bulwark.MethodReadResource, bulwark.MethodSubscribe, bulwark.MethodGetPrompt, bulwark.MethodComplete,
	bulwark.MethodListTools, bulwark.MethodListResources, bulwark.MethodListResourceTemplates, bulwark.MethodListPrompts,
	bulwark.MethodListen}

func (m *Metrics) newMethodSeries(method string) *methodSeries {
	ms := &methodSeries{
		inFlight: m.methodInFlight.WithLabelValues(method),
		duration: m.methodDuration.WithLabelValues(method),
	}
	for i, o := range outcomes {
		ms.calls[i] = m.methodCalls.WithLabelValues(method, string(o))
	}
	return ms
}

// series returns the series of the tool being called: its own when the
// name is known, "other" otherwise.
func (m *Metrics) series(ctx context.Context, req *mcp.CallToolRequest) *toolSeries {
	name := ""
	if req != nil && req.Params != nil {
		name = req.Params.Name
	}
	if v, ok := m.tools.Load(name); ok {
		return v.(*toolSeries)
	}
	if !m.known(ctx, name) {
		return m.other
	}
	if m.toolCount.Add(1) > int64(m.maxTools) {
		m.toolCount.Add(-1)
		return m.other
	}
	v, loaded := m.tools.LoadOrStore(name, m.newSeries(name))
	if loaded {
		m.toolCount.Add(-1)
	}
	return v.(*toolSeries)
}

// known reports whether name may become a label value. The checks only
// consult what the server's own code registered, never the request alone.
func (m *Metrics) known(ctx context.Context, name string) bool {
	if !validLabel(name) || name == other {
		return false
	}
	if _, ok := m.static[name]; ok {
		return true
	}
	if def := bulwark.ToolFrom(ctx); def != nil && def.Name == name {
		return true
	}
	if m.server != nil {
		if _, ok := bulwark.LookupTool(m.server, name); ok {
			return true
		}
	}
	return false
}

// Middleware records every call that passes through it: the call count by
// outcome, its duration and the calls in flight, and, from the call record
// once the inner layers have returned, rate-limit refusals, cache lookups
// and retries. It changes nothing about the call.
//
// Place it after recover and before auth, so refusals by every inner layer
// are counted. Layers outside it (audit, recover) are not measured. A panic
// passing through is counted as internal and keeps unwinding. A nil m
// installs nothing.
func Middleware(m *Metrics) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		if m == nil {
			return next
		}
		return func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
			if ms := m.methodSeries(ctx); ms != nil {
				return m.observeMethod(ctx, ms, req, next)
			}
			ts := m.series(ctx, req)
			ts.inFlight.Inc()
			start := m.clock.Now()
			finished := false
			defer func() {
				ts.inFlight.Dec()
				if !finished { // a panic is unwinding through us
					ts.calls[idxInternal].Inc()
					ts.duration.Observe(m.clock.Now().Sub(start).Seconds())
				}
			}()
			res, err = next(ctx, req)
			finished = true
			ts.duration.Observe(m.clock.Now().Sub(start).Seconds())
			i := outcomeIndex(ctx, res, err)
			ts.calls[i].Inc()
			if i == idxRateLimited {
				ts.limited.Inc()
			}
			c := bulwark.CallFrom(ctx)
			switch c.Field(callrec.FieldCache) {
			case callrec.Hit:
				ts.hit.Inc()
			case callrec.Miss:
				ts.miss.Inc()
			case callrec.Stale:
				ts.stale.Inc()
			}
			if n := c.Attempts(); n > 1 {
				ts.retries.Add(float64(n - 1))
			}
			return res, err
		}
	}
}

// methodSeries returns the series of the call's method when it is one of
// the methods other than tools/call that bulwark.Use guards, nil otherwise.
func (m *Metrics) methodSeries(ctx context.Context) *methodSeries {
	c := bulwark.CallFrom(ctx)
	if c == nil || c.Method == "" || c.Method == bulwark.MethodCallTool {
		return nil
	}
	return m.methods[c.Method] // nil for a method this version does not know
}

// observeMethod records a call of a method other than tools/call.
func (m *Metrics) observeMethod(ctx context.Context, ms *methodSeries, req *mcp.CallToolRequest, next mcp.ToolHandler) (res *mcp.CallToolResult, err error) {
	ms.inFlight.Inc()
	start := m.clock.Now()
	finished := false
	defer func() {
		ms.inFlight.Dec()
		if !finished {
			ms.calls[idxInternal].Inc()
			ms.duration.Observe(m.clock.Now().Sub(start).Seconds())
		}
	}()
	res, err = next(ctx, req)
	finished = true
	ms.duration.Observe(m.clock.Now().Sub(start).Seconds())
	ms.calls[outcomeIndex(ctx, res, err)].Inc()
	return res, err
}

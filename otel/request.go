package otel

import (
	"reflect"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
)

// The attributes of the OpenTelemetry semantic conventions for MCP (see the
// package documentation for the source), and bulwark's own.
const (
	keyMethod          = attribute.Key("mcp.method.name")
	keySession         = attribute.Key("mcp.session.id")
	keyProtocolVersion = attribute.Key("mcp.protocol.version")
	keyResourceURI     = attribute.Key("mcp.resource.uri")
	keyOperation       = attribute.Key("gen_ai.operation.name")
	keyToolName        = attribute.Key("gen_ai.tool.name")
	keyPromptName      = attribute.Key("gen_ai.prompt.name")
	keyErrorType       = attribute.Key("error.type")
	keyStatusCode      = attribute.Key("rpc.response.status_code")
	keyTransport       = attribute.Key("network.transport")
	keyProtocolName    = attribute.Key("network.protocol.name")

	keyOutcome       = attribute.Key("bulwark.outcome")
	keyCorrelationID = attribute.Key("bulwark.correlation_id")
	keyCache         = attribute.Key("bulwark.cache")
	keyBreaker       = attribute.Key("bulwark.breaker.state")
	keyAttempts      = attribute.Key("bulwark.attempts")
	keyRefusalCode   = attribute.Key("bulwark.refusal.code")
	keyRefusalText   = attribute.Key("bulwark.refusal.message")
)

// executeTool is gen_ai.operation.name for tools/call: the conventions
// make an MCP tool call a GenAI tool execution.
const executeTool = "execute_tool"

// other stands, on the metric, for a tool or prompt name the server does
// not know: a client chooses the name it sends, so only names the server
// registered may become attribute values.
const other = "_OTHER"

// request is what the layer reads from a request before it runs.
type request struct {
	method string
	// Exactly one of tool, prompt and uri is set when the method acts on
	// one: tools/call on a tool, prompts/get and a completion of a prompt
	// argument on a prompt, resources/read and resources/subscribe on a
	// resource.
	tool, prompt, uri string
	// known reports whether the server registered the tool being called:
	// a client chooses the name it sends.
	known   bool
	session string
	http    bool
	version string // mcp.protocol.version; "" when not one the SDK speaks
	id      string // bulwark's correlation ID
}

// describe reads the request the chain runs, from its record c when there
// is one (as there is under bulwark.Use and bulwark.Wrap), else from req.
func (l *layer) describe(c *bulwark.Call, req *mcp.CallToolRequest) request {
	r := request{method: bulwark.MethodCallTool, known: true}
	var orig mcp.Request = req
	if c != nil {
		r.method, r.session, r.http, r.id = c.Method, c.SessionID, c.Transport == "http", c.ID
		if r.method == "" {
			r.method = bulwark.MethodCallTool
		}
		if r.method == bulwark.MethodCallTool {
			r.tool = c.Target
			// Under Use the registry knows every tool the server has;
			// under Wrap the SDK routes only registered tools here, and
			// their definition is unknown: known is settled once the call
			// has ended (see [request.settle]).
			r.known = c.Def != nil
		} else if x := c.Request(); !isNilPointer(x) {
			orig = x
			r.describeMethod(x)
		}
	} else {
		if req != nil && req.Params != nil {
			r.tool = req.Params.Name
		}
		r.http = req != nil && req.Extra != nil && req.Extra.Header != nil
		if req != nil && req.Session != nil {
			r.session = req.Session.ID()
		}
	}
	if v, ok := orig.(interface{ ProtocolVersion() string }); ok && !isNilPointer(orig) {
		if pv := v.ProtocolVersion(); l.versions[pv] {
			r.version = pv
		}
	}
	return r
}

// describeMethod reads the target of a request of another method than
// tools/call.
func (r *request) describeMethod(x mcp.Request) {
	switch x := x.(type) {
	case *mcp.ReadResourceRequest:
		if x.Params != nil {
			r.uri = x.Params.URI
		}
	case *mcp.SubscribeRequest:
		if x.Params != nil {
			r.uri = x.Params.URI
		}
	case *mcp.GetPromptRequest:
		if x.Params != nil {
			r.prompt = x.Params.Name
		}
	case *mcp.CompleteRequest:
		if x.Params != nil && x.Params.Ref != nil && x.Params.Ref.Type == "ref/prompt" {
			r.prompt = x.Params.Ref.Name
		}
	}
	// A prompt is known once the server has answered for it (see
	// [request.settle]).
	r.known = false
}

// isNilPointer reports whether x is nil or holds a nil pointer, which a
// request's methods would dereference.
func isNilPointer(x mcp.Request) bool {
	if x == nil {
		return true
	}
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// settle records what the end of the call taught: a tool or prompt the
// server answered for exists, whatever the name.
func (r *request) settle(o bulwark.Outcome) {
	if o == bulwark.OutcomeOK || o == bulwark.OutcomeToolError {
		r.known = true
	}
}

// target is the low-cardinality target of the span name: the tool or the
// prompt, when the server knows it. The conventions leave the resource URI
// out of the span name, where it would make one name per resource.
func (r *request) target() string {
	if !r.known {
		return ""
	}
	if r.tool != "" {
		return r.tool
	}
	return r.prompt
}

// name is the span name: "{mcp.method.name} {target}", or the method alone.
func (r *request) name() string {
	if t := r.target(); t != "" {
		return r.method + " " + t
	}
	return r.method
}

// transport is network.transport: tcp for HTTP, pipe for stdio and every
// other stream transport.
func (r *request) transport() string {
	if r.http {
		return "tcp"
	}
	return "pipe"
}

// common appends the attributes spans and the metric share.
func (r *request) common(attrs []attribute.KeyValue) []attribute.KeyValue {
	attrs = append(attrs, keyMethod.String(r.method))
	if r.method == bulwark.MethodCallTool {
		attrs = append(attrs, keyOperation.String(executeTool))
	}
	if r.version != "" {
		attrs = append(attrs, keyProtocolVersion.String(r.version))
	}
	attrs = append(attrs, keyTransport.String(r.transport()))
	if r.http {
		attrs = append(attrs, keyProtocolName.String("http"))
	}
	return attrs
}

// spanAttrs are the span's attributes known before the call runs. Unlike
// the metric's, they may carry what the client chose (the tool name as
// sent, the resource URI, the session): a span describes one request.
func (r *request) spanAttrs() []attribute.KeyValue {
	attrs := r.common(make([]attribute.KeyValue, 0, 10))
	switch {
	case r.tool != "":
		attrs = append(attrs, keyToolName.String(r.tool))
	case r.prompt != "":
		attrs = append(attrs, keyPromptName.String(r.prompt))
	case r.uri != "":
		attrs = append(attrs, keyResourceURI.String(r.uri))
	}
	if r.session != "" {
		attrs = append(attrs, keySession.String(r.session))
	}
	if r.id != "" {
		attrs = append(attrs, keyCorrelationID.String(r.id))
	}
	return attrs
}

// metricAttrs are the attributes of one duration measurement: each from a
// fixed set or from what the server registered, never from the request
// alone, so an attacker cannot multiply the series.
func (r *request) metricAttrs(o bulwark.Outcome, a answer) []attribute.KeyValue {
	attrs := r.common(make([]attribute.KeyValue, 0, 10))
	name := other
	if r.known {
		name = r.target()
	}
	switch {
	case r.tool != "" || r.method == bulwark.MethodCallTool:
		attrs = append(attrs, keyToolName.String(name))
	case r.prompt != "":
		attrs = append(attrs, keyPromptName.String(name))
	}
	attrs = a.append(attrs)
	return append(attrs, keyOutcome.String(string(bounded(o))))
}

// bounded returns o, or internal for a code bulwark does not define (a
// third-party layer may invent one), as the metrics package counts it.
func bounded(o bulwark.Outcome) bulwark.Outcome {
	switch o {
	case bulwark.OutcomeOK, bulwark.OutcomeToolError, bulwark.OutcomeProtocolError:
		return o
	}
	switch o.Code() {
	case bulwark.CodeUnauthenticated, bulwark.CodePermissionDenied, bulwark.CodeInvalidArgument,
		bulwark.CodeRateLimited, bulwark.CodeUnavailable, bulwark.CodeDeadlineExceeded,
		bulwark.CodeCanceled, bulwark.CodeInternal:
		return o
	}
	return bulwark.Outcome(bulwark.CodeInternal)
}

package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// Defaults of [Config] and [SessionLimits], the values their zero fields
// stand for.
const (
	defaultMaxBodyBytes               = 4 << 20 // the SDK's own default
	defaultBodyTimeout                = 30 * time.Second
	defaultMaxSessions                = 10_000
	defaultMaxSessionsPerPrincipal    = 32
	defaultIdleTimeout                = 10 * time.Minute
	defaultMaxAge                     = 8 * time.Hour
	defaultMaxStreamsPerSession       = 2
	defaultMaxInFlightPerSession      = 16
	defaultMaxSubscriptionsPerSession = 64
	defaultRetryAfter                 = 5 * time.Second
)

// SessionLimits bounds what one client can make the server hold. Every
// zero field means the stated default; a negative value means no bound (do
// not use that on a server open to untrusted clients).
//
// In stateless mode (Config.Stateless) no session outlives its request, so
// only the body limit of [Config] and the batch length (at most
// MaxInFlightPerSession messages) apply at the transport; the session,
// idle, age, stream, in-flight and subscription bounds have nothing to
// hold. Bound work per caller there with the call layers (ratelimit's
// rate and concurrency limits).
type SessionLimits struct {
	// MaxSessions bounds the sessions held at once, all callers together.
	// Over it, initialize gets 503 with Retry-After. Default 10,000.
	MaxSessions int
	// MaxSessionsPerPrincipal bounds the sessions one caller holds at once
	// (keyed by principal; without authentication, by client IP address).
	// Over it, initialize gets 429 with Retry-After, or EvictIdle makes
	// room. Default 32.
	MaxSessionsPerPrincipal int
	// EvictIdle, when a caller at MaxSessionsPerPrincipal (or the server at
	// MaxSessions) opens another session, closes the caller's least
	// recently used idle session (no request in flight, no open stream) to
	// make room, and refuses only when none is idle. The closed session is
	// reported with ReasonEvicted. Default false: the new initialize is
	// refused.
	EvictIdle bool
	// IdleTimeout closes a session that has had no request in flight and
	// no open stream for this long. Default 10 minutes. It must be shorter
	// than MaxAge.
	IdleTimeout time.Duration
	// MaxAge closes a session this long after it opened, busy or not.
	// Default 8 hours.
	MaxAge time.Duration
	// MaxStreamsPerSession bounds the concurrent GET (server-sent event)
	// streams of one session. Default 2. The SDK itself serves one
	// standalone stream per session: a second concurrent GET without
	// Last-Event-ID gets 409 from it (reported with the reason
	// "invalid_argument") before this bound is reached; the bound counts
	// every GET, resumptions included.
	MaxStreamsPerSession int
	// MaxInFlightPerSession bounds the POST requests of one session being
	// served at once, so one session cannot hold every handler goroutine.
	// Each message of a JSON-RPC batch (protocol versions before
	// 2025-06-18) counts as one request, and a batch of more messages is
	// refused with 400, in stateless mode too. Default 16.
	MaxInFlightPerSession int
	// MaxSubscriptionsPerSession bounds the distinct resources one session
	// is subscribed to. Default 64.
	MaxSubscriptionsPerSession int
	// RetryAfter is the wait a refused client is given. Default 5s.
	RetryAfter time.Duration
}

// Config configures [New]. Every zero field means the stated default.
type Config struct {
	// Stateless serves every request with a temporary session (see
	// mcp.StreamableHTTPOptions.Stateless and [SessionLimits]).
	Stateless bool
	// JSONResponse answers POSTs with application/json instead of an
	// event stream.
	JSONResponse bool
	// Logger receives the SDK's transport log. Default: none.
	Logger *slog.Logger

	// Verifier checks bearer tokens: auth.TokenVerifier(v) for a bulwark
	// auth.Verifier (API keys, JWT). Nil means no authentication.
	Verifier sdkauth.TokenVerifier
	// Resource is this server's resource identifier, the absolute URL of
	// its MCP endpoint ("https://mcp.example.com/mcp"). With a Verifier it
	// is required: the protected resource metadata (RFC 9728) is served at
	// /.well-known/oauth-protected-resource and at that path followed by
	// the endpoint's path, and 401 challenges point there.
	Resource string
	// Metadata is the protected resource metadata to serve. Default: one
	// naming Resource, Scopes as scopes_supported and the header as the
	// only bearer method. Its Resource is set to Resource when empty.
	Metadata *oauthex.ProtectedResourceMetadata
	// Scopes every request's token must hold (403 insufficient_scope
	// otherwise). Per-tool scopes belong to the auth.Guard's Middleware and, for
	// step-up over HTTP, guard.HTTPToolPolicies in Authorize.
	Scopes []string
	// Authorize is HTTP middleware run after the bearer check and the body
	// read, with the verified token in the request context
	// (an auth.Guard's HTTPToolPolicies, for example). Its refusals are reported like
	// the edge's own.
	Authorize func(http.Handler) http.Handler

	// AllowedOrigins are the browser origins ("https://app.example.com")
	// allowed to call the server besides its own. A request with any other
	// Origin header gets 403; a request without one (a program, not a
	// browser page) is allowed, and so is a same-origin request: the
	// Origin's scheme is the request's (https over TLS, http otherwise)
	// and its host and port are the request's Host, which the Host check
	// has already accepted, or the Origin is that of Resource (the public
	// URL, also behind a proxy that ends TLS). Default: none, so no page
	// of another origin can call the server.
	AllowedOrigins []string
	// AllowedHosts are Host names accepted on a loopback listener besides
	// loopback names: the public name of a reverse proxy on the same
	// machine ("mcp.example.com"). Any other Host there gets 403 (DNS
	// rebinding). Setting it hands the SDK's own loopback check to the
	// edge, which applies the same rule with these names allowed. Default:
	// none.
	AllowedHosts []string
	// MaxBodyBytes bounds a request body (413 over it). Default 4 MiB.
	MaxBodyBytes int64
	// BodyTimeout bounds the time to receive a request body once its
	// headers are in: a client that trickles a body would otherwise hold a
	// goroutine and a connection for as long as it likes (the server's
	// ReadTimeout cannot serve here, since it would cut event streams).
	// Over it the request gets 408. Default 30s; negative means no bound.
	BodyTimeout time.Duration
	// Limits bounds sessions, streams, requests in flight and
	// subscriptions; its zero value takes the defaults stated on each field.
	Limits SessionLimits

	// Observers are told about every refused request and every session
	// opened and closed: typically the audit logger and the metrics
	// engine.
	Observers []Observer
	// Clock drives the idle and age timeouts. Default the system clock.
	Clock bulwark.Clock
}

// Handler serves one MCP server over streamable HTTP behind the edge's
// checks. Create it with [New]; it is an http.Handler. Close it to stop its
// session janitor and close the sessions it holds.
type Handler struct {
	cfg       Config
	lim       SessionLimits
	clock     bulwark.Clock
	sdk       *mcp.StreamableHTTPHandler
	inner     http.Handler // bearer → body → Authorize → gate → SDK
	metadata  http.Handler
	mdPaths   map[string]bool
	origins   map[string]bool
	hosts     map[string]bool
	observers []Observer
	t         *tracker

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New puts server on streamable HTTP behind the edge: Host and Origin
// checks, the body limit, bearer authentication with its RFC 9728
// metadata, and the transport bounds of [SessionLimits]. Every request it refuses, whoever
// refused it (the edge, Authorize or the SDK inside), is reported exactly
// once to cfg.Observers, and so is every session that opens and closes.
//
// New adds a receiving middleware to server (it learns new sessions and
// bounds resource subscriptions). Invalid configuration is an error.
func New(server *mcp.Server, cfg Config) (*Handler, error) {
	if server == nil {
		return nil, errors.New("edge: nil server")
	}
	lim, err := resolve(cfg.Limits)
	if err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, errors.New("edge: MaxBodyBytes must not be negative")
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = defaultBodyTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	if cfg.Clock == nil {
		cfg.Clock = sysclock.Clock{}
	}
	h := &Handler{
		cfg:       cfg,
		lim:       lim,
		clock:     cfg.Clock,
		origins:   make(map[string]bool, len(cfg.AllowedOrigins)),
		hosts:     make(map[string]bool, len(cfg.AllowedHosts)),
		observers: append([]Observer(nil), cfg.Observers...),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, o := range cfg.AllowedOrigins {
		norm, ok := normOrigin(o)
		if !ok {
			return nil, fmt.Errorf("edge: AllowedOrigins: %q is not an origin (scheme://host[:port])", o)
		}
		h.origins[norm] = true
	}
	if u, err := url.Parse(cfg.Resource); err == nil && u.IsAbs() && u.Host != "" {
		// The origin of the server's public URL is its own, also behind a
		// proxy that ends TLS (where requests arrive over plain http).
		if norm, ok := normOrigin(u.Scheme + "://" + u.Host); ok {
			h.origins[norm] = true
		}
	}
	for _, host := range cfg.AllowedHosts {
		if host == "" || strings.ContainsAny(host, "/:@ ") {
			return nil, fmt.Errorf("edge: AllowedHosts: %q is not a host name", host)
		}
		h.hosts[strings.ToLower(host)] = true
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h.sdk = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{
		Stateless:           cfg.Stateless,
		JSONResponse:        cfg.JSONResponse,
		Logger:              logger,
		MaxRequestBodyBytes: cfg.MaxBodyBytes,
		// With AllowedHosts the edge's check replaces the SDK's, which
		// knows no exceptions.
		DisableLocalhostProtection: len(h.hosts) > 0,
		// Idle and age timeouts are the edge's, so it knows why a
		// session closed.
	})
	h.t = newTracker(h, server)
	var gate http.Handler = http.HandlerFunc(h.gate)
	if cfg.Authorize != nil {
		gate = cfg.Authorize(gate)
	}
	h.inner = h.readBody(gate)
	if cfg.Verifier != nil {
		if err := h.setupAuth(); err != nil {
			return nil, err
		}
	}
	server.AddReceivingMiddleware(h.t.middleware)
	if cfg.Stateless {
		close(h.done)
	} else {
		go h.t.janitor()
	}
	return h, nil
}

func resolve(l SessionLimits) (SessionLimits, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxSessions, defaultMaxSessions)
	def(&l.MaxSessionsPerPrincipal, defaultMaxSessionsPerPrincipal)
	def(&l.MaxStreamsPerSession, defaultMaxStreamsPerSession)
	def(&l.MaxInFlightPerSession, defaultMaxInFlightPerSession)
	def(&l.MaxSubscriptionsPerSession, defaultMaxSubscriptionsPerSession)
	if l.IdleTimeout == 0 {
		l.IdleTimeout = defaultIdleTimeout
	}
	if l.MaxAge == 0 {
		l.MaxAge = defaultMaxAge
	}
	if l.RetryAfter == 0 {
		l.RetryAfter = defaultRetryAfter
	}
	if l.RetryAfter < 0 {
		return l, errors.New("edge: Limits.RetryAfter must not be negative")
	}
	if l.IdleTimeout > 0 && l.MaxAge > 0 && l.IdleTimeout >= l.MaxAge {
		return l, fmt.Errorf("edge: Limits.IdleTimeout (%v) must be shorter than MaxAge (%v)", l.IdleTimeout, l.MaxAge)
	}
	return l, nil
}

func (h *Handler) setupAuth() error {
	u, err := url.Parse(h.cfg.Resource)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("edge: Resource must be the absolute URL of the MCP endpoint when Verifier is set")
	}
	base := u.Scheme + "://" + u.Host
	const wk = "/.well-known/oauth-protected-resource"
	path := strings.TrimSuffix(u.Path, "/")
	metadataURL := base + wk + path
	h.mdPaths = map[string]bool{wk: true, wk + path: true}
	md := oauthex.ProtectedResourceMetadata{
		ScopesSupported:        h.cfg.Scopes,
		BearerMethodsSupported: []string{"header"},
	}
	if h.cfg.Metadata != nil {
		md = *h.cfg.Metadata
	}
	if md.Resource == "" {
		md.Resource = h.cfg.Resource
	}
	h.metadata = sdkauth.ProtectedResourceMetadataHandler(&md)
	// The verified caller is noted as soon as the token verifies, so a
	// request the bearer check still refuses (a missing scope, an expired
	// token) is reported with its principal.
	verify := func(ctx context.Context, token string, r *http.Request) (*sdkauth.TokenInfo, error) {
		ti, err := h.cfg.Verifier(ctx, token, r)
		if err == nil && ti != nil && ti.UserID != "" && r != nil {
			if st := stateFrom(r.Context()); st != nil {
				st.principal = principalName(ti)
			}
		}
		return ti, err
	}
	h.inner = sdkauth.RequireBearerToken(verify, &sdkauth.RequireBearerTokenOptions{
		ResourceMetadataURL: metadataURL,
		Scopes:              h.cfg.Scopes,
	})(h.inner)
	return nil
}

// Close stops the session janitor and closes every session the handler
// holds (reported with ReasonClosed). Call it after the HTTP server has
// stopped taking requests.
func (h *Handler) Close() error {
	h.closeOnce.Do(func() {
		close(h.stop)
		<-h.done
		h.t.closeAll()
	})
	return nil
}

// Sessions returns the number of sessions the handler holds now.
func (h *Handler) Sessions() int { return h.t.open() }

// reqState is what the layers of one request learn, for its report.
type reqState struct {
	principal string // the verified caller's ID
	key       string // the session-cap key: principal, or client address
	method    string
	id        json.RawMessage
	batch     int  // messages in a JSON-RPC batch body; 0 for one message
	bodyRead  bool // the body has been (or is being) read
	session   string
	refusal   *Event // set by the edge when it refuses itself
	w         *statusWriter
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	st := &reqState{session: r.Header.Get("Mcp-Session-Id"), w: sw}
	// A refusal written before the body was read (Host, Origin, bearer
	// token) still names the JSON-RPC method: the first bytes of the body
	// are read just before the refusal goes out.
	sw.beforeError = func() { h.peekMethod(sw, r, st) }
	ctx := context.WithValue(r.Context(), stateKey{}, st)
	r = r.WithContext(ctx)
	h.serve(sw, r, st)
	h.report(ctx, r, sw, st)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, st *reqState) {
	if !h.hostAllowed(r) {
		h.refuse(w, st, ReasonHost, http.StatusForbidden, bulwark.CodePermissionDenied, "invalid Host header", 0)
		return
	}
	if h.metadata != nil && h.mdPaths[r.URL.Path] {
		// Public (any origin may read it), but only under a Host the
		// server answers to, and a refused request there (405 for a
		// method other than GET) is reported like any other.
		h.metadata.ServeHTTP(w, r)
		return
	}
	origin := r.Header.Get("Origin")
	if origin != "" || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		norm, ok := normOrigin(origin)
		if !ok || !(h.origins[norm] || sameOrigin(norm, r)) {
			h.refuse(w, st, ReasonOrigin, http.StatusForbidden, bulwark.CodePermissionDenied, "origin not allowed", 0)
			return
		}
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Add("Vary", "Origin")
		hd.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate")
		if r.Method == http.MethodOptions {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID")
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	st.key = "ip:" + remoteHost(r)
	h.inner.ServeHTTP(w, r)
}

// readBody notes the verified caller, then reads a POST body (up to the
// limit, 413 beyond) and the JSON-RPC method and ID in it, and hands the
// rest of the chain the same bytes.
func (h *Handler) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		if ti := sdkauth.TokenInfoFromContext(r.Context()); ti != nil && ti.UserID != "" {
			st.principal = principalName(ti)
			st.key = "p:" + ti.UserID
		}
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		limit := h.cfg.MaxBodyBytes
		if r.ContentLength > limit {
			h.refuse(w, st, ReasonBodyTooLarge, http.StatusRequestEntityTooLarge, bulwark.CodeInvalidArgument,
				fmt.Sprintf("request body exceeds %d bytes", limit), 0)
			return
		}
		st.bodyRead = true
		var rc *http.ResponseController
		if h.cfg.BodyTimeout > 0 {
			// Connection deadlines are wall-clock time, whatever Clock says.
			rc = http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout))
		}
		buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The deadline stays, and the connection closes after the
			// answer: net/http would otherwise try to drain the rest of
			// the body before answering, waiting on the same client.
			w.Header().Set("Connection", "close")
			h.refuse(w, st, "", http.StatusRequestTimeout, bulwark.CodeInvalidArgument,
				fmt.Sprintf("request body not received within %s", h.cfg.BodyTimeout), 0)
			return
		}
		if err != nil {
			h.refuse(w, st, "", http.StatusBadRequest, bulwark.CodeInvalidArgument, "failed to read body", 0)
			return
		}
		if rc != nil {
			_ = rc.SetReadDeadline(time.Time{})
		}
		if int64(len(buf)) > limit {
			st.method = methodOf(buf[:min(len(buf), peekBytes)])
			h.refuse(w, st, ReasonBodyTooLarge, http.StatusRequestEntityTooLarge, bulwark.CodeInvalidArgument,
				fmt.Sprintf("request body exceeds %d bytes", limit), 0)
			return
		}
		if st.batch = batchLen(buf); st.batch > 0 && h.lim.MaxInFlightPerSession > 0 && st.batch > h.lim.MaxInFlightPerSession {
			// Every message of a batch runs at once: a longer batch
			// than the in-flight bound would hold more than it allows.
			h.refuse(w, st, "", http.StatusBadRequest, bulwark.CodeInvalidArgument,
				fmt.Sprintf("a batch of %d messages exceeds the %d this server serves at once; send fewer", st.batch, h.lim.MaxInFlightPerSession), 0)
			return
		}
		var msg struct {
			Method string          `json:"method"`
			ID     json.RawMessage `json:"id"`
		}
		if json.Unmarshal(buf, &msg) == nil {
			st.method = cut(msg.Method, 64)
			if len(msg.ID) <= 64 {
				st.id = msg.ID
			}
		} else {
			st.method = methodOf(buf[:min(len(buf), peekBytes)])
		}
		r.Body = io.NopCloser(bytes.NewReader(buf))
		r.ContentLength = int64(len(buf))
		next.ServeHTTP(w, r)
	})
}

// peekBytes is how much of a body is read to name the method of a request
// refused before its body was read: a JSON-RPC message names it in its
// first bytes.
const peekBytes = 4 << 10

// peekMethod notes the JSON-RPC method of a POST about to be refused
// before its body was read, from the body's first bytes, read within
// BodyTimeout (at most a second). net/http would read and discard that much
// of an unread body after the answer anyway.
func (h *Handler) peekMethod(w *statusWriter, r *http.Request, st *reqState) {
	if st.method != "" || st.bodyRead || r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
		return
	}
	st.bodyRead = true
	wait := time.Second
	if h.cfg.BodyTimeout > 0 {
		wait = min(wait, h.cfg.BodyTimeout)
	}
	rc := http.NewResponseController(w.ResponseWriter)
	_ = rc.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, peekBytes)
	n, err := io.ReadFull(r.Body, buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
	} else {
		_ = rc.SetReadDeadline(time.Time{})
	}
	st.method = methodOf(buf[:n])
}

// methodOf returns the "method" of the JSON-RPC message that body (whole,
// or its first bytes) starts, cut to 64 bytes; "" for a batch or anything
// else.
func methodOf(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return ""
		}
		if k == "method" {
			var m string
			if dec.Decode(&m) != nil {
				return ""
			}
			return cut(m, 64)
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

// batchLen is the number of messages of a JSON-RPC batch body, 0 when the
// body is not a JSON array (one message, or malformed: the SDK answers).
func batchLen(body []byte) int {
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) == 0 || b[0] != '[' {
		return 0
	}
	var msgs []json.RawMessage
	if json.Unmarshal(body, &msgs) != nil {
		return 0
	}
	return len(msgs)
}

// refuse answers with status and a JSON-RPC error body a client can read,
// and notes the refusal for the report. An empty reason is the code's.
func (h *Handler) refuse(w http.ResponseWriter, st *reqState, reason Reason, status int, code bulwark.Code, msg string, retryAfter time.Duration) {
	if reason == "" {
		reason = Reason(code)
	}
	st.refusal = &Event{Reason: reason, Status: status, Code: code, Message: msg, RetryAfter: retryAfter}
	rpcCode := rpcCodeOf(code)
	data := bulwark.Refusal{Code: code, Message: msg}
	if retryAfter > 0 {
		secs := int((retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		data.RetryAfterSeconds = secs
	}
	raw, _ := json.Marshal(data)
	id := json.RawMessage("null")
	if len(st.id) > 0 {
		id = st.id
	}
	body, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   jsonrpc.Error   `json:"error"`
	}{"2.0", id, jsonrpc.Error{Code: rpcCode, Message: msg, Data: raw}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// report tells the observers about a refused request, exactly once.
func (h *Handler) report(ctx context.Context, r *http.Request, sw *statusWriter, st *reqState) {
	e := st.refusal
	if e == nil {
		reason, ok := sw.classify()
		if !ok {
			return
		}
		e = &Event{Reason: reason, Status: sw.status, Code: codeOf(sw.status), Message: refusalMessage(sw.head)}
		if ra, err := strconv.Atoi(sw.Header().Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(ra) * time.Second
		}
	}
	e.Kind = EventRefused
	e.Time = h.clock.Now()
	e.Principal, e.Session, e.Method, e.HTTPMethod = st.principal, st.session, st.method, r.Method
	h.emit(ctx, *e)
}

// refusalMessage is what a refusal someone else wrote told the client: the
// message of a JSON-RPC error body (not the request ID it echoes first), or
// the first bytes of a plain-text body.
func refusalMessage(head []byte) string {
	var m struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(head, &m) == nil && m.Error != nil && m.Error.Message != "" {
		return cut(m.Error.Message, headBytes)
	}
	return cut(strings.TrimSpace(string(head)), headBytes)
}

// rpcCodeOf is the JSON-RPC code of an edge refusal: bulwark's own for a
// bound (rate_limited, unavailable), as a layer's refusal of those codes
// would have, and invalid request for the rest, which refuse the HTTP
// request rather than a call.
func rpcCodeOf(code bulwark.Code) int64 {
	switch code {
	case bulwark.CodeRateLimited:
		return bulwark.CodeRateLimited.RPCCode()
	case bulwark.CodeUnavailable:
		return bulwark.CodeUnavailable.RPCCode()
	}
	return jsonrpc.CodeInvalidRequest
}

func codeOf(status int) bulwark.Code {
	switch {
	case status == http.StatusUnauthorized:
		return bulwark.CodeUnauthenticated
	case status == http.StatusForbidden:
		return bulwark.CodePermissionDenied
	case status == http.StatusTooManyRequests:
		return bulwark.CodeRateLimited
	case status == http.StatusServiceUnavailable:
		return bulwark.CodeUnavailable
	case status >= 500:
		return bulwark.CodeInternal
	}
	return bulwark.CodeInvalidArgument
}

func (h *Handler) emit(ctx context.Context, e Event) {
	for _, o := range h.observers {
		o.ObserveEdge(ctx, e)
	}
}

// hostAllowed mirrors the SDK's DNS-rebinding rule, so the refusal is the
// edge's (and checked before authentication): on a loopback listener the
// Host must be loopback too, or one of AllowedHosts. Without AllowedHosts
// the SDK's own check stays on behind it.
func (h *Handler) hostAllowed(r *http.Request) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || la == nil || !isLoopback(la.String()) || isLoopback(r.Host) {
		return true
	}
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	return h.hosts[strings.ToLower(host)]
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// normOrigin returns an origin in the form browsers send it, lower-cased,
// without a default port.
func normOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host, true
}

// principalName is how records name the caller of ti: the ID of the
// bulwark.Principal that auth.TokenVerifier puts in ti.Extra, as call
// records name it, else the UserID. Bounds key on the UserID, which also
// says how the caller authenticated.
func principalName(ti *sdkauth.TokenInfo) string {
	for _, v := range ti.Extra {
		if p, ok := v.(*bulwark.Principal); ok && p != nil && p.ID != "" {
			return p.ID
		}
	}
	return ti.UserID
}

// sameOrigin reports whether the normalized origin is the request's own:
// the scheme it came in with (https over TLS, http otherwise) and the host
// it was sent to, so a page the server itself served. A page served over
// plain http under the server's name (by whoever can tamper with plain
// http) is not the https server's origin. A DNS-rebinding page carries its
// own name in both headers, which the Host check refuses on a loopback
// listener; elsewhere its name differs from the server's. Behind a proxy
// that ends TLS, the public origin is Config.Resource's, or one of
// AllowedOrigins.
func sameOrigin(norm string, r *http.Request) bool {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	want, ok := normOrigin(scheme + "://" + r.Host)
	return ok && norm == want
}

func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// cut shortens client-supplied text to at most n bytes of valid UTF-8.
func cut(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

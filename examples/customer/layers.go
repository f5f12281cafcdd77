package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/auth/jwtauth"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/rediscache"
	"github.com/bulwark-mcp/bulwark/deprecation"
	"github.com/bulwark-mcp/bulwark/health"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/pgidem"
	"github.com/bulwark-mcp/bulwark/idempotency/redisidem"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/ratelimit/redislimit"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// layers holds the bulwark layers of the server, in the library's default
// order (outermost first):
//
//	audit → recover → metrics → auth → validate → ratelimit/concurrency →
//	timeout → cache → breaker → retry → handler
//
// plus tracing inside audit, the drain layer inside recover (refusing new
// calls during shutdown), deprecation notices inside metrics, tool pinning
// inside auth, the loop, budget and output limits inside the rate limits,
// and idempotency keys inside the breaker (see buildLayers). With BULWARK_DISABLE=1 or -bare every bulwark layer is
// off (the tools are served by the SDK alone), which is how the load test
// measures their cost; dependencies then get only their deadlines.
type layers struct {
	// chain is the layers in order, appended as built (nil: left out);
	// pinAt is the pin layer's place, which pinTools fills (agent.go).
	chain []bulwark.Middleware
	pinAt int

	bare bool

	// Engines, for the edge, the policy, the demo and tests.
	metricsEngine        *metrics.Metrics
	usage                *deprecation.Usage
	redis                *redis.Client
	limitStore           ratelimit.Store // nil: each limiter's own, in memory
	cacheEngine          *cache.Cache
	pgBreaker, upBreaker *breaker.Breaker
	auditLog             *audit.Logger
	policy               *policy.Engine // nil without POLICY_FILE

	// verifier checks bearer tokens on HTTP; nil means no authentication.
	verifier auth.Verifier
}

// use appends layers to the chain.
func (l *layers) use(mws ...bulwark.Middleware) { l.chain = append(l.chain, mws...) }

// buildLayers assembles every layer from the configuration, in chain order.
func buildLayers(ctx context.Context, s *Server, opts Options) (*layers, error) {
	cfg := s.cfg
	l := &layers{bare: cfg.Bare, usage: &deprecation.Usage{}}
	if cfg.RedisURL != "" {
		ro, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, &ConfigError{Var: "REDIS_URL", Reason: "not a valid Redis URL (value not shown)"}
		}
		ro.ContextTimeoutEnabled = true
		ro.DialTimeout = 2 * time.Second
		ro.ReadTimeout = 2 * time.Second
		ro.WriteTimeout = 2 * time.Second
		l.redis = redis.NewClient(ro)
		s.onClose(func(context.Context) error { return l.redis.Close() })
	}
	if l.bare {
		s.log.Warn("BULWARK_DISABLE: every protection layer is off; for load comparison only")
		l.use(s.drain.Middleware())
		return l, nil
	}

	// metrics (audit reports its failures there), and the calls to deprecated
	// tools, so owners see who still depends on one before its sunset.
	m, err := metrics.New(s.registry, metrics.Config{Tools: slices.Collect(maps.Keys(toolScopes))})
	if err != nil {
		return nil, err
	}
	l.metricsEngine = m
	s.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "customer_deprecated_tool_calls_total", Help: "Calls to deprecated tools, by tool.",
		ConstLabels: prometheus.Labels{"tool": toolLookupCustomer},
	}, func() float64 { return float64(l.usage.Count(toolLookupCustomer)) }))

	// audit: outermost, one chained record per call.
	if err := l.buildAudit(s, opts, m); err != nil {
		return nil, err
	}
	// tracing (otel.go), when an OTLP endpoint is configured.
	otel, err := setupTracing(ctx, s)
	if err != nil {
		return nil, err
	}
	// recover turns panics into "internal error (id …)"; drain refuses new
	// calls during shutdown.
	l.use(otel, bulwark.Recover(s.log), s.drain.Middleware(), metrics.Middleware(m), deprecation.Middleware(l.usage))

	if err := l.buildAuth(ctx, s); err != nil {
		return nil, err
	}
	l.pinAt = len(l.chain)
	l.use(nil)

	// validate: size, depth, UTF-8 and control characters, then the
	// schemas (patterns, lengths, format: email), before anything costs.
	l.use(validate.Middleware(validate.Config{}))
	if err := validate.CompileSchemas(toolDefsList()...); err != nil {
		return nil, fmt.Errorf("tool schemas: %w", err)
	}

	// ratelimit: RATE_LIMIT calls per principal per minute, shared
	// through Redis when REDIS_URL is set.
	if l.redis != nil {
		if l.limitStore, err = redislimit.New(l.redis, redislimit.Config{Prefix: cfg.RedisPrefix + "rl:", Timeout: time.Second}); err != nil {
			return nil, err
		}
	}
	limiter, err := ratelimit.NewLimiter(l.limitStore, ratelimit.Config{
		Name:  "per-principal",
		Key:   ratelimit.ByPrincipal,
		Limit: bulwark.Fixed(ratelimit.PerMinute(cfg.RateLimit)),
	})
	if err != nil {
		return nil, &ConfigError{Var: "RATE_LIMIT", Reason: err.Error()}
	}
	// The policy file's layers (policy.go) around it.
	if err := l.buildPolicy(ctx, s, ratelimit.Middleware(limiter)); err != nil {
		return nil, err
	}
	// Bulkhead: bounded work in progress per caller, so slow calls cannot
	// pile up without end.
	conc, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{PerPrincipal: 32, PerTool: 256, MaxWait: 100 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	l.use(ratelimit.ConcurrencyMiddleware(conc))

	// loop, budget and output limits (agent.go).
	if err := l.buildAgentLayers(s); err != nil {
		return nil, err
	}

	// timeout: bounds the whole miss path, retries included. A tool the
	// policy file sets no timeout for keeps TOOL_TIMEOUT. bulwark.Deadline,
	// not bulwark.Timeout: every wait below honours the call's context (pgx
	// through pgcall, the loyalty HTTP client, the cache's and the
	// idempotency store's waits, retry's backoff), so the call ends at its
	// deadline on its own goroutine, without a goroutine, channel and timer
	// of its own. A handler that could block without its context would
	// need bulwark.Timeout.
	timeout := bulwark.Fixed(cfg.ToolTimeout)
	if l.policy != nil {
		timeout = policy.Value(l.policy, func(t *policy.Terms) time.Duration { return cmp.Or(t.Timeout, cfg.ToolTimeout) })
	}
	l.use(bulwark.Deadline(timeout))

	// cache: read-only tools, per principal, invalidated by writes.
	if cfg.EnableCache {
		var cstore cache.Store
		if l.redis != nil {
			cstore, err = rediscache.New(l.redis, rediscache.Config{Prefix: cfg.RedisPrefix + "cache:"})
		} else {
			cstore, err = cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 50_000})
		}
		if err != nil {
			return nil, err
		}
		customerTag := cache.ArgTag("customer", "customer_id")
		searchTag := func(context.Context, *mcp.CallToolRequest) []string { return []string{"customers:search"} }
		writeTags := func(ctx context.Context, req *mcp.CallToolRequest) []string {
			// A write to one customer changes that customer's entries and
			// any search page that might list them.
			return append(customerTag(ctx, req), "customers:search")
		}
		l.cacheEngine, err = cache.New(cstore, cache.Config{
			StaleFor: cfg.CacheStaleFor,
			Logger:   s.log,
			// The overview is a live view across two systems, and a
			// partial answer must not outlive the outage that caused it.
			TTL:         bulwark.ByTool(cfg.CacheTTL, map[string]time.Duration{toolOverview: 0}),
			Tags:        map[string]cache.TagFunc{toolGetCustomer: customerTag, toolLookupCustomer: customerTag, toolSearchCustomers: searchTag},
			Invalidates: map[string]cache.TagFunc{toolUpdateEmail: writeTags, toolAddNote: writeTags},
			// Clients and the load test tell hits from misses.
			ReportStatus: true,
		})
		if err != nil {
			return nil, err
		}
		l.use(cache.Middleware(l.cacheEngine))
	}

	// breaker: one per tool in the chain, and one per dependency inside
	// the handlers (PostgreSQL, the loyalty service).
	bs := breaker.Config{OpenFor: cfg.BreakerOpenFor, TripAfter: cfg.BreakerTripAfter}
	breakers, _ := breaker.NewSet()
	if l.pgBreaker, err = breakers.New("postgres", bs); err != nil {
		return nil, &ConfigError{Var: "BREAKER_OPEN_FOR", Reason: err.Error()}
	}
	if l.upBreaker, err = breakers.New("loyalty", bs); err != nil {
		return nil, err
	}
	// The tool breakers do not count unavailable refusals: those come from
	// the dependency breakers above (or name a dependency that is down),
	// which already guard PostgreSQL and the loyalty service; counted here
	// too, a tool would stay closed for an OpenFor of its own after its
	// dependency recovered.
	toolBreakers := bs
	toolBreakers.IsFailure = func(o bulwark.Outcome) bool {
		return o != bulwark.Outcome(bulwark.CodeUnavailable) && breaker.DefaultIsFailure(o)
	}
	toolBreaker, err := breakers.PerTool(toolBreakers)
	if err != nil {
		return nil, err
	}
	l.use(toolBreaker)
	breakers.OnStateChange(func(ctx context.Context, e breaker.StateChange) {
		m.SetBreakerState(e.Name, string(e.To))
		s.log.Warn("breaker state changed", "breaker", e.Name, "from", string(e.From), "to", string(e.To))
	})
	// idempotency keys: add_customer_note runs once per (principal, key)
	// under retries and duplicates; the stored result is replayed.
	var istore idempotency.Store
	switch {
	case cfg.IdempotencyStore == "memory":
		istore, err = idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	case cfg.IdempotencyStore == "redis" || (cfg.IdempotencyStore == "" && l.redis != nil):
		if l.redis == nil {
			return nil, &ConfigError{Var: "IDEMPOTENCY_STORE", Reason: "redis needs REDIS_URL"}
		}
		istore, err = redisidem.New(l.redis, redisidem.Config{Prefix: cfg.RedisPrefix + "idem:"})
	default:
		istore, err = pgidem.New(s.store.write, pgidem.Config{})
	}
	if err != nil {
		return nil, err
	}
	once, err := idempotency.New(istore, idempotency.Config{RequireKey: true, PendingTTL: 2 * cfg.ToolTimeout, Wait: cfg.ToolTimeout})
	if err != nil {
		return nil, err
	}
	l.use(bulwark.Only(bulwark.ToolNames(toolAddNote), once))

	// retry, in the chain, covers whole calls to read-only and idempotent
	// tools (and keyed ones). Retries happen at one level: a handler that
	// calls a dependency through Retrier.Do (dependencies, below) is not
	// repeated, so attempts never multiply (the audit record shows
	// attempts and dependency_attempts).
	tools, err := retry.New(retry.Config{MaxAttempts: 2})
	if err != nil {
		return nil, err
	}
	l.use(retry.Middleware(tools))
	return l, nil
}

// buildAudit opens the audit trail: AUDIT_LOG names a file (a chained,
// verifiable trail; see cmd/bulwark-audit) or "stderr" (JSON lines for a
// log pipeline). Records are chained with AUDIT_HMAC_KEY; without one
// (development only) a random key is used, which makes the trail
// verifiable only within this process's lifetime.
func (l *layers) buildAudit(s *Server, opts Options, m *metrics.Metrics) error {
	cfg := s.cfg
	key := cfg.AuditHMACKey
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		s.log.Warn("AUDIT_HMAC_KEY is not set: the audit chain uses a random key for this run only")
	}
	var sink audit.Sink
	var err error
	switch {
	case opts.AuditOut != nil:
		sink = audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
			_, err := opts.AuditOut.Write(append(r.Line(), '\n'))
			return err
		})
	case cfg.AuditTable != "":
		// Every instance of a fleet appends to the same table, each
		// under its own hash chain (the sink names the instance).
		sink, err = pgaudit.New(s.store.write, pgaudit.Config{Table: cfg.AuditTable})
	case cfg.AuditLog == "" || cfg.AuditLog == "stderr":
		sink = audit.NewSlogSink(slog.New(slog.NewJSONHandler(stderr, nil)))
	default:
		// The Logger closes the file when it closes.
		sink, err = audit.OpenFile(cfg.AuditLog, audit.FileConfig{SyncInterval: 100 * time.Millisecond})
	}
	if err != nil {
		return &ConfigError{Var: "AUDIT_LOG", Reason: err.Error()}
	}
	al, err := audit.New(sink, key, audit.Config{
		BufferSize: 1024,
		Log:        s.log,
		OnAlert: func(a audit.Alert) {
			s.log.Error("audit sink", "kind", string(a.Kind), "buffered", a.Buffered)
		},
	})
	if err != nil {
		return &ConfigError{Var: "AUDIT_HMAC_KEY", Reason: err.Error()}
	}
	l.auditLog = al
	m.WatchAuditFailures(func() uint64 { return al.Stats().Failures })
	// Closed (and so flushed) after the server stops taking calls and
	// before the sink closes: onClose runs in reverse order.
	s.onClose(func(ctx context.Context) error { return al.Close(ctx) })
	l.use(audit.Middleware(al))
	return nil
}

// dependencies returns the guard of each external system the handlers
// call: PostgreSQL, whose attempt gets the statement timeout plus room for
// the round trip, and the loyalty service. Attempts retry, with
// full-jitter backoff and a budget, inside the system's breaker; every
// database operation of the tools is idempotent (reads; setting an email;
// a note keyed by its idempotency key), so a retried statement cannot
// duplicate a write. The bare server makes one attempt, bounded by the
// same deadline.
func (l *layers) dependencies(cfg *Config) (db, loyalty *retry.Retrier, err error) {
	dbc := retry.Config{PerAttemptTimeout: cfg.DB.StatementTimeout + 500*time.Millisecond, Breaker: l.pgBreaker}
	upc := retry.Config{PerAttemptTimeout: 2 * time.Second, Cap: 500 * time.Millisecond, Breaker: l.upBreaker}
	if l.bare {
		dbc.MaxAttempts, upc.MaxAttempts = 1, 1
	}
	if db, err = retry.New(dbc); err != nil {
		return nil, nil, err
	}
	loyalty, err = retry.New(upc)
	return db, loyalty, err
}

// buildAuth configures authentication and per-tool authorization: API
// keys from API_KEYS_FILE, JWTs from JWT_ISSUER/JWT_AUDIENCE/JWKS_URL, the
// stdio identity from MCP_API_KEY, and the scopes of toolScopes. Without
// any credential source (development only: production refuses to start)
// the layer is left out and a warning says so.
func (l *layers) buildAuth(ctx context.Context, s *Server) error {
	cfg := s.cfg
	if !cfg.HasAuth() {
		s.log.Warn("authentication is OFF: set API_KEYS_FILE or JWT_ISSUER/JWT_AUDIENCE/JWKS_URL (production refuses to start without)")
		return nil
	}
	var keys *auth.APIKeys
	if cfg.APIKeysFile != "" {
		entries, err := auth.LoadKeyFile(cfg.APIKeysFile)
		if err == nil {
			keys, err = auth.NewAPIKeys(entries...)
		}
		if err != nil {
			return &ConfigError{Var: "API_KEYS_FILE", Reason: err.Error()}
		}
	}
	var jwtv *jwtauth.Verifier
	if cfg.JWKSURL != "" {
		var err error
		jwtv, err = jwtauth.New(jwtauth.Config{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, JWKSURL: cfg.JWKSURL, Logger: s.log})
		if err != nil {
			return &ConfigError{Var: "JWKS_URL", Reason: err.Error()}
		}
		s.onClose(func(context.Context) error { return jwtv.Close() })
	}
	// API keys carry a recognisable prefix; everything else is a JWT. One
	// of the two is configured (HasAuth).
	l.verifier = auth.VerifierFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		if jwtv != nil && (keys == nil || !strings.HasPrefix(token, "bwk_")) {
			return jwtv.Verify(ctx, token)
		}
		return keys.Verify(ctx, token)
	})

	authCfg := auth.Config{
		Policies:         scopePolicies(toolScopes),
		ResourcePolicies: scopePolicies(resourceScopes),
		PromptPolicies:   scopePolicies(promptScopes),
		DenyUnlisted:     true,
	}
	if cfg.StdioAPIKey != "" {
		// stdio: the credential comes from the environment and is
		// verified now, so a bad key stops the start.
		p, err := l.verifier.Verify(ctx, cfg.StdioAPIKey)
		if err != nil {
			return &ConfigError{Var: "MCP_API_KEY", Reason: "the key is not valid for API_KEYS_FILE (value not shown)"}
		}
		cp := *p
		cp.Method = "environment"
		authCfg.StaticPrincipal = &cp
	}
	// One Guard, in the chain, decides the calls and filters the lists.
	guard, err := auth.New(authCfg)
	if err != nil {
		return err
	}
	l.use(guard.Middleware())
	return nil
}

// scopePolicies turns a map of name to required scope into policies.
func scopePolicies(scopes map[string]string) auth.Policies {
	p := make(auth.Policies, len(scopes))
	for name, scope := range scopes {
		p[name] = auth.RequireAll(scope)
	}
	return p
}

// buildHealth registers the readiness checks: both PostgreSQL pools, Redis
// when configured, and the audit trail. Open breakers are not a readiness
// failure here: every instance shares the same dependencies, so taking
// this one out of rotation would not help (the breakers report through
// metrics instead).
func (s *Server) buildHealth() error {
	checks := []health.Named{health.Ping("postgres", s.store.Ping)}
	if rdb := s.layers.redis; rdb != nil {
		checks = append(checks, health.Ping("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }))
	}
	if al := s.layers.auditLog; al != nil {
		checks = append(checks, health.Ping("audit", al.Ready))
	}
	return s.drain.Add(checks...)
}

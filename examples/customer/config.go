package main

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/edge"
)

// Environment names accepted in ENVIRONMENT.
const (
	envDevelopment = "development"
	envStaging     = "staging"
	envProduction  = "production"
)

// defaultDatabaseURL works against the PostgreSQL of a development machine
// (trust authentication for local connections).
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Config is everything the server reads from its environment (the
// README's table says what each variable means). Secrets (database URLs,
// the audit and cursor keys, the stdio API key) are held here but never
// printed: String and every error below leave their values out.
type Config struct {
	Environment string

	DatabaseURL      string // migrations and the owner connection
	DatabaseReadURL  string // reads, as the read-only role
	DatabaseWriteURL string // writes, as the writer role
	DB               PoolSettings
	SeedDemoData     bool

	RedisURL    string
	RedisPrefix string
	// IdempotencyStore is postgres, redis or memory; "" means redis when
	// REDIS_URL is set, postgres otherwise.
	IdempotencyStore string

	APIKeysFile string
	StdioAPIKey string // MCP_API_KEY: the identity of a stdio connection
	JWTIssuer   string
	JWTAudience string
	JWKSURL     string
	ResourceURL string // this server's resource identifier (RFC 8707/9728)
	PolicyFile  string // who may call what, how often (see policy.yaml)

	LogLevel         slog.Level
	EnableCache      bool
	CacheTTL         time.Duration
	CacheStaleFor    time.Duration
	BreakerOpenFor   time.Duration
	BreakerTripAfter int
	RateLimit        int // calls per principal per minute
	ToolTimeout      time.Duration
	AuditLog         string // "stderr", "postgres[:table]" or a file path
	AuditTable       string // set when AUDIT_LOG is postgres
	AuditHMACKey     []byte
	// CursorKeys: the first signs search cursors (none: a random key per
	// process); a second, the key being rotated out, is still accepted.
	CursorKeys [][]byte

	LoyaltyURL string // empty: the in-process fake loyalty service

	// The layers against a misbehaving or manipulated model (agent.go).
	OutputMaxBytes int    // each result's text is cut beyond this
	LoopLimit      int    // identical calls a minute; 0: no limit
	SessionCalls   int    // each session's calls per hour; 0: no budget
	PinFile        string // the tools' pinned definitions; "": pinned at start only

	TLSCertFile string
	TLSKeyFile  string
	AdminAddr   string
	Stateless   bool
	// JSONResponse answers each POST with one JSON body instead of an SSE
	// stream: the tools send no progress notifications, and plain JSON
	// costs less per call.
	JSONResponse   bool
	AllowedOrigins []string           // browser origins allowed to call; none by default
	AllowedHosts   []string           // Host names accepted on loopback besides loopback ones
	Limits         edge.SessionLimits // what one client can make the server hold over HTTP

	// Warnings are problems that do not stop the start (a secret file
	// other users can read); logged at start.
	Warnings []string

	// Bare switches every bulwark layer off (BULWARK_DISABLE=1 or -bare),
	// for measuring what the layers cost. Refused in production.
	Bare bool
}

// PoolSettings configures a pgxpool.
type PoolSettings struct {
	MinConns, MaxConns int32
	ConnectTimeout     time.Duration
	StatementTimeout   time.Duration
	HealthCheckPeriod  time.Duration
	MaxConnLifetime    time.Duration
	MaxConnIdleTime    time.Duration
}

// ConfigError names the variable that stopped the start. Its text never
// contains the variable's value when the variable is secret.
type ConfigError struct {
	Var    string
	Reason string
}

func (e *ConfigError) Error() string { return "configuration: " + e.Var + ": " + e.Reason }

// secretVars are never echoed, not even when malformed.
var secretVars = map[string]bool{
	"DATABASE_URL": true, "DATABASE_READ_URL": true, "DATABASE_WRITE_URL": true,
	"REDIS_URL": true, "AUDIT_HMAC_KEY": true, "MCP_API_KEY": true,
	"CURSOR_KEY": true, "CURSOR_KEY_PREVIOUS": true,
}

// envReader reads variables and collects every problem, each a
// ConfigError naming its variable.
type envReader struct {
	get  func(string) string
	errs []error
}

func (r *envReader) fail(name, reason string, value string) {
	if value != "" && !secretVars[name] {
		reason += fmt.Sprintf(" (got %q)", value)
	}
	r.errs = append(r.errs, &ConfigError{Var: name, Reason: reason})
}

func (r *envReader) str(name, def string) string {
	return cmp.Or(strings.TrimSpace(r.get(name)), def)
}

// parsed reads name with parse: def when unset; def and an error saying
// what it must be when parse refuses it or ok (if not nil) does.
func parsed[T any](r *envReader, name string, def T, parse func(string) (T, error), ok func(T) bool, want string) T {
	v := strings.TrimSpace(r.get(name))
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil || (ok != nil && !ok(x)) {
		r.fail(name, want, v)
		return def
	}
	return x
}

func (r *envReader) boolean(name string, def bool) bool {
	return parsed(r, name, def, strconv.ParseBool, nil, "must be true or false")
}

func (r *envReader) integer(name string, def, lo, hi int) int {
	return parsed(r, name, def, strconv.Atoi, func(n int) bool { return lo <= n && n <= hi },
		fmt.Sprintf("must be an integer from %d to %d", lo, hi))
}

func (r *envReader) duration(name string, def, lo, hi time.Duration) time.Duration {
	return parsed(r, name, def, time.ParseDuration, func(d time.Duration) bool { return lo <= d && d <= hi },
		fmt.Sprintf("must be a duration from %v to %v, such as 5s", lo, hi))
}

func (r *envReader) url(name, def string, schemes ...string) string {
	return parsed(r, name, def, func(v string) (string, error) { return v, nil }, func(v string) bool {
		u, err := url.Parse(v)
		return err == nil && u.Host != "" && slices.Contains(schemes, u.Scheme)
	}, "must be a URL with scheme "+strings.Join(schemes, " or ")+" and a host")
}

// oneOf reads a lower-cased name that must be one of allowed (or unset
// when def is "").
func (r *envReader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	if v != "" && !slices.Contains(allowed, v) {
		r.fail(name, "must be "+strings.Join(allowed[:len(allowed)-1], ", ")+" or "+allowed[len(allowed)-1], v)
	}
	return v
}

// key decodes a key as audit.ParseKey does, the one decoding of every key
// of the server: hex or base64, at least 32 bytes. nil when unset.
func (r *envReader) key(name string) []byte {
	raw := r.get(name)
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	key, err := audit.ParseKey(raw)
	if err != nil {
		r.fail(name, strings.TrimPrefix(err.Error(), "audit: the chain key ")+" (value not shown)", "")
	}
	return key
}

// together fails every one of names left empty when another is set:
// settings that only work as a set.
func (r *envReader) together(names []string, values ...string) {
	if !slices.Contains(values, "") || strings.Join(values, "") == "" {
		return
	}
	for i, v := range values {
		if v == "" {
			r.fail(names[i], "is required when any of "+strings.Join(names, ", ")+" is set", "")
		}
	}
}

// list reads a comma-separated variable, keeping the entries valid reports
// true for and failing the others.
func (r *envReader) list(name, want string, valid func(string) bool) []string {
	var out []string
	for _, v := range strings.Split(r.str(name, ""), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !valid(v) {
			r.fail(name, "each entry must be "+want, v)
			continue
		}
		out = append(out, v)
	}
	return out
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError,
}

var auditTablePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)

// LoadConfig reads the configuration from getenv (os.Getenv in main). It
// reports every problem at once, each naming its variable.
func LoadConfig(getenv func(string) string) (*Config, error) {
	r := &envReader{get: getenv}
	c := &Config{}
	r.get, c.Warnings = withSecretFiles(getenv, r)

	c.Environment = r.oneOf("ENVIRONMENT", envDevelopment, envDevelopment, envStaging, envProduction)
	c.DatabaseURL = r.url("DATABASE_URL", defaultDatabaseURL, "postgres", "postgresql")
	// By default the least-privilege roles connect as DATABASE_URL does.
	c.DatabaseReadURL = cmp.Or(r.url("DATABASE_READ_URL", "", "postgres", "postgresql"), withUser(c.DatabaseURL, readerRole))
	c.DatabaseWriteURL = cmp.Or(r.url("DATABASE_WRITE_URL", "", "postgres", "postgresql"), withUser(c.DatabaseURL, writerRole))
	c.DB = PoolSettings{
		MinConns:          int32(r.integer("DB_MIN_CONNS", 2, 0, 1000)),
		MaxConns:          int32(r.integer("DB_MAX_CONNS", 16, 1, 1000)),
		ConnectTimeout:    r.duration("DB_CONNECT_TIMEOUT", 3*time.Second, 100*time.Millisecond, time.Minute),
		StatementTimeout:  r.duration("DB_STATEMENT_TIMEOUT", 2*time.Second, 10*time.Millisecond, 10*time.Minute),
		HealthCheckPeriod: r.duration("DB_HEALTH_CHECK_PERIOD", 15*time.Second, 100*time.Millisecond, time.Hour),
		MaxConnLifetime:   r.duration("DB_MAX_CONN_LIFETIME", 30*time.Minute, time.Second, 24*time.Hour),
		MaxConnIdleTime:   r.duration("DB_MAX_CONN_IDLE_TIME", 5*time.Minute, time.Second, 24*time.Hour),
	}
	if c.DB.MinConns > c.DB.MaxConns {
		r.fail("DB_MIN_CONNS", "must not exceed DB_MAX_CONNS", strconv.Itoa(int(c.DB.MinConns)))
	}
	c.SeedDemoData = r.boolean("SEED_DEMO_DATA", c.Environment != envProduction)

	c.RedisURL = r.url("REDIS_URL", "", "redis", "rediss")
	c.RedisPrefix = r.str("REDIS_PREFIX", "customer:")
	c.IdempotencyStore = r.oneOf("IDEMPOTENCY_STORE", "", "postgres", "redis", "memory")

	c.APIKeysFile = r.str("API_KEYS_FILE", "")
	if c.APIKeysFile != "" {
		if _, err := os.Stat(c.APIKeysFile); err != nil {
			r.fail("API_KEYS_FILE", "cannot read the file: "+errors.Unwrap(err).Error(), c.APIKeysFile)
		}
	}
	c.StdioAPIKey = strings.TrimSpace(r.get("MCP_API_KEY"))
	c.JWTIssuer = r.str("JWT_ISSUER", "")
	c.JWTAudience = r.str("JWT_AUDIENCE", "")
	c.JWKSURL = r.url("JWKS_URL", "", "https", "http")
	r.together([]string{"JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL"}, c.JWTIssuer, c.JWTAudience, c.JWKSURL)
	if c.JWKSURL != "" && c.Environment == envProduction && !strings.HasPrefix(c.JWKSURL, "https://") {
		r.fail("JWKS_URL", "must use https in production", c.JWKSURL)
	}
	c.ResourceURL = r.url("MCP_RESOURCE_URL", "", "https", "http")
	c.PolicyFile = r.str("POLICY_FILE", "")

	c.LogLevel = logLevels[r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "warning", "error")]
	c.EnableCache = r.boolean("ENABLE_CACHING", true)
	c.CacheTTL = r.duration("CACHE_TTL", 30*time.Second, time.Second, 24*time.Hour)
	c.CacheStaleFor = r.duration("CACHE_STALE_FOR", 5*time.Minute, 0, 24*time.Hour)
	c.BreakerOpenFor = r.duration("BREAKER_OPEN_FOR", 10*time.Second, 10*time.Millisecond, 10*time.Minute)
	c.BreakerTripAfter = r.integer("BREAKER_TRIP_AFTER", 5, 1, 1000)
	c.RateLimit = r.integer("RATE_LIMIT", 600, 1, 1_000_000)
	c.OutputMaxBytes = r.integer("OUTPUT_MAX_BYTES", 64<<10, 256, 16<<20)
	c.LoopLimit = r.integer("LOOP_LIMIT", 0, 0, 1_000_000)
	c.SessionCalls = r.integer("SESSION_CALL_BUDGET", 0, 0, 1_000_000_000)
	c.PinFile = r.str("TOOLS_PIN_FILE", "")
	c.ToolTimeout = r.duration("TOOL_TIMEOUT", 10*time.Second, 100*time.Millisecond, 10*time.Minute)
	c.AuditLog = r.str("AUDIT_LOG", "stderr")
	if t, ok := strings.CutPrefix(c.AuditLog, "postgres"); ok && (t == "" || strings.HasPrefix(t, ":")) {
		c.AuditTable = cmp.Or(strings.TrimPrefix(t, ":"), "audit_records")
		if !auditTablePattern.MatchString(c.AuditTable) {
			r.fail("AUDIT_LOG", "postgres:<table> needs a lower-case table name of letters, digits and _", c.AuditLog)
		}
	}
	c.AuditHMACKey = r.key("AUDIT_HMAC_KEY")
	cur, prev := r.key("CURSOR_KEY"), r.key("CURSOR_KEY_PREVIOUS")
	if prev != nil && cur == nil {
		r.fail("CURSOR_KEY_PREVIOUS", "needs CURSOR_KEY: it is the key being rotated out (value not shown)", "")
	}
	c.CursorKeys = slices.DeleteFunc([][]byte{cur, prev}, func(k []byte) bool { return k == nil })
	c.LoyaltyURL = r.url("LOYALTY_API_URL", "", "https", "http")

	c.TLSCertFile = r.str("TLS_CERT_FILE", "")
	c.TLSKeyFile = r.str("TLS_KEY_FILE", "")
	r.together([]string{"TLS_CERT_FILE", "TLS_KEY_FILE"}, c.TLSCertFile, c.TLSKeyFile)
	if c.TLSCertFile != "" && c.TLSKeyFile != "" {
		// Checked now, so the start fails naming the variable, before the
		// database is touched (the error names files, never key material).
		if _, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile); err != nil {
			r.fail("TLS_CERT_FILE", "cannot load the certificate with TLS_KEY_FILE's key: "+err.Error(), "")
		}
	}
	c.AdminAddr = r.str("ADMIN_ADDR", "")
	if _, _, err := net.SplitHostPort(c.AdminAddr); c.AdminAddr != "" && err != nil {
		r.fail("ADMIN_ADDR", "must be host:port", c.AdminAddr)
	}
	c.Stateless = r.boolean("MCP_STATELESS", false)
	c.JSONResponse = r.boolean("MCP_JSON_RESPONSE", true)
	// The HTTP edge: trusted origins and the transport bounds. Defaults
	// are edge's (see the README's "Resource bounds"); each bound has a
	// ceiling so a typo cannot switch it off.
	c.AllowedOrigins = r.list("ALLOWED_ORIGINS", "an origin such as https://app.example.com", func(o string) bool {
		u, err := url.Parse(o)
		return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && (u.Path == "" || u.Path == "/")
	})
	c.AllowedHosts = r.list("ALLOWED_HOSTS", "a host name such as mcp.example.com", func(h string) bool {
		return !strings.ContainsAny(h, "/:@ ")
	})
	c.Limits = edge.SessionLimits{
		MaxSessions:                r.integer("MAX_SESSIONS", 10_000, 1, 1_000_000),
		MaxSessionsPerPrincipal:    r.integer("MAX_SESSIONS_PER_PRINCIPAL", 32, 1, 100_000),
		EvictIdle:                  r.boolean("SESSION_EVICT_IDLE", false),
		IdleTimeout:                r.duration("SESSION_IDLE_TIMEOUT", 10*time.Minute, time.Second, 24*time.Hour),
		MaxAge:                     r.duration("SESSION_MAX_AGE", 8*time.Hour, time.Second, 30*24*time.Hour),
		MaxStreamsPerSession:       r.integer("MAX_STREAMS_PER_SESSION", 2, 1, 100),
		MaxInFlightPerSession:      r.integer("MAX_INFLIGHT_PER_SESSION", 16, 1, 10_000),
		MaxSubscriptionsPerSession: r.integer("MAX_SUBSCRIPTIONS_PER_SESSION", 64, 1, 100_000),
	}
	if c.Limits.MaxSessionsPerPrincipal > c.Limits.MaxSessions {
		r.fail("MAX_SESSIONS_PER_PRINCIPAL", "must not exceed MAX_SESSIONS", strconv.Itoa(c.Limits.MaxSessionsPerPrincipal))
	}
	if c.Limits.IdleTimeout >= c.Limits.MaxAge {
		r.fail("SESSION_IDLE_TIMEOUT", "must be shorter than SESSION_MAX_AGE", c.Limits.IdleTimeout.String())
	}
	c.Bare = r.boolean("BULWARK_DISABLE", false)

	if c.Environment == envProduction && c.AuditHMACKey == nil {
		r.fail("AUDIT_HMAC_KEY", "is required in production (the audit trail must be tamper-evident); make one with `openssl rand -hex 32`", "")
	}
	if c.Environment == envProduction && c.Bare {
		r.fail("BULWARK_DISABLE", "cannot switch the protection layers off in production", "")
	}
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return c, nil
}

// HasAuth reports whether any credential source is configured.
func (c *Config) HasAuth() bool { return c.APIKeysFile != "" || c.JWKSURL != "" }

// CheckListen applies the ENVIRONMENT rules that depend on how the server
// is started: production refuses -bare, refuses to serve without
// authentication, and refuses a non-loopback HTTP address without TLS.
func (c *Config) CheckListen(httpAddr string) error {
	switch {
	case httpAddr == "" && c.HasAuth() && c.StdioAPIKey == "":
		return &ConfigError{Var: "MCP_API_KEY", Reason: "is required on stdio when authentication is configured: it is the identity of the stdio client"}
	case c.Environment != envProduction:
		return nil
	case c.Bare:
		return &ConfigError{Var: "BULWARK_DISABLE", Reason: "cannot switch the protection layers off in production"}
	case !c.HasAuth():
		return &ConfigError{Var: "API_KEYS_FILE", Reason: "production requires authentication: set API_KEYS_FILE or JWT_ISSUER/JWT_AUDIENCE/JWKS_URL"}
	case httpAddr != "" && !isLoopback(edge.ListenAddr(httpAddr)) && c.TLSCertFile == "":
		return &ConfigError{Var: "TLS_CERT_FILE", Reason: "production refuses to serve HTTP on a non-loopback address (" + httpAddr + ") without TLS"}
	}
	return nil
}

func isLoopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr) // "" when addr is malformed
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// withUser returns raw with its user replaced by user and its password
// removed: the least-privilege roles authenticate on their own terms (trust
// locally, their own password or certificate elsewhere; set
// DATABASE_READ_URL and DATABASE_WRITE_URL explicitly then). It returns ""
// when raw is.
func withUser(raw, user string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return raw
	}
	u.User = url.User(user)
	return u.String()
}

// String describes the configuration for the start-up log without secrets.
func (c *Config) String() string {
	return fmt.Sprintf("environment=%s database=%s redis=%t cache=%t rate_limit=%d/min audit=%s loyalty=%s bare=%t",
		c.Environment, redactURL(c.DatabaseURL), c.RedisURL != "", c.EnableCache, c.RateLimit, c.AuditLog,
		cmp.Or(redactURL(c.LoyaltyURL), "in-process fake"), c.Bare)
}

// redactURL keeps scheme, host and path: enough to tell which database,
// never the credentials or query parameters (which may hold passwords).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.Path
}

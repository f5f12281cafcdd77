package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/fakeloyalty"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Server is a customer server the demo started in process.
type Server struct {
	// URL is the streamable HTTP endpoint.
	URL string
	// AdminAddr is the admin listener (/metrics, /healthz, /readyz).
	AdminAddr string
	// Tool returns the definition the server registered for the tool
	// name, and whether there is one.
	Tool func(name string) (*mcp.Tool, bool)
	// AddTool serves t with h in place of the tool of that name, as a
	// server whose tool definitions change while it runs would.
	AddTool func(t *mcp.Tool, h mcp.ToolHandler)
	// Stop drains the listeners and closes the server, which flushes and
	// seals the audit trail.
	Stop func() error
}

// StartFunc starts the customer server with the environment env (the
// variables of the server's README), serving streamable HTTP and the admin
// listener on loopback ports.
type StartFunc func(ctx context.Context, env map[string]string) (*Server, error)

// defaultDatabaseURL is the server's default DATABASE_URL.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// demoDatabase is the database the demo creates (afresh on every run) and
// leaves behind for inspection; DEMO_DATABASE names another.
const demoDatabase = "bulwark_customer_demo"

// The server's tools and scopes, as a client knows them.
const (
	scopeRead           = "customers:read"
	scopeWrite          = "customers:write"
	toolGetCustomer     = "get_customer"
	toolSearchCustomers = "search_customers"
	toolUpdateEmail     = "update_customer_email"
	toolAddNote         = "add_customer_note"
	toolOverview        = "get_customer_overview"
	toolLookupCustomer  = "lookup_customer" // deprecated alias of get_customer
)

// demo is one run of the scripted session.
type demo struct {
	out        io.Writer
	failed     int
	passed     int
	adminURL   string // owner connection to the demo database, for checks
	srv        *Server
	proxy      *bulwarktest.Proxy
	loyalty    *fakeloyalty.Service
	auditLog   string
	auditKey   []byte
	policyFile string
	reader     *mcp.ClientSession
	admin      *mcp.ClientSession
	burst      *mcp.ClientSession
	support    *mcp.ClientSession // a second reader for the outage steps
	ops        *mcp.ClientSession // a third reader for the database outage
	agent      *mcp.ClientSession // a reader for the agent steps (agent.go)
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// step runs one scripted step and prints PASS or FAIL with what happened.
func (d *demo) step(title string, fn func() (string, error)) {
	d.printf("\n== %s\n", title)
	detail, err := fn()
	for _, line := range strings.Split(strings.TrimRight(detail, "\n"), "\n") {
		if line != "" {
			d.printf("   %s\n", line)
		}
	}
	if err != nil {
		d.failed++
		d.printf("   FAIL: %v\n", err)
		return
	}
	d.passed++
	d.printf("   PASS\n")
}

// Run creates the demo database next to DATABASE_URL (DEMO_DATABASE, by
// default bulwark_customer_demo, dropped and recreated), starts the server
// with start against it (through a fault proxy) and an in-process loyalty
// service, drives a scripted client session through every layer, writing
// each step to out, and reports whether every step behaved as expected.
// The error is for a run that could not get going.
func Run(ctx context.Context, out io.Writer, getenv func(string) string, start StartFunc) (bool, error) {
	began := time.Now()
	d := &demo{out: out}
	base := getenv("DATABASE_URL")
	if base == "" {
		base = defaultDatabaseURL
	}
	name := getenv("DEMO_DATABASE")
	if name == "" {
		name = demoDatabase
	}
	demoURL, pgAddr, err := createDemoDatabase(ctx, base, name)
	if err != nil {
		return false, err
	}
	d.adminURL = demoURL

	d.proxy, err = bulwarktest.StartProxy("127.0.0.1:0", pgAddr)
	if err != nil {
		return false, err
	}
	defer d.proxy.Close()
	d.loyalty = &fakeloyalty.Service{}
	loyaltyURL, stopLoyalty, err := fakeloyalty.Start(d.loyalty)
	if err != nil {
		return false, err
	}
	defer stopLoyalty()

	dir, err := os.MkdirTemp("", "customer-demo-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	keys := map[string]string{}
	var entries []auth.KeyEntry
	for _, p := range []struct {
		name   string
		scopes []string
	}{{"reader", []string{scopeRead}}, {"admin", []string{scopeRead, scopeWrite}}, {"burst-bot", []string{scopeRead}}, {"support", []string{scopeRead}}, {"ops", []string{scopeRead}}, {"agent", []string{scopeRead}}} {
		key, e, err := auth.GenerateKey(p.name, p.scopes...)
		if err != nil {
			return false, err
		}
		keys[p.name] = key
		entries = append(entries, e)
	}
	keyFile := filepath.Join(dir, "api-keys.json")
	b, _ := json.Marshal(entries)
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		return false, err
	}
	d.auditLog = filepath.Join(dir, "audit.jsonl")
	d.auditKey = make([]byte, 32)
	_, _ = rand.Read(d.auditKey)
	d.policyFile = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(d.policyFile, []byte(policyText(120)), 0o600); err != nil {
		return false, err
	}

	env := map[string]string{
		"ENVIRONMENT":          "development",
		"DATABASE_URL":         withHost(demoURL, d.proxy.Addr()),
		"API_KEYS_FILE":        keyFile,
		"AUDIT_LOG":            d.auditLog,
		"AUDIT_HMAC_KEY":       hex.EncodeToString(d.auditKey),
		"LOYALTY_API_URL":      loyaltyURL,
		"RATE_LIMIT":           "20",
		"BREAKER_OPEN_FOR":     "2s",
		"BREAKER_TRIP_AFTER":   "3",
		"DB_CONNECT_TIMEOUT":   "500ms",
		"DB_STATEMENT_TIMEOUT": "1s",
		"DB_MIN_CONNS":         "1",
		"LOG_LEVEL":            "error",
		"POLICY_FILE":          d.policyFile,
		"OUTPUT_MAX_BYTES":     "2048",
		"LOOP_LIMIT":           "15",
		// Step 8 sends 40 calls at once on one session, to show the rate
		// limit; the default bound of 16 requests in flight per session
		// would refuse the rest at the transport first.
		"MAX_INFLIGHT_PER_SESSION": "64",
	}
	d.printf("bulwark customer server demo\n")
	d.printf("database %s (through an in-process fault proxy), loyalty service in-process\n", redactURL(demoURL))
	d.srv, err = start(ctx, env)
	if err != nil {
		return false, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = d.srv.Stop()
		}
	}()
	d.printf("serving streamable HTTP at %s, admin at http://%s\n", d.srv.URL, d.srv.AdminAddr)

	for _, c := range []struct {
		dst **mcp.ClientSession
		key string
	}{{&d.reader, keys["reader"]}, {&d.admin, keys["admin"]}, {&d.burst, keys["burst-bot"]}, {&d.support, keys["support"]}, {&d.ops, keys["ops"]}, {&d.agent, keys["agent"]}} {
		cs, err := Dial(ctx, d.srv.URL, c.key)
		if err != nil {
			return false, fmt.Errorf("client: %w", err)
		}
		defer cs.Close()
		*c.dst = cs
	}

	d.step("1. An unauthenticated call is refused", d.unauthenticated)
	d.step("2. A reader reads: cache miss, then cache hit", d.readerReads)
	d.step("3. The reader's write is refused for scope", d.readerWriteRefused)
	d.step("4. An admin write invalidates the cache", d.adminWriteInvalidates)
	d.step("5. An invalid email is refused with the reason", d.invalidEmail)
	d.step("6. SQL-injection payloads are harmless", d.sqlInjection)
	d.step("7. A note is written exactly once under retries", d.exactlyOnce)
	d.step("8. A burst is rate-limited with retry-after", d.burstLimited)
	d.step("9. A deprecated tool still works and warns", d.deprecated)
	d.step("9b. A policy reload tightens a limit without a restart", d.policyReload)
	d.step("10. The loyalty service goes down: partial answers, breaker opens, recovery", d.loyaltyOutage)
	d.step("11. PostgreSQL goes down: breaker opens, fast failures, cache still serves, recovery", d.postgresOutage)
	d.step("12. Metrics excerpt from the admin listener", d.metricsExcerpt)
	d.step("12a. A large result is cut with a note the model can act on", d.truncatedResult)
	d.step("12b. A secret in a result is masked before it leaves", d.maskedSecret)
	d.step("12c. A tool whose definition changes while serving is refused", d.changedToolRefused)
	d.step("12d. An agent repeating the same call is cut off", d.loopCutOff)

	// Graceful shutdown: drain, close sessions, flush and seal the audit
	// trail; then verify it.
	for _, cs := range []*mcp.ClientSession{d.reader, d.admin, d.burst, d.support, d.ops, d.agent} {
		cs.Close()
	}
	stopped = true
	if err := d.srv.Stop(); err != nil {
		d.printf("stop: %v\n", err)
	}
	d.step("13. The audit trail verifies (HMAC chain, sealed at shutdown)", d.verifyAudit)

	d.printf("\n%d passed, %d failed in %.1fs\n", d.passed, d.failed, time.Since(began).Seconds())
	return d.failed == 0, nil
}

// createDemoDatabase (re)creates the demo database and returns its URL and
// the PostgreSQL address.
func createDemoDatabase(ctx context.Context, base, dbName string) (string, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, base)
	if err != nil {
		return "", "", fmt.Errorf("connect to DATABASE_URL (%s): %w", redactURL(base), scrubConnErr(err))
	}
	defer conn.Close(context.Background())
	name := pgx.Identifier{dbName}.Sanitize()
	if _, err := conn.Exec(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", "", fmt.Errorf("drop demo database: %w", err)
	}
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("create demo database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", "", err
	}
	u.Path = "/" + dbName
	host := u.Host
	if !strings.Contains(host, ":") {
		host = net.JoinHostPort(host, "5432")
	}
	return u.String(), host, nil
}

// withHost points a connection URL at another host:port (the proxy).
func withHost(raw, hostport string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Host = hostport
	return u.String()
}

// redactURL keeps scheme, host and path: enough to tell which database,
// never the credentials or query parameters.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// scrubConnErr keeps pgx's reason for a failed connection, which names
// host, port, user and database but never the password; the guard holds
// even if that changes.
func scrubConnErr(err error) error {
	if msg := err.Error(); strings.Contains(msg, "password=") {
		return errors.New(msg[:strings.Index(msg, "password=")] + "password=[redacted]")
	}
	return err
}

// Main runs the demo for the command: the steps go to stdout, an error
// that stopped the run to stderr. It returns the exit status, 0 only if
// every step behaved as expected.
func Main(ctx context.Context, getenv func(string) string, start StartFunc) int {
	ok, err := Run(ctx, os.Stdout, getenv, start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
	}
	if err != nil || !ok {
		return 1
	}
	return 0
}

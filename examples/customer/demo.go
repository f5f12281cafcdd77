package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/deprecation"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// demoDatabase is the database the demo creates (afresh on every run) and
// leaves behind for inspection; DEMO_DATABASE names another.
const demoDatabase = "bulwark_customer_demo"

// demo is one run of the scripted session.
type demo struct {
	out      io.Writer
	failed   int
	passed   int
	adminURL string // owner connection to the demo database, for checks
	srv      *Server
	http     *HTTPServer
	proxy    *bulwarktest.Proxy
	loyalty  *FakeLoyalty
	auditLog string
	auditKey []byte
	reader   *mcp.ClientSession
	admin    *mcp.ClientSession
	burst    *mcp.ClientSession
	support  *mcp.ClientSession // a second reader for the outage steps
	ops      *mcp.ClientSession // a third reader for the database outage
	agent    *mcp.ClientSession // a reader for the agent steps (demo_agent.go)
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

// demoMain runs the demo for -demo and returns the exit status: 0 only if
// every step behaved as expected.
func demoMain(ctx context.Context, getenv func(string) string) int {
	ok, err := runDemo(ctx, os.Stdout, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
	}
	if err != nil || !ok {
		return 1
	}
	return 0
}

// runDemo starts the server in-process against the local PostgreSQL (its
// own database, reached through a fault proxy), serves it over streamable
// HTTP, drives a scripted client session through every layer and reports
// whether each step behaved as expected.
func runDemo(ctx context.Context, out io.Writer, getenv func(string) string) (bool, error) {
	start := time.Now()
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
	d.loyalty = &FakeLoyalty{}
	loyaltyURL, stopLoyalty, err := startFakeLoyalty(d.loyalty)
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

	proxied := withHost(demoURL, d.proxy.Addr())
	env := map[string]string{
		"ENVIRONMENT":          envDevelopment,
		"DATABASE_URL":         proxied,
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
		"POLICY_FILE":          demoPolicy(dir),
		"OUTPUT_MAX_BYTES":     "2048",
		"LOOP_LIMIT":           "15",
	}
	// Step 8 sends 40 calls at once on one session, to show the rate
	// limit; the default bound of 16 requests in flight per session would
	// refuse the rest at the transport first.
	env["MAX_INFLIGHT_PER_SESSION"] = "64"
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		return false, err
	}
	d.printf("bulwark customer server demo\n")
	d.printf("database %s (through an in-process fault proxy), loyalty service in-process\n", redactURL(demoURL))
	srv, err := NewServer(ctx, cfg, Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		return false, err
	}
	d.srv = srv
	closed := false
	defer func() {
		if !closed {
			_ = srv.Close(context.Background())
		}
	}()
	h, err := srv.StartHTTP("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return false, err
	}
	d.http = h
	d.printf("serving streamable HTTP at %s, admin at http://%s\n", h.URL(), h.AdminAddr())

	for _, c := range []struct {
		dst **mcp.ClientSession
		key string
	}{{&d.reader, keys["reader"]}, {&d.admin, keys["admin"]}, {&d.burst, keys["burst-bot"]}, {&d.support, keys["support"]}, {&d.ops, keys["ops"]}, {&d.agent, keys["agent"]}} {
		cs, err := dialHTTP(ctx, h.URL(), c.key)
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
	if err := h.Shutdown(5 * time.Second); err != nil {
		d.printf("shutdown: %v\n", err)
	}
	err = srv.Close(context.Background())
	closed = true
	if err != nil {
		d.printf("close: %v\n", err)
	}
	d.step("13. The audit trail verifies (HMAC chain, sealed at shutdown)", d.verifyAudit)

	d.printf("\n%d passed, %d failed in %.1fs\n", d.passed, d.failed, time.Since(start).Seconds())
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

//lint:ignore ST1008 returns what CallTool returned, in its order, followed by the refusal read from them and the latency
func (d *demo) call(cs *mcp.ClientSession, tool string, args map[string]any) (*mcp.CallToolResult, error, *bulwark.Refusal, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	t0 := time.Now()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	return res, err, bulwark.RefusalOf(res, err), time.Since(t0)
}

func structured[T any](res *mcp.CallToolResult) (T, error) {
	var v T
	if res == nil {
		return v, errors.New("no result")
	}
	b, _ := json.Marshal(res.StructuredContent)
	return v, json.Unmarshal(b, &v)
}

func cacheOf(res *mcp.CallToolResult) string {
	if res == nil || res.Meta == nil {
		return "-"
	}
	if s := cacheStatusOf(res); s != "" {
		return s
	}
	return "-"
}

func describe(res *mcp.CallToolResult, err error, ref *bulwark.Refusal) string {
	switch {
	case ref != nil:
		s := fmt.Sprintf("refused: code=%s message=%q", ref.Code, ref.Message)
		if ref.RetryAfterSeconds > 0 {
			s += fmt.Sprintf(" retryAfterSeconds=%d", ref.RetryAfterSeconds)
		}
		return s
	case err != nil:
		return "error: " + err.Error()
	case res != nil && res.IsError:
		return "tool error: " + resultText(res)
	}
	return "ok"
}

func (d *demo) unauthenticated() (string, error) {
	var sb strings.Builder
	req, _ := http.NewRequest(http.MethodPost, d.http.URL(), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_customer","arguments":{"customer_id":"C-000001"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	fmt.Fprintf(&sb, "POST /mcp without a token -> HTTP %d, WWW-Authenticate: %s\n", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		return sb.String(), errors.New("expected 401 with a WWW-Authenticate challenge")
	}
	_, err = dialHTTP(context.Background(), d.http.URL(), "bwk_not-a-real-key")
	fmt.Fprintf(&sb, "MCP client with a made-up key -> %v\n", err)
	if err == nil {
		return sb.String(), errors.New("a client with a made-up key connected")
	}
	return sb.String(), nil
}

func (d *demo) readerReads() (string, error) {
	var sb strings.Builder
	args := map[string]any{"customer_id": "C-000042"}
	var states []string
	for i := 0; i < 2; i++ {
		res, err, ref, took := d.call(d.reader, toolGetCustomer, args)
		if err != nil || ref != nil {
			return sb.String(), fmt.Errorf("get_customer: %s", describe(res, err, ref))
		}
		c, _ := structured[Customer](res)
		fmt.Fprintf(&sb, "reader get_customer C-000042 -> %s <%s> cache=%s in %v\n", c.Name, c.Email, cacheOf(res), took.Round(time.Microsecond))
		states = append(states, cacheOf(res))
	}
	if states[0] != "miss" || states[1] != "hit" {
		return sb.String(), fmt.Errorf("cache states %v, want [miss hit]", states)
	}
	return sb.String(), nil
}

func (d *demo) readerWriteRefused() (string, error) {
	res, err, ref, _ := d.call(d.reader, toolUpdateEmail, map[string]any{"customer_id": "C-000042", "new_email": "x@example.com"})
	line := "reader update_customer_email -> " + describe(res, err, ref)
	if ref == nil || ref.Code != bulwark.CodePermissionDenied || !strings.Contains(ref.Message, scopeWrite) {
		return line, errors.New("expected permission_denied naming customers:write")
	}
	return line, nil
}

func (d *demo) adminWriteInvalidates() (string, error) {
	var sb strings.Builder
	newEmail := "ada.lovelace@analytical.example"
	res, err, ref, _ := d.call(d.admin, toolUpdateEmail, map[string]any{"customer_id": "C-000042", "new_email": newEmail})
	fmt.Fprintf(&sb, "admin update_customer_email C-000042 -> %s\n", describe(res, err, ref))
	if err != nil || ref != nil {
		return sb.String(), errors.New("the admin's write failed")
	}
	res, err, ref, _ = d.call(d.reader, toolGetCustomer, map[string]any{"customer_id": "C-000042"})
	c, _ := structured[Customer](res)
	fmt.Fprintf(&sb, "reader get_customer C-000042 -> <%s> cache=%s\n", c.Email, cacheOf(res))
	if err != nil || ref != nil || c.Email != newEmail || cacheOf(res) != "miss" {
		return sb.String(), errors.New("the reader did not see the new email on a fresh read")
	}
	return sb.String(), nil
}

func (d *demo) invalidEmail() (string, error) {
	var sb strings.Builder
	for _, bad := range []string{"not-an-email", "Eve <eve@example.com>", "eve@example.com\r\nBcc: all@example.com"} {
		res, err, ref, _ := d.call(d.admin, toolUpdateEmail, map[string]any{"customer_id": "C-000042", "new_email": bad})
		fmt.Fprintf(&sb, "new_email %q -> %s\n", bad, describe(res, err, ref))
		if ref == nil || ref.Code != bulwark.CodeInvalidArgument || ref.Field != "new_email" {
			return sb.String(), errors.New("expected invalid_argument on new_email")
		}
	}
	return sb.String(), nil
}

func (d *demo) rowCounts(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var customers, orders, notes int
	var digest string
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),
		(SELECT count(*) FROM customer_notes),
		(SELECT md5(string_agg(id || name || email, ',' ORDER BY id)) FROM customers)`).Scan(&customers, &orders, &notes, &digest)
	return fmt.Sprintf("customers=%d orders=%d notes=%d digest=%s", customers, orders, notes, digest[:12]), err
}

func (d *demo) sqlInjection() (string, error) {
	var sb strings.Builder
	ctx := context.Background()
	before, err := d.rowCounts(ctx)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&sb, "before: %s\n", before)
	payload := "' OR '1'='1'; DROP TABLE customers; --"
	res, err, ref, _ := d.call(d.reader, toolSearchCustomers, map[string]any{"query": payload})
	r, _ := structured[searchResult](res)
	fmt.Fprintf(&sb, "search_customers query=%q -> %s, %d matches (the text is a parameter, matched literally)\n", payload, describe(res, err, ref), len(r.Customers))
	if err != nil || ref != nil || len(r.Customers) != 0 {
		return sb.String(), errors.New("the payload was not treated as plain text")
	}
	res, err, ref, _ = d.call(d.reader, toolGetCustomer, map[string]any{"customer_id": "1' OR '1'='1"})
	fmt.Fprintf(&sb, "get_customer customer_id=%q -> %s\n", "1' OR '1'='1", describe(res, err, ref))
	if ref == nil || ref.Code != bulwark.CodeInvalidArgument {
		return sb.String(), errors.New("the ID was not refused before the database")
	}
	res, err, ref, _ = d.call(d.admin, toolAddNote, map[string]any{"customer_id": "C-000001", "body": "x'); DELETE FROM customers; --", "idempotency_key": "demo-injection-1"})
	fmt.Fprintf(&sb, "add_customer_note body=%q -> %s (stored as text)\n", "x'); DELETE FROM customers; --", describe(res, err, ref))
	after, err := d.rowCounts(ctx)
	if err != nil {
		return sb.String(), err
	}
	fmt.Fprintf(&sb, "after:  %s\n", after)
	if strings.Fields(before)[0] != strings.Fields(after)[0] || strings.Fields(before)[3] != strings.Fields(after)[3] {
		return sb.String(), errors.New("rows changed")
	}
	return sb.String(), nil
}

func (d *demo) exactlyOnce() (string, error) {
	var sb strings.Builder
	args := map[string]any{"customer_id": "C-000007", "body": "Asked for a callback on Monday.", "idempotency_key": "demo-note-7f3a"}
	ids := map[int64]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err, ref, _ := d.call(d.admin, toolAddNote, args)
			if err != nil || ref != nil {
				errs <- describe(res, err, ref)
				return
			}
			n, _ := structured[Note](res)
			mu.Lock()
			ids[n.ID]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		fmt.Fprintf(&sb, "duplicate refused: %s\n", e)
	}
	fmt.Fprintf(&sb, "8 concurrent add_customer_note calls with one idempotency key -> note IDs %v\n", ids)
	conn, err := pgx.Connect(context.Background(), d.adminURL)
	if err != nil {
		return sb.String(), err
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM customer_notes WHERE idempotency_key = $1`, "demo-note-7f3a").Scan(&n); err != nil {
		return sb.String(), err
	}
	fmt.Fprintf(&sb, "rows in customer_notes with that key: %d\n", n)
	res, err, ref, _ := d.call(d.admin, toolAddNote, map[string]any{"customer_id": "C-000007", "body": "A different note.", "idempotency_key": "demo-note-7f3a"})
	fmt.Fprintf(&sb, "same key, different note -> %s\n", describe(res, err, ref))
	if n != 1 || len(ids) > 1 || ref == nil {
		return sb.String(), errors.New("the note was not written exactly once")
	}
	return sb.String(), nil
}

func (d *demo) burstLimited() (string, error) {
	var sb strings.Builder
	const n = 40
	var mu sync.Mutex
	ok, limited, retryAfter := 0, 0, 0
	var wg sync.WaitGroup
	burstStart := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err, ref, _ := d.call(d.burst, toolGetCustomer, map[string]any{"customer_id": fmt.Sprintf("C-%06d", 100+i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case ref != nil && ref.Code == bulwark.CodeRateLimited:
				limited++
				retryAfter = max(retryAfter, ref.RetryAfterSeconds)
				if limited == 1 {
					fmt.Fprintf(&sb, "first refusal: %s\n", describe(res, err, ref))
				}
			case err == nil && ref == nil:
				ok++
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(&sb, "%d concurrent calls by burst-bot (RATE_LIMIT=20/min) -> %d served, %d rate-limited (retry after up to %ds)\n", n, ok, limited, retryAfter)
	res, err, ref, _ := d.call(d.reader, toolGetCustomer, map[string]any{"customer_id": "C-000042"})
	fmt.Fprintf(&sb, "meanwhile the reader is unaffected -> %s\n", describe(res, err, ref))
	// One token refills every 3s: a burst slowed down by a busy machine
	// may earn one or two more.
	refill := int(time.Since(burstStart) / (3 * time.Second))
	if ok < 20 || ok > 20+refill || ok+limited != n || retryAfter == 0 || ref != nil || err != nil {
		return sb.String(), errors.New("expected exactly 20 served and the rest refused with retry-after")
	}
	return sb.String(), nil
}

func (d *demo) deprecated() (string, error) {
	res, err, ref, _ := d.call(d.reader, toolLookupCustomer, map[string]any{"customer_id": "C-000003"})
	if err != nil || ref != nil {
		return "", errors.New(describe(res, err, ref))
	}
	b, _ := json.Marshal(res.Meta[deprecation.MetaKey])
	line := fmt.Sprintf("lookup_customer C-000003 -> ok, _meta[%q] = %s\ncalls to deprecated tools so far: %d", deprecation.MetaKey, b, d.srv.layers.usage.Count(toolLookupCustomer))
	if len(b) < 5 {
		return line, errors.New("no deprecation warning")
	}
	return line, nil
}

func (d *demo) loyaltyOutage() (string, error) {
	var sb strings.Builder
	d.loyalty.SetDown(true)
	before := d.loyalty.Calls()
	var lastMissing []MissingPart
	var lastReached int64
	fastWhileOpen := 0
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("C-%06d", 200+i)
		n0 := d.loyalty.Calls()
		res, err, ref, took := d.call(d.support, toolOverview, map[string]any{"customer_id": id})
		lastReached = d.loyalty.Calls() - n0
		if err != nil || ref != nil {
			return sb.String(), fmt.Errorf("overview %s: %s", id, describe(res, err, ref))
		}
		o, _ := structured[Overview](res)
		lastMissing = o.Missing
		fmt.Fprintf(&sb, "overview %s -> partial=%t customer=%t orders=%d missing=%v; loyalty requests %d; %v\n", id, o.Partial, o.Customer != nil, len(o.RecentOrders), o.Missing, lastReached, took.Round(time.Millisecond))
		if lastReached == 0 && len(o.Missing) == 1 && strings.HasPrefix(o.Missing[0].Reason, "loyalty is unavailable") {
			fastWhileOpen++ // refused by the open breaker, the service untouched
		}
		if !o.Partial || o.Customer == nil || len(o.Missing) != 1 || o.Missing[0].Part != "loyalty" {
			return sb.String(), errors.New("expected a partial overview missing only loyalty")
		}
	}
	reached := d.loyalty.Calls() - before
	fmt.Fprintf(&sb, "loyalty breaker: %s; requests that reached the loyalty service: %d for 6 calls (retries included), none once open\n", d.srv.layers.upBreaker.State(), reached)
	if fastWhileOpen == 0 || !strings.Contains(lastMissing[0].Reason, "unavailable") {
		return sb.String(), errors.New("the loyalty breaker did not open")
	}
	d.loyalty.SetDown(false)
	fmt.Fprintf(&sb, "loyalty service back up; waiting for the breaker's probe\n")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		res, err, ref, _ := d.call(d.support, toolOverview, map[string]any{"customer_id": "C-000299"})
		if err != nil || ref != nil {
			continue
		}
		if o, _ := structured[Overview](res); !o.Partial && o.Loyalty != nil {
			fmt.Fprintf(&sb, "overview C-000299 -> complete, loyalty tier %s; breaker %s\n", o.Loyalty.Tier, d.srv.layers.upBreaker.State())
			return sb.String(), nil
		}
	}
	return sb.String(), errors.New("no recovery within 5s")
}

func (d *demo) postgresOutage() (string, error) {
	var sb strings.Builder
	// Warm one entry so the cache can show it still serves.
	if _, err, ref, _ := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": "C-000500"}); err != nil || ref != nil {
		return "", errors.New("warm-up failed")
	}
	d.proxy.Cut()
	fmt.Fprintf(&sb, "fault proxy: every PostgreSQL connection cut\n")
	breakerRefusals := 0
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("C-%06d", 600+i)
		res, err, ref, took := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": id})
		fmt.Fprintf(&sb, "get_customer %s -> %s in %v\n", id, describe(res, err, ref), took.Round(time.Microsecond))
		if ref != nil && ref.Code == bulwark.CodeUnavailable && strings.HasPrefix(ref.Message, "postgres is unavailable") &&
			ref.RetryAfterSeconds > 0 && took < 250*time.Millisecond {
			breakerRefusals++
		}
	}
	states := d.srv.layers.breakers.States()
	fmt.Fprintf(&sb, "breakers: postgres=%s get_customer=%s\n", states["postgres"], states[toolGetCustomer])
	if breakerRefusals == 0 {
		return sb.String(), errors.New("expected fast unavailable refusals with retry-after")
	}
	res, err, ref, _ := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": "C-000500"})
	fmt.Fprintf(&sb, "get_customer C-000500 (cached before the outage) -> %s cache=%s\n", describe(res, err, ref), cacheOf(res))
	if err != nil || ref != nil {
		return sb.String(), errors.New("the cache did not serve during the outage")
	}
	code, body := d.get("/readyz")
	fmt.Fprintf(&sb, "GET /readyz -> %d %s", code, body)
	if code != http.StatusServiceUnavailable {
		return sb.String(), errors.New("readiness did not report the outage")
	}
	d.proxy.Restore()
	fmt.Fprintf(&sb, "fault proxy restored; waiting for the breakers' probes\n")
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		res, err, ref, took := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": "C-000601"})
		if err == nil && ref == nil {
			c, _ := structured[Customer](res)
			fmt.Fprintf(&sb, "get_customer C-000601 -> %s in %v; breakers: %v\n", c.Name, took.Round(time.Millisecond), d.srv.layers.breakers.States())
			code, body := d.get("/readyz")
			fmt.Fprintf(&sb, "GET /readyz -> %d %s", code, body)
			return sb.String(), nil
		}
	}
	return sb.String(), errors.New("no recovery within 8s")
}

func (d *demo) get(path string) (int, string) {
	resp, err := http.Get("http://" + d.http.AdminAddr() + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func (d *demo) metricsExcerpt() (string, error) {
	code, body := d.getAll("/metrics")
	if code != http.StatusOK {
		return "", fmt.Errorf("GET /metrics -> %d", code)
	}
	var sb strings.Builder
	want := []string{"bulwark_tool_calls_total", "bulwark_breaker_state", "bulwark_cache", "bulwark_rate_limit", "customer_deprecated_tool_calls_total"}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, w := range want {
			if strings.HasPrefix(line, w) && !strings.HasSuffix(line, " 0") {
				seen[w] = true
				if lines < 24 {
					sb.WriteString(line + "\n")
					lines++
				}
			}
		}
	}
	if !seen["bulwark_tool_calls_total"] || !seen["customer_deprecated_tool_calls_total"] {
		return sb.String(), errors.New("expected call counters in /metrics")
	}
	return sb.String(), nil
}

func (d *demo) getAll(path string) (int, string) {
	resp, err := http.Get("http://" + d.http.AdminAddr() + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

func (d *demo) verifyAudit() (string, error) {
	f, err := os.Open(d.auditLog)
	if err != nil {
		return "", err
	}
	defer f.Close()
	rep, err := audit.Verify(f, d.auditKey)
	line := fmt.Sprintf("audit.Verify(%s) -> %d records, sequence %d..%d, sealed=%t", filepath.Base(d.auditLog), rep.Records, rep.FirstSeq, rep.LastSeq, rep.Sealed)
	if err != nil {
		return line, err
	}
	outcomes := map[string]int{}
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r struct {
				Outcome string `json:"outcome"`
			}
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Outcome != "" {
				outcomes[r.Outcome]++
			}
		}
	}
	line += fmt.Sprintf("\noutcomes recorded: %v", outcomes)
	if !rep.Sealed || outcomes["permission_denied"] == 0 || outcomes["rate_limited"] == 0 {
		return line, errors.New("expected a sealed trail recording the refusals")
	}
	return line, nil
}

func resultText(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	var sb strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String()
}

// cacheStatusOf returns how the cache answered res ("hit", "miss" or
// "stale", from _meta written with cache.Config.ReportStatus), or "".
func cacheStatusOf(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	m, _ := res.Meta[cache.MetaKey].(map[string]any)
	st, _ := m["status"].(string)
	return st
}

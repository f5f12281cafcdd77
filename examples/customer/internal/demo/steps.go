package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/deprecation"
	"github.com/jackc/pgx/v5"
)

// The steps on the way in: authentication, authorization, the cache,
// validation, idempotency, the rate limit, deprecation; and the ones at
// the end: metrics and the audit trail.

func (d *demo) unauthenticated() (string, error) {
	var sb strings.Builder
	req, _ := http.NewRequest(http.MethodPost, d.srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_customer","arguments":{"customer_id":"C-000001"}}}`))
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
	_, err = Dial(context.Background(), d.srv.URL, "bwk_not-a-real-key")
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
		c, _ := structured[customer](res)
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
	c, _ := structured[customer](res)
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

// queryRow runs one query on the demo database as its owner.
func (d *demo) queryRow(sql string, args []any, dest ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql, args...).Scan(dest...)
}

func (d *demo) rowCounts() (string, error) {
	var customers, orders, notes int
	var digest string
	err := d.queryRow(`SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),
		(SELECT count(*) FROM customer_notes),
		(SELECT md5(string_agg(id || name || email, ',' ORDER BY id)) FROM customers)`, nil, &customers, &orders, &notes, &digest)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("customers=%d orders=%d notes=%d digest=%s", customers, orders, notes, digest[:12]), nil
}

func (d *demo) sqlInjection() (string, error) {
	var sb strings.Builder
	before, err := d.rowCounts()
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
	after, err := d.rowCounts()
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
			n, _ := structured[note](res)
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
	var n int
	if err := d.queryRow(`SELECT count(*) FROM customer_notes WHERE idempotency_key = $1`, []any{"demo-note-7f3a"}, &n); err != nil {
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
	series := `customer_deprecated_tool_calls_total{tool="lookup_customer"}`
	n, err := d.counter(series)
	if err != nil {
		return "", err
	}
	line := fmt.Sprintf("lookup_customer C-000003 -> ok, _meta[%q] = %s\n/metrics: %s %v", deprecation.MetaKey, b, series, n)
	if len(b) < 5 {
		return line, errors.New("no deprecation warning")
	}
	if n < 1 {
		return line, errors.New("the call to the deprecated tool was not counted")
	}
	return line, nil
}

func (d *demo) metricsExcerpt() (string, error) {
	code, body := d.get("/metrics", 1<<20)
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

func (d *demo) verifyAudit() (string, error) {
	f, err := os.Open(d.auditLog)
	if err != nil {
		return "", err
	}
	rep, err := audit.Verify(f, d.auditKey)
	f.Close()
	line := fmt.Sprintf("audit.Verify(%s) -> %d records, sequence %d..%d, sealed=%t", filepath.Base(d.auditLog), rep.Records, rep.FirstSeq, rep.LastSeq, rep.Sealed)
	if err != nil {
		return line, err
	}
	recs, err := d.auditRecords()
	if err != nil {
		return line, err
	}
	outcomes := map[string]int{}
	for _, r := range recs {
		if r.Outcome != "" {
			outcomes[r.Outcome]++
		}
	}
	line += fmt.Sprintf("\noutcomes recorded: %v", outcomes)
	if !rep.Sealed || outcomes["permission_denied"] == 0 || outcomes["rate_limited"] == 0 {
		return line, errors.New("expected a sealed trail recording the refusals")
	}
	return line, nil
}

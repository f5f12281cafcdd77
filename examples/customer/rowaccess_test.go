package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// rowPolicy limits eu-agent and eu-writer to the eu region and
// one-customer to C-000012 (a us customer of the seed data); reader, a
// principal the file does not name, reaches every customer.
const rowPolicy = `version: 1
tools:
  - name: "get_customer*"
    scopes: [customers:read]
principals:
  eu-agent:
    attributes:
      regions: [eu]
  eu-writer:
    attributes:
      regions: [eu]
  one-customer:
    attributes:
      customers: [C-000012]
`

type rowFixture struct {
	*fixture
	policy string
	keys   map[string]string // principal → API key
}

// newRowFixture serves the seed data with rowPolicy and keys for its
// principals and for an unlimited reader.
func newRowFixture(t *testing.T) *rowFixture {
	t.Helper()
	dir := t.TempDir()
	rf := &rowFixture{policy: filepath.Join(dir, "policy.yaml"), keys: map[string]string{}}
	if err := os.WriteFile(rf.policy, []byte(rowPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	var entries []auth.KeyEntry
	for name, scopes := range map[string][]string{
		"eu-agent":     {scopeRead},
		"eu-writer":    {scopeRead, scopeWrite},
		"one-customer": {scopeRead},
		"reader":       {scopeRead},
	} {
		key, e, err := auth.GenerateKey(name, scopes...)
		if err != nil {
			t.Fatal(err)
		}
		rf.keys[name] = key
		entries = append(entries, e)
	}
	b, _ := json.Marshal(entries)
	keyFile := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rf.fixture = newFixture(t, func(env map[string]string) {
		env["API_KEYS_FILE"] = keyFile
		env["POLICY_FILE"] = rf.policy
	})
	return rf
}

// owner runs SQL as the database owner, outside the server.
func (rf *rowFixture) owner(sql string, args ...any) {
	rf.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, rf.db)
	if err != nil {
		rf.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		rf.t.Fatalf("%s: %v", sql, err)
	}
}

// rawCall posts one JSON-RPC request on session cs and returns the
// response message exactly as the server wrote it.
func (rf *rowFixture) rawCall(cs *mcp.ClientSession, token, method string, params any) string {
	rf.t.Helper()
	p, _ := json.Marshal(params)
	body := `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":` + string(p) + `}`
	req, _ := http.NewRequest("POST", rf.http.URL(), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rf.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		rf.t.Fatalf("%s: HTTP %d %s", method, resp.StatusCode, b)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, `"id":7`) {
			return data
		}
	}
	rf.t.Fatalf("%s: no response in the stream (%v)", method, sc.Err())
	return ""
}

// answer is everything a client learns from one request, in both forms:
// the SDK client's view (result as JSON, JSON-RPC error code, message and
// data) and the raw response message, byte for byte.
type answer struct {
	result, errMsg, errData, raw string
	code                         int64
}

// correlationID is the one part of an answer that differs between any two
// requests, whatever they ask: the per-call ID (a counter) for the logs.
var correlationID = regexp.MustCompile(`"correlationId":"[0-9a-f]+-[0-9a-z]+"`)

// normalized returns a with its correlation IDs replaced, failing if any
// part that has one lacks it.
func (a answer) normalized(t *testing.T) answer {
	t.Helper()
	for _, s := range []*string{&a.result, &a.errData, &a.raw} {
		if *s != "" && strings.Contains(*s, "bulwark/error") || strings.Contains(*s, `"code":"`) {
			if !correlationID.MatchString(*s) {
				t.Errorf("no correlation ID in %s", *s)
			}
		}
		*s = correlationID.ReplaceAllString(*s, `"correlationId":"…"`)
	}
	return a
}

func sdkAnswer(res any, err error) answer {
	var a answer
	if res != nil && !reflect.ValueOf(res).IsNil() {
		b, _ := json.Marshal(res)
		a.result = string(b)
	}
	var wire *jsonrpc.Error
	if errors.As(err, &wire) {
		a.code, a.errMsg, a.errData = wire.Code, wire.Message, string(wire.Data)
	} else if err != nil {
		a.errMsg = err.Error()
	}
	return a
}

// TestRowAccessOutsideReachIsNotFound: every single-customer read and
// write of a customer outside the caller's reach answers exactly as for a
// customer that does not exist, byte for byte on the wire, and only the
// audit record tells the two apart.
func TestRowAccessOutsideReachIsNotFound(t *testing.T) {
	rf := newRowFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const id = "C-900000" // created in region us, then deleted
	agent := rf.connect(rf.keys["eu-agent"])
	writer := rf.connect(rf.keys["eu-writer"])

	type request struct {
		name    string
		cs      *mcp.ClientSession
		token   string
		method  string
		params  func(i int) any
		sdkCall func(i int) answer
	}
	toolReq := func(cs *mcp.ClientSession, token, tool string, args func(i int) map[string]any) request {
		return request{name: tool, cs: cs, token: token, method: "tools/call",
			params: func(i int) any { return map[string]any{"name": tool, "arguments": args(i)} },
			sdkCall: func(i int) answer {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args(i)})
				return sdkAnswer(res, err)
			}}
	}
	byID := func(int) map[string]any { return map[string]any{"customer_id": id} }
	requests := []request{
		toolReq(agent, rf.keys["eu-agent"], toolGetCustomer, byID),
		toolReq(agent, rf.keys["eu-agent"], toolLookupCustomer, byID),
		toolReq(agent, rf.keys["eu-agent"], toolOverview, byID),
		toolReq(writer, rf.keys["eu-writer"], toolUpdateEmail, func(i int) map[string]any {
			return map[string]any{"customer_id": id, "new_email": "moved@example.com"}
		}),
		toolReq(writer, rf.keys["eu-writer"], toolAddNote, func(i int) map[string]any {
			// A fresh key per request, so no answer is a replay.
			return map[string]any{"customer_id": id, "body": "called about the invoice", "idempotency_key": fmt.Sprintf("row-access-note-%d", i)}
		}),
		{name: "resources/read", cs: agent, token: rf.keys["eu-agent"], method: "resources/read",
			params: func(int) any { return map[string]any{"uri": customerScheme + id} },
			sdkCall: func(int) answer {
				return sdkAnswer(agent.ReadResource(ctx, &mcp.ReadResourceParams{URI: customerScheme + id}))
			}},
		{name: "prompts/get", cs: agent, token: rf.keys["eu-agent"], method: "prompts/get",
			params: func(int) any {
				return map[string]any{"name": promptSummary, "arguments": map[string]string{"customer_id": id}}
			},
			sdkCall: func(int) answer {
				return sdkAnswer(agent.GetPrompt(ctx, &mcp.GetPromptParams{Name: promptSummary, Arguments: map[string]string{"customer_id": id}}))
			}},
	}
	ask := func(phase int) []answer {
		out := make([]answer, len(requests))
		for i, r := range requests {
			a := r.sdkCall(2 * phase)
			a.raw = rf.rawCall(r.cs, r.token, r.method, r.params(2*phase+1))
			out[i] = a
		}
		return out
	}

	rf.owner(`INSERT INTO customers (id, name, email, tier, region, created_at, updated_at)
	          VALUES ($1, 'Hidden Person', 'hidden@example.com', 'gold', 'us', now(), now())`, id)
	auditFrom := len(rf.auditLines())
	outside := ask(0)
	outsideRecords := rf.auditLines()[auditFrom:]
	rf.owner(`DELETE FROM customers WHERE id = $1`, id)
	auditFrom = len(rf.auditLines())
	missing := ask(1)
	missingRecords := rf.auditLines()[auditFrom:]

	for i, r := range requests {
		o, m := outside[i].normalized(t), missing[i].normalized(t)
		if o != m {
			t.Errorf("%s: outside reach and missing differ:\noutside %+v\nmissing %+v", r.name, o, m)
		}
		if o.result == "" && o.code == 0 {
			t.Errorf("%s: no refusal at all: %+v", r.name, o)
		}
		for _, leak := range []string{"hidden", "reach", "region"} {
			if strings.Contains(strings.ToLower(o.raw+o.result+o.errMsg+o.errData), leak) {
				t.Errorf("%s: the answer mentions %q: %s", r.name, leak, o.raw)
			}
		}
	}
	// Spot-check the shapes the client relies on: a tool's not-found is an
	// IsError result naming the argument; a resource's is the SDK's
	// "Resource not found".
	if !strings.Contains(outside[0].result, `"isError":true`) || !strings.Contains(outside[0].result, `no customer has ID \"C-900000\"`) {
		t.Errorf("get_customer answer: %s", outside[0].result)
	}
	if outside[5].code != jsonrpc.CodeInvalidParams || !strings.Contains(outside[5].errMsg, "Resource not found") {
		t.Errorf("resources/read answer: %+v", outside[5])
	}

	// The audit record says why, for the operator only: every request
	// above (SDK and raw) was withheld, none of the missing ones.
	count := func(recs []*audit.Record) (withheld, calls int) {
		for _, r := range recs {
			if r.Kind != audit.KindCall {
				continue
			}
			calls++
			if r.Fields["row_access"] == "outside_reach" {
				withheld++
			}
			if r.Fields["reach"] != "limited" {
				t.Errorf("record of a limited caller without reach=limited: %s", r.Line())
			}
		}
		return
	}
	if w, n := count(outsideRecords); n != 2*len(requests) || w != n {
		t.Errorf("outside reach: %d of %d call records say row_access=outside_reach; want %d of %d", w, n, 2*len(requests), 2*len(requests))
	}
	if w, n := count(missingRecords); n != 2*len(requests) || w != 0 {
		t.Errorf("missing: %d of %d call records say row_access=outside_reach; want 0", w, n)
	}

	// Nothing was written to the customer out of reach.
	var notes int
	conn, err := pgx.Connect(ctx, rf.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM customer_notes WHERE author = 'eu-writer'`).Scan(&notes); err != nil || notes != 0 {
		t.Errorf("notes written out of reach: %d %v", notes, err)
	}
}

// TestRowAccessWithinReach: a limited caller reads and writes the
// customers it reaches; a caller the policy does not limit reaches all.
func TestRowAccessWithinReach(t *testing.T) {
	rf := newRowFixture(t)
	for _, c := range []struct {
		principal, id string
		ok            bool
	}{
		{"eu-agent", "C-000001", true},
		{"eu-agent", "C-000012", false}, // us
		{"eu-agent", "C-000036", true},
		{"one-customer", "C-000012", true},
		{"one-customer", "C-000013", false}, // us, but not named
		{"one-customer", "C-000001", false},
		{"reader", "C-000012", true},
		{"reader", "C-000024", true}, // apac
	} {
		cs := rf.connect(rf.keys[c.principal])
		res, err, ref := call(t, cs, toolGetCustomer, map[string]any{"customer_id": c.id})
		if got := err == nil && ref == nil; got != c.ok {
			t.Errorf("%s reads %s: ok=%t, want %t (%v %+v)", c.principal, c.id, got, c.ok, err, ref)
		}
		if c.ok {
			var got Customer
			b, _ := json.Marshal(res.StructuredContent)
			if json.Unmarshal(b, &got) != nil || got.ID != c.id || got.Region == "" {
				t.Errorf("%s reads %s: %s", c.principal, c.id, b)
			}
		}
	}
	writer := rf.connect(rf.keys["eu-writer"])
	var c Customer
	mustOK(t, writer, toolUpdateEmail, map[string]any{"customer_id": "C-000002", "new_email": "grace.new@example.com"}, &c)
	if c.Email != "grace.new@example.com" || c.Region != "eu" {
		t.Errorf("update within reach: %+v", c)
	}
	var n Note
	mustOK(t, writer, toolAddNote, map[string]any{"customer_id": "C-000002", "body": "moved house", "idempotency_key": "row-access-ok-1"}, &n)
	if n.CustomerID != "C-000002" {
		t.Errorf("note within reach: %+v", n)
	}
	// The repeat returns the note, and the same key for a customer out of
	// reach is refused as a reused key, as for a missing customer.
	mustOK(t, writer, toolAddNote, map[string]any{"customer_id": "C-000002", "body": "moved house", "idempotency_key": "row-access-ok-1"}, &n)
	one := rf.connect(rf.keys["one-customer"])
	var o Overview
	mustOK(t, one, toolOverview, map[string]any{"customer_id": "C-000012"}, &o)
	if o.Customer == nil || o.Customer.ID != "C-000012" || len(o.RecentOrders) == 0 {
		t.Errorf("overview within reach: %+v", o)
	}
}

// TestRowAccessSearch: searches of a limited caller list only customers
// within reach, the filter applied before the page limit, so pages are
// full and cursors walk the caller's customers without gaps or repeats.
func TestRowAccessSearch(t *testing.T) {
	rf := newRowFixture(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, rf.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	truth := func(where string, n int) []string {
		rows, err := conn.Query(ctx, `SELECT id FROM customers WHERE `+where+` ORDER BY id LIMIT $1`, n)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	pages := func(cs *mcp.ClientSession, query string, size, n int) (ids []string, regions map[string]bool) {
		regions = map[string]bool{}
		cursor := ""
		for range n {
			args := map[string]any{"query": query, "page_size": size}
			if cursor != "" {
				args["cursor"] = cursor
			}
			var page searchResult
			mustOK(t, cs, toolSearchCustomers, args, &page)
			for _, c := range page.Customers {
				ids = append(ids, c.ID)
				regions[c.Region] = true
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		return ids, regions
	}

	agent := rf.connect(rf.keys["eu-agent"])
	ids, regions := pages(agent, "", 7, 6)
	if want := truth(`region = 'eu'`, 42); !slices.Equal(ids, want) {
		t.Errorf("eu-agent's pages:\n got %v\nwant %v", ids, want)
	}
	if len(regions) != 1 || !regions["eu"] {
		t.Errorf("eu-agent saw regions %v", regions)
	}
	// With a query: "ada" names customers in every region.
	ids, _ = pages(agent, "ada", 5, 4)
	if want := truth(`region = 'eu' AND (name ILIKE '%ada%' OR email ILIKE '%ada%')`, 20); !slices.Equal(ids, want) || len(want) < 20 {
		t.Errorf("eu-agent's search for ada:\n got %v\nwant %v", ids, want)
	}
	one := rf.connect(rf.keys["one-customer"])
	if ids, _ := pages(one, "", 20, 3); !slices.Equal(ids, []string{"C-000012"}) {
		t.Errorf("one-customer lists %v", ids)
	}
	reader := rf.connect(rf.keys["reader"])
	ids, regions = pages(reader, "", 50, 1)
	if want := truth(`true`, 50); !slices.Equal(ids, want) || len(regions) != 3 {
		t.Errorf("an unlimited reader lists %v (regions %v)", ids, regions)
	}
	// A cursor from one caller's search is a position, not a grant: in
	// another caller's hands it still yields only that caller's customers.
	var first searchResult
	mustOK(t, reader, toolSearchCustomers, map[string]any{"page_size": 11}, &first) // ends at C-000011
	var next searchResult
	mustOK(t, agent, toolSearchCustomers, map[string]any{"page_size": 3, "cursor": first.NextCursor}, &next)
	if got := []string{next.Customers[0].ID, next.Customers[1].ID, next.Customers[2].ID}; !slices.Equal(got, truth(`region = 'eu' AND id > 'C-000011'`, 3)) {
		t.Errorf("eu-agent with the reader's cursor: %v", got)
	}
}

// TestRowAccessPolicyReload: narrowing a principal's reach in the policy
// file applies to the next call, cached answers included.
func TestRowAccessPolicyReload(t *testing.T) {
	rf := newRowFixture(t)
	agent := rf.connect(rf.keys["eu-agent"])
	res := mustOK(t, agent, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)
	if cacheStatusOf(res) != "miss" {
		t.Skipf("cache status %q: the cache is off", cacheStatusOf(res))
	}
	if res := mustOK(t, agent, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil); cacheStatusOf(res) != "hit" {
		t.Fatalf("second read: %q, want a cache hit", cacheStatusOf(res))
	}
	tmp := rf.policy + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Replace(rowPolicy, "eu-agent:\n    attributes:\n      regions: [eu]", "eu-agent:\n    attributes:\n      regions: [us]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, rf.policy); err != nil {
		t.Fatal(err)
	}
	eng := rf.srv.layers.policy
	deadline := time.Now().Add(10 * time.Second)
	for eng.Stats().Generation < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("reload not picked up: %+v", eng.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, ref := call(t, agent, toolGetCustomer, map[string]any{"customer_id": "C-000001"}); ref == nil || !strings.Contains(ref.Message, "no customer has ID") {
		t.Errorf("C-000001 after the reach moved to us: %+v", ref)
	}
	mustOK(t, agent, toolGetCustomer, map[string]any{"customer_id": "C-000012"}, nil)
}

func TestReachOf(t *testing.T) {
	for _, c := range []struct {
		name  string
		attrs map[string][]string
		want  Reach
	}{
		{"not named", nil, Reach{}},
		{"other attributes", map[string][]string{"team": {"support"}}, Reach{}},
		{"regions", map[string][]string{"regions": {"eu"}}, Reach{Limited: true, Regions: []string{"eu"}}},
		{"customers", map[string][]string{"customers": {"C-1"}}, Reach{Limited: true, IDs: []string{"C-1"}}},
		{"both", map[string][]string{"regions": {"eu", "us"}, "customers": {"C-1"}}, Reach{Limited: true, Regions: []string{"eu", "us"}, IDs: []string{"C-1"}}},
		{"empty list reaches nothing", map[string][]string{"regions": {}}, Reach{Limited: true, Regions: []string{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := reachOf(c.attrs); !reflect.DeepEqual(got, c.want) {
				t.Errorf("reachOf(%v) = %+v, want %+v", c.attrs, got, c.want)
			}
		})
	}
}

package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// recordSink keeps the audit records written to it.
type recordSink struct {
	mu sync.Mutex
	rs []*audit.Record
}

func (s *recordSink) Write(_ context.Context, r *audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rs = append(s.rs, r)
	return nil
}

func (s *recordSink) calls() []*audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*audit.Record
	for _, r := range s.rs {
		if r.Kind == audit.KindCall {
			out = append(out, r)
		}
	}
	return out
}

// listServer serves tools, resources, a template and prompts, with pages of
// pageSize items (0: the SDK's default), guarded by one Guard installed with
// bulwark.Use alone, inside audit, Recover and metrics. The caller is
// "reader", holding customers:read only.
type listServer struct {
	s     *mcp.Server
	sink  *recordSink
	trail *audit.Logger
	reg   *prometheus.Registry
}

func newListServer(t *testing.T, pageSize int, extra auth.Policies) *listServer {
	t.Helper()
	ls := &listServer{sink: &recordSink{}, reg: prometheus.NewRegistry()}
	var err error
	ls.trail, err = audit.New(ls.sink, []byte(strings.Repeat("k", 32)), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(ls.reg, metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.Config{
		StaticPrincipal: &auth.Principal{ID: "reader", Scopes: []string{"customers:read"}},
		DenyUnlisted:    true,
		DefaultPolicy:   auth.RequireAll("customers:write"),
		Policies:        auth.Policies{"get_a": auth.Allow(), "get_c": auth.Allow(), "get_e": auth.Allow()},
		ResourcePolicies: auth.Policies{
			"config://public": auth.Allow(),
			"customer://{id}": auth.RequireAll("customers:read"),
		},
		PromptPolicies: auth.Policies{"summary": auth.RequireAll("customers:read")},
	}
	for name, pol := range extra {
		cfg.Policies[name] = pol
	}
	guard, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ls.s = mcp.NewServer(&mcp.Implementation{Name: "lists", Version: "v1"}, &mcp.ServerOptions{PageSize: pageSize})
	// Tools sort by name in the SDK's pages: allowed and refused alternate.
	for _, name := range []string{"get_a", "set_b", "get_c", "set_d", "get_e", "set_f", "set_g"} {
		bulwark.AddToolHandler(ls.s, &mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}}, (&bulwarktest.Recorder{}).Handle)
	}
	read := func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "x"}}}, nil
	}
	ls.s.AddResource(&mcp.Resource{URI: "config://public", Name: "public"}, read)
	ls.s.AddResource(&mcp.Resource{URI: "secret://keys", Name: "keys"}, read)
	ls.s.AddResource(&mcp.Resource{URI: "customer://1", Name: "first"}, read)
	ls.s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "customer://{id}", Name: "customer"}, read)
	ls.s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "invoice://{id}", Name: "invoice"}, read)
	prompt := func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "x"}}}}, nil
	}
	ls.s.AddPrompt(&mcp.Prompt{Name: "summary"}, prompt)
	ls.s.AddPrompt(&mcp.Prompt{Name: "wipe"}, prompt)
	// One call installs authentication for the calls and the lists.
	bulwark.Use(ls.s, audit.Middleware(ls.trail), bulwark.Recover(nil), metrics.Middleware(m), guard.Middleware())
	return ls
}

func (ls *listServer) methodCount(t *testing.T, method, outcome string) float64 {
	t.Helper()
	mfs, err := ls.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "bulwark_method_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["method"] == method && (outcome == "" || labels["outcome"] == outcome) {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// One Guard installed with bulwark.Use, and nothing else, hides from every
// list what the caller may not use; each list request is one audit record
// naming the method and the caller, and one count in the metrics.
func TestGuardInUseAloneFiltersEveryList(t *testing.T) {
	ls := newListServer(t, 0, nil)
	cs := bulwarktest.Connect(t, ls.s, nil)
	ctx := context.Background()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	resources, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	templates, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	prompts, err := cs.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each list is this caller's view: no shared cache may serve it to
	// another caller.
	for name, scope := range map[string]string{"tools": tools.CacheScope, "resources": resources.CacheScope,
		"templates": templates.CacheScope, "prompts": prompts.CacheScope} {
		if scope != "private" {
			t.Errorf("%s list: cacheScope %q, want private", name, scope)
		}
	}
	got := map[string][]string{}
	for _, x := range tools.Tools {
		got["tools"] = append(got["tools"], x.Name)
	}
	for _, x := range resources.Resources {
		got["resources"] = append(got["resources"], x.URI)
	}
	for _, x := range templates.ResourceTemplates {
		got["templates"] = append(got["templates"], x.URITemplate)
	}
	for _, x := range prompts.Prompts {
		got["prompts"] = append(got["prompts"], x.Name)
	}
	want := map[string][]string{
		"tools":     {"get_a", "get_c", "get_e"},
		"resources": {"config://public", "customer://1"},
		"templates": {"customer://{id}"},
		"prompts":   {"summary"},
	}
	for k, w := range want {
		g := got[k]
		slices.Sort(g)
		if !slices.Equal(g, w) {
			t.Errorf("%s listed %v, want %v", k, g, w)
		}
	}

	if err := ls.trail.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, r := range ls.sink.calls() {
		methods = append(methods, r.Method)
		if r.Principal != "reader" || r.Outcome != string(bulwark.OutcomeOK) || r.Tool != "" {
			t.Errorf("record of %s: principal %q, outcome %q, tool %q", r.Method, r.Principal, r.Outcome, r.Tool)
		}
	}
	lists := []string{bulwark.MethodListTools, bulwark.MethodListResources, bulwark.MethodListResourceTemplates, bulwark.MethodListPrompts}
	if !slices.Equal(methods, lists) {
		t.Errorf("audit records %v, want exactly one per list %v", methods, lists)
	}
	for _, method := range lists {
		if n := ls.methodCount(t, method, "ok"); n != 1 {
			t.Errorf("bulwark_method_calls_total{method=%q,outcome=ok} = %v, want 1", method, n)
		}
	}
}

// The SDK paginates lists and each page is filtered on its own: every page
// keeps its cursor, a page may come back short or empty, and a client that
// follows nextCursor sees each item it may use exactly once. Each page is
// one request: one record, one count.
func TestGuardFiltersEachPage(t *testing.T) {
	ls := newListServer(t, 2, nil)
	cs := bulwarktest.Connect(t, ls.s, nil)
	ctx := context.Background()

	var (
		pages  [][]string
		cursor string
	)
	for range 20 {
		res, err := cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, tool := range res.Tools {
			page = append(page, tool.Name)
		}
		pages = append(pages, page)
		if cursor = res.NextCursor; cursor == "" {
			break
		}
	}
	// Pages of the SDK: [get_a get_c] [get_e set_b] [set_d set_f] [set_g].
	want := [][]string{{"get_a", "get_c"}, {"get_e"}, nil, nil}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("pages %v, want %v", pages, want)
	}

	// The SDK's iterator follows the cursors and sees the same.
	var all []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tool.Name)
	}
	if !slices.Equal(all, []string{"get_a", "get_c", "get_e"}) {
		t.Errorf("iterated %v", all)
	}
	// A cursor the SDK did not issue is still the SDK's error.
	_, err := cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: "forged"})
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("forged cursor: %v, want invalid params", err)
	}
	if n := ls.methodCount(t, bulwark.MethodListTools, ""); n != 9 {
		t.Errorf("tools/list counted %v times, want 9 (4 pages, 4 pages, 1 forged)", n)
	}
	if err := ls.trail.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(ls.sink.calls()); n != 9 {
		t.Errorf("%d audit records, want 9", n)
	}
}

// A policy that panics while a list is filtered is recovered: the client
// gets an internal error with a correlation ID, the record says internal,
// and the server keeps serving.
func TestPanicInListFilterIsRecovered(t *testing.T) {
	ls := newListServer(t, 0, auth.Policies{"set_g": auth.Predicate("boom", func(context.Context, *auth.Principal, *mcp.Tool) bool {
		panic("policy broke")
	})})
	cs := bulwarktest.Connect(t, ls.s, nil)
	ctx := context.Background()
	_, err := cs.ListTools(ctx, nil)
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != bulwark.CodeInternal.RPCCode() || !strings.HasPrefix(wire.Message, "internal error (id ") {
		t.Fatalf("tools/list: %v, want internal error", err)
	}
	if strings.Contains(wire.Message, "policy broke") {
		t.Error("the panic reached the client")
	}
	if _, err := cs.ListPrompts(ctx, nil); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
	if n := ls.methodCount(t, bulwark.MethodListTools, "internal"); n != 1 {
		t.Errorf("internal tools/list counted %v times, want 1", n)
	}
	if err := ls.trail.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rs := ls.sink.calls()
	if len(rs) != 2 || rs[0].Method != bulwark.MethodListTools || rs[0].Outcome != "internal" || rs[0].Principal != "reader" {
		t.Fatalf("records %+v", rs)
	}
}

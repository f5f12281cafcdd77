package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// testTools are the tools every test policy is checked against.
func testTools() []*mcp.Tool {
	obj := func(props ...string) map[string]any {
		p := map[string]any{}
		for _, n := range props {
			p[n] = map[string]any{"type": "string"}
		}
		return map[string]any{"type": "object", "properties": p}
	}
	return []*mcp.Tool{
		{Name: "get_customer", InputSchema: obj("id"), Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		{Name: "search_customers", InputSchema: obj("query", "region"), Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		{Name: "update_customer_email", InputSchema: obj("id", "email")},
		{Name: "delete_customer", InputSchema: obj("id")},
	}
}

func writeFile(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	// Replace atomically, as operators (and Kubernetes) do, so a reader
	// never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// argRules is a tiny Compiler for tests: "arg:NAME" allows calls whose
// argument NAME is "ok" (and fails to compile when the tool has no such
// argument); "key:NAME" yields the argument as a rate-limit key.
type argRules struct{}

type argProgram struct {
	name string
	key  bool
}

func (argRules) Compile(src policy.Source) (policy.Program, error) {
	kind, name, ok := strings.Cut(src.Expr, ":")
	if !ok || (kind == "arg") != (src.Result == policy.Bool) {
		return nil, fmt.Errorf("cannot compile %q", src.Expr)
	}
	if props, _ := src.Tool.InputSchema.(map[string]any)["properties"].(map[string]any); props != nil {
		if _, ok := props[name]; !ok {
			return nil, fmt.Errorf("undeclared argument %q", name)
		}
	}
	return argProgram{name: name, key: kind == "key"}, nil
}

func (p argProgram) Eval(_ context.Context, in *policy.Input) (any, error) {
	v, _ := in.Args[p.name].(string)
	if p.key {
		return v, nil
	}
	return v == "ok" || (v != "" && v != "no" && v != "bad"), nil
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		rules      policy.Compiler
		want       []string // "line: message" of each error, in order
	}{
		{"unknown tool", "version: 1\ntools:\n  - name: get_customer\n  - name: get_custmer\n    timeout: 1s\n", nil,
			[]string{`4: tool "get_custmer" is not served (known: delete_customer, get_customer, search_customers, update_customer_email)`}},
		{"glob matching nothing", "version: 1\ntools:\n  - name: list_*\n", nil,
			[]string{`3: "list_*" matches no tool the server serves`}},
		{"negative limits", "version: 1\ntools:\n  - name: get_customer\n    rate: {calls: -1, per: 1m}\n    concurrency: -2\n    timeout: -1s\n", nil,
			[]string{"4: rate.calls must not be negative (got -1)", "5: concurrency must not be negative (got -2)", "6: timeout must not be negative (got -1s)"}},
		{"rate without per", "version: 1\ndefaults:\n  rate:\n    calls: 5\ntools:\n  - name: get_customer\n    rate: {calls: 6}\n", nil,
			[]string{`4: rate has calls but no per (a duration such as 1m, here or in defaults), for tool "search_customers", "update_customer_email", "delete_customer"`, `7: rate has calls but no per (a duration such as 1m, here or in defaults), for tool "get_customer"`}},
		{"unknown field", "version: 1\ntools:\n  - name: get_customer\n    timout: 1s\n", nil,
			[]string{`4: unknown field "timout"`}},
		{"wrong version", "version: 2\n", nil, []string{"1: version must be 1 (got 2)"}},
		{"unknown argument in a rule", "version: 1\ntools:\n  - name: get_customer\n    rule: arg:region\n", argRules{},
			[]string{`4: rule for tool "get_customer": undeclared argument "region"`}},
		{"unknown argument in a glob's rule", "version: 1\ntools:\n  - name: '*_customer*'\n    rule: arg:id\n", argRules{},
			[]string{`4: rule for tool "search_customers": undeclared argument "id"`}},
		{"rule without a compiler", "version: 1\ntools:\n  - name: get_customer\n    rule: arg:id\n", nil,
			[]string{"4: rule needs a rule compiler (Config.Rules, such as celrule.New())"}},
		{"unknown sensitive argument", "version: 1\ntools:\n  - name: update_customer_email\n    sensitive: [email, phone]\n", nil,
			[]string{`4: tool "update_customer_email" has no argument "phone"`}},
		{"bad unlisted", "version: 1\nunlisted: maybe\n", nil, []string{`2: unlisted must be allow or deny (got "maybe")`}},
		{"syntax", "version: 1\ntools: [\n", nil, []string{"2: "}},
		{"bad duration", "version: 1\ndefaults:\n  timeout: soon\n", nil, []string{`3: "soon" is not a duration`}},
		{"json", `{"version": 1,
 "tools": [{"name": "nope"}]}`, nil, []string{`2: tool "nope" is not served`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "policy.yaml", tc.body)
			_, err := policy.New(policy.Config{Path: path, Tools: testTools, Rules: tc.rules})
			if err == nil {
				t.Fatal("loaded")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], path+":"+w) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i], path+":"+w)
				}
			}
			var le *policy.LoadError
			if !errors.As(err, &le) || le.File != path || le.Line == 0 {
				t.Errorf("errors.As LoadError = %+v", le)
			}
		})
	}
}

const samplePolicy = `version: 1
unlisted: allow
defaults:
  timeout: 10s
  rate: {calls: 600, per: 1m, burst: 20}
  cache_ttl: 30s
tools:
  - name: "*_customer*"
    scopes: [customers:read]
    retry: {attempts: 3, backoff: 100ms, max_backoff: 2s}
  - name: update_customer_email
    scopes: [customers:write]
    rate: {calls: 10}
    concurrency: 2
    cache_ttl: 0s
    breaker: {trip_after: 5, open_for: 10s}
    sensitive: [email]
  - name: delete_customer
    roles: [admin, support]
    rule: arg:reason
    rule_name: needs-a-reason
resources:
  - name: "customer://*"
    scopes: [customers:read]
    timeout: 2s
prompts:
  - name: summarize
    any_scopes: [customers:read, reports]
principals:
  alice:
    attributes:
      regions: [eu]
`

func callCtx(tool string, args any, p *bulwark.Principal, defs []*mcp.Tool) (context.Context, *mcp.CallToolRequest) {
	req := bulwarktest.Request(tool, args)
	var def *mcp.Tool
	for _, d := range defs {
		if d.Name == tool {
			def = d
		}
	}
	ctx, c := bulwarktest.Context(context.Background(), req, def)
	c.SetPrincipal(p)
	return ctx, req
}

// through runs fn inside eng's Middleware, as a layer inside it would.
func through(t *testing.T, eng *policy.Engine, ctx context.Context, req *mcp.CallToolRequest, fn func(ctx context.Context)) {
	t.Helper()
	_, err := eng.Middleware()(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		fn(ctx)
		return &mcp.CallToolResult{}, nil
	})(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
}

func TestTerms(t *testing.T) {
	defs := append(testTools(), &mcp.Tool{Name: "delete_customer", InputSchema: map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{}, "reason": map[string]any{}}}})
	defs = append(defs[:3], defs[4])
	path := writeFile(t, t.TempDir(), "policy.yaml", samplePolicy)
	eng, err := policy.New(policy.Config{Path: path, Tools: func() []*mcp.Tool { return defs }, Rules: argRules{}})
	if err != nil {
		t.Fatal(err)
	}
	timeout := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.Timeout })
	ttl := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.CacheTTL })
	rate := policy.Value(eng, func(s *policy.Terms) policy.Rate { return s.Rate })
	for _, tc := range []struct {
		tool      string
		timeout   time.Duration
		ttl       time.Duration
		rate      policy.Rate
		sensitive []string
	}{
		{"get_customer", 10 * time.Second, 30 * time.Second, policy.Rate{Calls: 600, Per: time.Minute, Burst: 20}, nil},
		{"update_customer_email", 10 * time.Second, 0, policy.Rate{Calls: 10, Per: time.Minute, Burst: 20}, []string{"email"}},
		{"unregistered", 10 * time.Second, 30 * time.Second, policy.Rate{Calls: 600, Per: time.Minute, Burst: 20}, nil},
	} {
		ctx, req := callCtx(tc.tool, nil, nil, defs)
		if got := timeout(ctx, req); got != tc.timeout {
			t.Errorf("%s timeout = %v, want %v", tc.tool, got, tc.timeout)
		}
		if got := ttl(ctx, req); got != tc.ttl {
			t.Errorf("%s ttl = %v, want %v", tc.tool, got, tc.ttl)
		}
		if got := rate(ctx, req); got != tc.rate {
			t.Errorf("%s rate = %+v, want %+v", tc.tool, got, tc.rate)
		}
		if got := eng.Snapshot().For(ctx, req).Sensitive; fmt.Sprint(got) != fmt.Sprint(tc.sensitive) {
			t.Errorf("%s sensitive = %v, want %v", tc.tool, got, tc.sensitive)
		}
	}
	s := eng.Snapshot().For(callCtx("update_customer_email", nil, nil, defs))
	if s.Concurrency != 2 || s.Breaker != (policy.Trip{TripAfter: 5, OpenFor: 10 * time.Second}) ||
		s.Retry != (policy.Retry{Attempts: 3, Backoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}) ||
		fmt.Sprint(s.Scopes) != "[customers:write]" || !s.Listed {
		t.Errorf("update_customer_email settings = %+v", s)
	}
	if got := eng.Snapshot().Attributes("alice")["regions"]; fmt.Sprint(got) != "[eu]" {
		t.Errorf("alice's regions = %v", got)
	}
	if eng.Snapshot().Attributes("bob") != nil {
		t.Error("bob has attributes")
	}
}

func TestAuthorize(t *testing.T) {
	defs := testTools()
	defs[3] = &mcp.Tool{Name: "delete_customer", InputSchema: map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{}, "reason": map[string]any{}}}}
	path := writeFile(t, t.TempDir(), "policy.yaml", samplePolicy)
	eng, err := policy.New(policy.Config{Path: path, Tools: func() []*mcp.Tool { return defs }, Rules: argRules{}})
	if err != nil {
		t.Fatal(err)
	}
	authz := eng.Authorize()
	reader := &bulwark.Principal{ID: "r", Scopes: []string{"customers:read"}}
	writer := &bulwark.Principal{ID: "w", Scopes: []string{"customers:read", "customers:write"}}
	admin := &bulwark.Principal{ID: "a", Scopes: []string{"customers:read"}, Roles: []string{"admin"}}
	for _, tc := range []struct {
		name string
		tool string
		args any
		p    *bulwark.Principal
		want string // "" allows
	}{
		{"reader reads", "get_customer", nil, reader, ""},
		{"reader cannot write", "update_customer_email", nil, reader, "missing scope customers:write"},
		{"writer writes", "update_customer_email", nil, writer, ""},
		{"nobody without scope", "get_customer", nil, &bulwark.Principal{ID: "x"}, "missing scope customers:read"},
		{"reader cannot delete", "delete_customer", map[string]any{"reason": "gdpr"}, reader, "missing role admin"},
		{"admin deletes with a reason", "delete_customer", map[string]any{"reason": "gdpr"}, admin, ""},
		{"the rule refuses, named", "delete_customer", map[string]any{"reason": "no"}, admin, "denied by policy rule needs-a-reason"},
		{"the rule refuses without the argument", "delete_customer", map[string]any{}, admin, "denied by policy rule needs-a-reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, req := callCtx(tc.tool, tc.args, tc.p, defs)
			var def *mcp.Tool
			for _, d := range defs {
				if d.Name == tc.tool {
					def = d
				}
			}
			var err error
			through(t, eng, ctx, req, func(ctx context.Context) { err = authz(ctx, tc.p, def) })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, bulwark.CodePermissionDenied):
				t.Fatalf("err = %v, not a permission refusal", err)
			}
		})
	}
}

func TestUnlistedDeny(t *testing.T) {
	path := writeFile(t, t.TempDir(), "policy.yaml", "version: 1\nunlisted: deny\ntools:\n  - name: get_customer\n")
	eng, err := policy.New(policy.Config{Path: path, Tools: testTools})
	if err != nil {
		t.Fatal(err)
	}
	p := &bulwark.Principal{ID: "x"}
	ctx, _ := callCtx("get_customer", nil, p, testTools())
	if err := eng.Authorize()(ctx, p, &mcp.Tool{Name: "get_customer"}); err != nil {
		t.Errorf("listed tool refused: %v", err)
	}
	ctx, _ = callCtx("delete_customer", nil, p, testTools())
	if err := eng.Authorize()(ctx, p, &mcp.Tool{Name: "delete_customer"}); !errors.Is(err, bulwark.CodePermissionDenied) {
		t.Errorf("unlisted tool: %v", err)
	}
}

func TestRateKey(t *testing.T) {
	path := writeFile(t, t.TempDir(), "policy.yaml", "version: 1\ntools:\n  - name: search_customers\n    rate_key: key:region\n")
	eng, err := policy.New(policy.Config{Path: path, Tools: testTools, Rules: argRules{}})
	if err != nil {
		t.Fatal(err)
	}
	key := eng.RateKey(func(ctx context.Context, _ *mcp.CallToolRequest) string {
		return "principal:" + bulwark.CallFrom(ctx).PrincipalID()
	})
	p := &bulwark.Principal{ID: "alice"}
	ctx, req := callCtx("search_customers", map[string]any{"region": "eu"}, p, testTools())
	if got := key(ctx, req); got != "eu" {
		t.Errorf("key = %q, want eu", got)
	}
	ctx, req = callCtx("get_customer", map[string]any{"id": "1"}, p, testTools())
	if got := key(ctx, req); got != "principal:alice" {
		t.Errorf("key = %q, want the default", got)
	}
}

func TestResourcesAndPrompts(t *testing.T) {
	path := writeFile(t, t.TempDir(), "policy.yaml", samplePolicy)
	defs := testTools()
	defs[3] = &mcp.Tool{Name: "delete_customer", InputSchema: map[string]any{"type": "object", "properties": map[string]any{"reason": map[string]any{}}}}
	eng, err := policy.New(policy.Config{Path: path, Tools: func() []*mcp.Tool { return defs }, Rules: argRules{}})
	if err != nil {
		t.Fatal(err)
	}
	timeout := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.Timeout })
	read := &mcp.ReadResourceRequest{Params: &mcp.ReadResourceParams{URI: "customer://42/orders"}}
	args, _ := json.Marshal(read.Params)
	stand := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: bulwark.MethodReadResource, Arguments: args}}
	// The record of a resource read, as bulwark.Use makes it.
	ctx, c := bulwarktest.Context(context.Background(), stand, nil)
	c.Method, c.Target = bulwark.MethodReadResource, "customer://42/orders"
	c.SetRequest(read)
	if got := timeout(ctx, stand); got != 2*time.Second {
		t.Errorf("resource timeout = %v, want the 2s of customer://*", got)
	}
	res := &mcp.Tool{Name: "customer://42/orders"}
	if err := eng.Authorize()(ctx, &bulwark.Principal{ID: "x"}, res); !errors.Is(err, bulwark.CodePermissionDenied) {
		t.Errorf("read without customers:read: err = %v, want permission denied", err)
	}
	if err := eng.Authorize()(ctx, &bulwark.Principal{ID: "y", Scopes: []string{"customers:read"}}, res); err != nil {
		t.Errorf("read with customers:read: %v", err)
	}
}

// TestRateLimit checks the conversion of a file's rate to a limiter's
// limit: calls per period as tokens per second, a burst of at least 1, the
// zero Limit (exempt) without calls, and an invalid Limit (so the call is
// refused, never let through) for a rate without a period.
func TestRateLimit(t *testing.T) {
	tests := []struct {
		rate policy.Rate
		want ratelimit.Limit
	}{
		{policy.Rate{Calls: 60, Per: time.Minute, Burst: 10}, ratelimit.Limit{Rate: 1, Burst: 10}},
		{policy.Rate{Calls: 10, Per: time.Second}, ratelimit.Limit{Rate: 10, Burst: 1}},
		{policy.Rate{}, ratelimit.Limit{}},
		{policy.Rate{Calls: 0, Per: time.Minute, Burst: 5}, ratelimit.Limit{}},
	}
	for _, tc := range tests {
		if got := tc.rate.Limit(); got != tc.want {
			t.Errorf("%+v.Limit() = %+v, want %+v", tc.rate, got, tc.want)
		}
	}
	if err := (policy.Rate{Calls: 1}).Limit().Validate(); err == nil {
		t.Error("a rate without a period gives a valid limit")
	}
}

package celrule_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/policy/celrule"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func writePolicy(t testing.TB, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func tools() []*mcp.Tool { return []*mcp.Tool{searchTool} }

// A policy file's rules and rate keys are CEL, checked at load against
// each tool's schema and run per call; a refusal names the rule.
func TestPolicyFileRules(t *testing.T) {
	path := writePolicy(t, `version: 1
tools:
  - name: search_customers
    rule: 'args.region in principal.claims.regions'
    rule_name: own-regions-only
    rate_key: 'principal.claims.tenant + ":" + tool.name'
`)
	eng, err := policy.New(policy.Config{Path: path, Tools: tools, Rules: celrule.New(celrule.Config{}), Clock: bulwarktest.NewFakeClock(noon)})
	if err != nil {
		t.Fatal(err)
	}
	authorize, key := eng.Authorize(), eng.RateKey(nil)
	for _, tc := range []struct {
		region string
		want   error
	}{{"eu", nil}, {"apac", bulwark.CodePermissionDenied}} {
		req := bulwarktest.Request("search_customers", map[string]any{"region": tc.region})
		ctx, c := bulwarktest.Context(context.Background(), req, searchTool)
		c.Start = noon
		c.SetPrincipal(alice)
		var err error
		var k string
		_, _ = eng.Middleware()(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			err = authorize(ctx, alice, searchTool)
			k = key(ctx, req)
			return nil, nil
		})(ctx, req)
		if !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
			t.Errorf("%s: %v", tc.region, err)
		}
		if err != nil && !strings.Contains(err.Error(), "denied by policy rule own-regions-only") {
			t.Errorf("the refusal does not name the rule: %v", err)
		}
		if k != "acme:search_customers" {
			t.Errorf("rate key = %q", k)
		}
	}
}

func TestPolicyFileUnknownArgument(t *testing.T) {
	path := writePolicy(t, "version: 1\ntools:\n  - name: search_customers\n    rule: 'args.regoin == \"eu\"'\n")
	_, err := policy.New(policy.Config{Path: path, Tools: tools, Rules: celrule.New(celrule.Config{})})
	want := path + `:4: rule for tool "search_customers": 1:5: undefined field 'regoin'`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

// BenchmarkRule is one evaluation of a typical rule: a scope, a claim
// and an argument.
func BenchmarkRule(b *testing.B) {
	prg, err := celrule.New(celrule.Config{}).Compile(policy.Source{
		Expr: `"customers:read" in principal.scopes && args.region in principal.claims.regions && args.page_size <= 50`,
		Tool: searchTool, Result: policy.Bool})
	if err != nil {
		b.Fatal(err)
	}
	in := &policy.Input{Principal: alice, Tool: searchTool, Args: map[string]any{"region": "eu", "page_size": 20.0}, Now: time.Now()}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if v, err := prg.Eval(ctx, in); v != true || err != nil {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkRuleSimple is the smallest useful rule: one argument compared.
func BenchmarkRuleSimple(b *testing.B) {
	prg, err := celrule.New(celrule.Config{}).Compile(policy.Source{Expr: `args.region == "eu"`, Tool: searchTool, Result: policy.Bool})
	if err != nil {
		b.Fatal(err)
	}
	in := &policy.Input{Principal: alice, Tool: searchTool, Args: map[string]any{"region": "eu"}, Now: time.Now()}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if v, err := prg.Eval(context.Background(), in); v != true || err != nil {
			b.Fatal(v, err)
		}
	}
}

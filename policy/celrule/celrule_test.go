package celrule_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/policy/celrule"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var searchTool = &mcp.Tool{
	Name:        "search_customers",
	Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	InputSchema: map[string]any{"type": "object", "properties": map[string]any{
		"query":     map[string]any{"type": "string"},
		"region":    map[string]any{"type": "string"},
		"page_size": map[string]any{"type": "integer"},
	}},
}

var alice = &bulwark.Principal{ID: "alice", Method: "jwt", Scopes: []string{"customers:read"}, Roles: []string{"support"},
	Claims: map[string]any{"tenant": "acme", "regions": []any{"eu", "us"}}}

var noon = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func TestRules(t *testing.T) {
	c := celrule.New(celrule.Config{})
	for _, tc := range []struct {
		expr string
		args map[string]any
		p    *bulwark.Principal
		want any
	}{
		{`"customers:read" in principal.scopes`, nil, alice, true},
		{`principal.id == "alice" && principal.method == "jwt"`, nil, alice, true},
		{`"admin" in principal.roles`, nil, alice, false},
		{`principal.claims.tenant == "acme"`, nil, alice, true},
		{`args.region in principal.claims.regions`, map[string]any{"region": "eu"}, alice, true},
		{`args.region in principal.claims.regions`, map[string]any{"region": "apac"}, alice, false},
		{`args.page_size <= 20`, map[string]any{"page_size": 10.0}, alice, true},
		{`args.page_size <= 20`, map[string]any{"page_size": 50.0}, alice, false},
		{`!has(args.query) || size(args.query) >= 3`, map[string]any{}, alice, true},
		{`!has(args.query) || size(args.query) >= 3`, map[string]any{"query": "ab"}, alice, false},
		{`tool.read_only && !tool.destructive && tool.name == "search_customers"`, nil, alice, true},
		{`now.getHours() >= 9 && now.getHours() < 17`, nil, alice, true},
		{`principal.id == ""`, nil, nil, true},
		{`principal.id + ":" + args.region`, map[string]any{"region": "eu"}, alice, "alice:eu"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			result := policy.Bool
			if _, ok := tc.want.(string); ok {
				result = policy.String
			}
			prg, err := c.Compile(policy.Source{Expr: tc.expr, Tool: searchTool, Kind: "tool", Result: result})
			if err != nil {
				t.Fatal(err)
			}
			args := tc.args
			if args == nil {
				args = map[string]any{}
			}
			got, err := prg.Eval(context.Background(), &policy.Input{Principal: tc.p, Tool: searchTool, Args: args, Now: noon})
			if err != nil || got != tc.want {
				t.Errorf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	c := celrule.New(celrule.Config{})
	for _, tc := range []struct {
		expr   string
		result policy.Result
		want   string
	}{
		{`args.regoin == "eu"`, policy.Bool, "undefined field 'regoin'"},
		{`args.page_size == "ten"`, policy.Bool, "no matching overload"},
		{`principal.name == "x"`, policy.Bool, "undefined field 'name'"},
		{`args.region`, policy.Bool, "yields string, not bool"},
		{`args.region == "eu"`, policy.String, "yields bool, not string"},
		{`args.region ==`, policy.Bool, "Syntax error"},
	} {
		_, err := c.Compile(policy.Source{Expr: tc.expr, Tool: searchTool, Kind: "tool", Result: tc.result})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q on one line", tc.expr, err, tc.want)
		}
	}
}

func TestRuntimeFailures(t *testing.T) {
	c := celrule.New(celrule.Config{CostLimit: 50})
	in := &policy.Input{Principal: alice, Tool: searchTool, Args: map[string]any{}, Now: noon}
	// An absent argument read without has() fails (and so refuses).
	prg, err := c.Compile(policy.Source{Expr: `args.region == "eu"`, Tool: searchTool, Result: policy.Bool})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prg.Eval(context.Background(), in); err == nil {
		t.Error("absent argument evaluated")
	}
	// A rule over its cost budget fails.
	prg, err = c.Compile(policy.Source{Expr: `[1,2,3,4,5,6,7,8,9,10].all(x, [1,2,3,4,5,6,7,8,9,10].all(y, x*y < 1000))`, Tool: searchTool, Result: policy.Bool})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prg.Eval(context.Background(), in); err == nil || !strings.Contains(err.Error(), "cost") {
		t.Errorf("over budget: %v", err)
	}
}

// A tool whose schema lists no arguments lets rules read any.
func TestUntypedArguments(t *testing.T) {
	c := celrule.New(celrule.Config{})
	prg, err := c.Compile(policy.Source{Expr: `args.anything == "x"`, Tool: &mcp.Tool{Name: "raw"}, Result: policy.Bool})
	if err != nil {
		t.Fatal(err)
	}
	got, err := prg.Eval(context.Background(), &policy.Input{Tool: &mcp.Tool{Name: "raw"}, Args: map[string]any{"anything": "x"}, Now: noon})
	if got != true || err != nil {
		t.Errorf("= %v, %v", got, err)
	}
}

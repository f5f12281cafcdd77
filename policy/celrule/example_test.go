package celrule_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/policy/celrule"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleNew() {
	tool := &mcp.Tool{Name: "search_customers", InputSchema: map[string]any{"type": "object",
		"properties": map[string]any{"region": map[string]any{"type": "string"}}}}
	rules := celrule.New(celrule.Config{})

	prg, err := rules.Compile(policy.Source{Expr: `args.region in principal.claims.regions`, Tool: tool, Result: policy.Bool})
	fmt.Println(err)
	bob := &bulwark.Principal{ID: "bob", Claims: map[string]any{"regions": []any{"eu"}}}
	for _, region := range []string{"eu", "us"} {
		ok, _ := prg.Eval(context.Background(), &policy.Input{Principal: bob, Tool: tool, Args: map[string]any{"region": region}, Now: time.Now()})
		fmt.Println(region, ok)
	}

	_, err = rules.Compile(policy.Source{Expr: `args.country == "fr"`, Tool: tool, Result: policy.Bool})
	fmt.Println(err)
	// Output:
	// <nil>
	// eu true
	// us false
	// 1:5: undefined field 'country'
}

package policy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "policy")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "policy.yaml")
	_ = os.WriteFile(path, []byte(`version: 1
defaults:
  timeout: 10s
tools:
  - name: get_customer
    timeout: 2s
    scopes: [customers:read]
`), 0o600)

	server := mcp.NewServer(&mcp.Implementation{Name: "customers"}, nil)
	bulwark.AddTool(server, &mcp.Tool{Name: "get_customer"}, func(context.Context, *mcp.CallToolRequest, struct{ ID string }) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	eng, err := policy.New(policy.Config{
		Path:  path,
		Tools: func() []*mcp.Tool { return bulwark.Tools(server) },
		OnReload: func(r policy.Reload) {
			if r.Err != nil {
				fmt.Println("refused:", strings.TrimPrefix(r.Err.Error(), dir+string(filepath.Separator)))
			}
			fmt.Println("policy", r.Generation, "in force")
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	timeout := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.Timeout })
	fmt.Println(timeout(context.Background(), bulwarktest.Request("get_customer", nil)))

	// An operator tightens the timeout; a typo is refused and changes nothing.
	_ = os.WriteFile(path, []byte("version: 1\ntools:\n  - name: get_custmer\n    timeout: 1s\n"), 0o600)
	_ = eng.Reload()
	_ = os.WriteFile(path, []byte("version: 1\ntools:\n  - name: get_customer\n    timeout: 1s\n"), 0o600)
	_ = eng.Reload()
	fmt.Println(timeout(context.Background(), bulwarktest.Request("get_customer", nil)))
	// Output:
	// policy 1 in force
	// 2s
	// refused: policy.yaml:3: tool "get_custmer" is not served (known: get_customer)
	// policy 1 in force
	// policy 2 in force
	// 1s
}

// ExampleRate_Limit turns the rates a policy file sets into limits for a
// rate limiter; a tool the file gives no rate is exempt.
func ExampleRate_Limit() {
	fmt.Println(policy.Rate{Calls: 30, Per: time.Minute, Burst: 5}.Limit())
	fmt.Println(policy.Rate{Calls: 2, Per: time.Second}.Limit())
	fmt.Println(policy.Rate{}.Limit())

	// In a server: the file's rate for each call, read from the policy in force.
	var eng *policy.Engine // from policy.New
	_, _ = ratelimit.NewLimiter(nil, ratelimit.Config{
		Key:   ratelimit.ByPrincipalAndTool,
		Limit: policy.Value(eng, func(t *policy.Terms) ratelimit.Limit { return t.Rate.Limit() }),
	})
	// Output:
	// 0.5/s burst 5
	// 2/s burst 1
	// unlimited
}

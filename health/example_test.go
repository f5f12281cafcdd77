package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bulwark-mcp/bulwark/health"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleNew() {
	mon, err := health.New(health.Config{},
		health.Ping("postgres", func(context.Context) error {
			return errors.New("failed to connect to postgres://app:hunter2@db:5432/app")
		}),
		health.Ping("redis", func(context.Context) error { return nil }),
	)
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	mon.Readiness().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 503 {"status":"unavailable","checks":{"postgres":"down","redis":"ok"}}
}

func ExamplePing() {
	// pool.Ping of a *pgxpool.Pool has exactly this signature.
	ping := func(ctx context.Context) error { return nil }
	mon, _ := health.New(health.Config{}, health.Ping("postgres", ping))
	fmt.Println(mon.Check(context.Background()).Checks)
	// Output: map[postgres:ok]
}

func ExampleBreakers() {
	open := func() []string { return []string{"payments"} } // from the breaker registry
	mon, _ := health.New(health.Config{}, health.Breakers("breakers", open))
	r := mon.Check(context.Background())
	fmt.Println(r.Ready, r.Checks["breakers"])
	// Output: false open: payments
}

func ExampleMonitor_Drain() {
	mon, _ := health.New(health.Config{})
	mon.Drain(context.Background())
	rec := httptest.NewRecorder()
	mon.Readiness().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 503 {"status":"draining"}
}

// Drain waits for the calls its Middleware admitted and refuses new ones.
func ExampleMonitor_Middleware() {
	mon, _ := health.New(health.Config{})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := mon.Middleware()(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		started <- struct{}{}
		<-release
		return &mcp.CallToolResult{}, nil
	})
	finished := make(chan error)
	go func() { _, err := h(context.Background(), &mcp.CallToolRequest{}); finished <- err }()
	<-started

	// A drain with no time to wait reports the call still running...
	noWait, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println("calls left:", mon.Drain(noWait))
	// ...and from now on new calls are refused.
	_, err := h(context.Background(), &mcp.CallToolRequest{})
	fmt.Println(err)

	close(release)
	<-finished
	fmt.Println("calls left:", mon.Drain(context.Background()))
	// Output:
	// calls left: 1
	// the server is shutting down; retry after 1s
	// calls left: 0
}

package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bulwark-mcp/bulwark/health"
)

func ExampleNew() {
	mon, err := health.New(health.Settings{},
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
	mon, _ := health.New(health.Settings{}, health.Ping("postgres", ping))
	fmt.Println(mon.Check(context.Background()).Checks)
	// Output: map[postgres:ok]
}

func ExampleBreakers() {
	open := func() []string { return []string{"payments"} } // from the breaker registry
	mon, _ := health.New(health.Settings{}, health.Breakers("breakers", open))
	r := mon.Check(context.Background())
	fmt.Println(r.Ready, r.Checks["breakers"])
	// Output: false open: payments
}

func ExampleMux() {
	mon, _ := health.New(health.Settings{})
	metrics := http.NotFoundHandler() // metrics.Handler(registry) in a real server
	srv := httptest.NewServer(health.Mux(mon, metrics))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	srv.Client().CloseIdleConnections()
	fmt.Println(resp.StatusCode)
	// Output: 200
}

func ExampleMonitor_Drain() {
	mon, _ := health.New(health.Settings{})
	mon.Drain()
	rec := httptest.NewRecorder()
	mon.Readiness().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 503 {"status":"draining"}
}

package serve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/health"
	"github.com/bulwark-mcp/bulwark/serve"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleStart() {
	server := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "v1"}, nil)
	mon, _ := health.New(health.Config{})
	bulwark.Use(server, mon.Middleware())
	ln, err := edge.Listen(context.Background(), "") // any free port on loopback
	if err != nil {
		panic(err)
	}
	h, err := edge.New(server, edge.Config{})
	if err != nil {
		panic(err)
	}
	srv, err := serve.Start(serve.Config{Listener: ln, Edge: h, AdminAddr: "127.0.0.1:0", Health: mon})
	if err != nil {
		panic(err)
	}
	resp, err := http.Get("http://" + srv.AdminAddr() + "/readyz")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))
	// On SIGTERM: running calls get 20s to finish.
	fmt.Println(srv.Shutdown(20 * time.Second))
	// Output:
	// 200 {"status":"ok"}
	// <nil>
}

func ExampleStdio() {
	server := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "v1"}, nil)
	mon, _ := health.New(health.Config{})
	bulwark.Use(server, mon.Middleware())
	// In a program: &mcp.IOTransport{Reader: os.Stdin, Writer: os.Stdout},
	// and a context that ends on SIGTERM. Here, a client on pipes.
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, sigterm := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.Stdio(ctx, server, &mcp.IOTransport{Reader: inR, Writer: outW}, serve.Config{Health: mon})
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v1"}, nil).
		Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(cs.InitializeResult().ServerInfo.Name)
	sigterm()
	fmt.Println(<-done)
	// Output:
	// example
	// <nil>
}

func ExampleProbe() {
	mon, _ := health.New(health.Config{})
	admin, err := edge.Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer admin.Close()
	mux := http.NewServeMux()
	mux.Handle("/healthz", mon.Liveness())
	go http.Serve(admin, mux)
	// What `server -healthcheck` runs in a container.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	fmt.Println(serve.Probe(ctx, admin.Addr().String()))
	// Output: <nil>
}

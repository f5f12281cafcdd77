// Command conformance runs the official MCP conformance suite
// (@modelcontextprotocol/conformance) against one server served bare and
// wrapped in every bulwark layer, and fails unless both pass exactly the
// same checks. .ci/run installs the suite and runs this.
//
// The server is our own (server.go): go-sdk's conformance server is a main
// package with no constructor to import, so this one registers the tools,
// resources and prompts the suite's server scenarios call. With -reference,
// go-sdk's own server (built from the module cache) runs first and ours
// must pass exactly what it passes, so ours stays a faithful stand-in.
//
// The wrapped variant runs behind bearer authentication with an API key.
// The suite (0.1.x) cannot send a token, so the runner adds one to each
// request; see newWrapped.
//
// Usage:
//
//	go run ./internal/conformance -suite DIR/node_modules/.bin/conformance [-reference BIN] [-out DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	suite := flag.String("suite", "", "the conformance suite's command (node_modules/.bin/conformance)")
	reference := flag.String("reference", "", "go-sdk's conformance/everything-server binary; ours must pass what it passes")
	out := flag.String("out", "", "directory for the suite's results and the audit trail (default: a new temporary directory)")
	brk := flag.String("break", "", "add a layer that refuses this tool in the wrapped variant (the run must then fail)")
	timeout := flag.Duration("timeout", 2*time.Minute, "bound for each run of the suite")
	flag.Parse()
	if err := run(*suite, *reference, *out, *brk, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func run(suite, reference, out, brk string, timeout time.Duration) error {
	if suite == "" {
		return errors.New("-suite is required")
	}
	if out == "" {
		dir, err := os.MkdirTemp("", "bulwark-conformance-")
		if err != nil {
			return err
		}
		out = dir
	}
	ctx := context.Background()
	var ref Results
	if reference != "" {
		r, err := runReference(ctx, suite, reference, filepath.Join(out, "reference"), timeout)
		if err != nil {
			return fmt.Errorf("go-sdk's server: %w", err)
		}
		ref = r
		fmt.Println(summary("go-sdk", ref))
	}

	bareRes, err := runSuite(ctx, suite, bare(newServer()), filepath.Join(out, "bare"), timeout)
	if err != nil {
		return fmt.Errorf("bare: %w", err)
	}
	fmt.Println(summary("bare", bareRes))

	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	w, err := newWrapped(filepath.Join(out, "audit.jsonl"), brk)
	if err != nil {
		return fmt.Errorf("wrapped: %w", err)
	}
	wrappedRes, err := runSuite(ctx, suite, w.handler, filepath.Join(out, "wrapped"), timeout)
	if err != nil {
		return fmt.Errorf("wrapped: %w", err)
	}
	fmt.Println(summary("wrapped", wrappedRes))
	records, calls, err := w.check(ctx)
	if err != nil {
		return fmt.Errorf("wrapped: %w", err)
	}
	fmt.Printf("wrapped:  %d audit records verified, %.0f tool calls counted by metrics\n", records, calls)

	var problems []string
	if ref != nil {
		if d := diff(ref, bareRes); len(d) > 0 {
			problems = append(problems, "our server differs from go-sdk's:\n  "+strings.Join(d, "\n  "))
		}
	}
	if d := diff(bareRes, wrappedRes); len(d) > 0 {
		problems = append(problems, "the layers change the outcome of:\n  "+strings.Join(d, "\n  "))
	}
	if len(bareRes.Passed()) == 0 {
		problems = append(problems, "no check passed")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	fmt.Printf("bare and wrapped pass the same %d checks\n", len(wrappedRes.Passed()))
	return nil
}

// runSuite serves h on a loopback port and runs every server scenario of
// the suite against it.
func runSuite(ctx context.Context, suite string, h http.Handler, dir string, timeout time.Duration) (Results, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ErrServerClosed after Shutdown
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return suiteAgainst(ctx, suite, "http://"+ln.Addr().String()+"/mcp", dir, timeout)
}

// runReference starts go-sdk's conformance server as a process on a free
// loopback port and runs the suite against it.
func runReference(ctx context.Context, suite, bin, dir string, timeout time.Duration) (Results, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close() // the server binds it next; if another process took it meanwhile, waitListening or the suite fails
	cmd := exec.Command(bin, "-http", addr, "-stateless=false")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if err := waitListening(addr, 15*time.Second); err != nil {
		return nil, err
	}
	return suiteAgainst(ctx, suite, "http://"+addr+"/mcp", dir, timeout)
}

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// suiteAgainst runs the suite's server scenarios against url, writing its
// output to dir/suite.log and its results under dir. The suite exits
// non-zero when a check fails; that is read from the results, which are
// compared, not from the exit code.
func suiteAgainst(ctx context.Context, suite, url, dir string, timeout time.Duration) (Results, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "suite.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite, "server", "--suite", "all", "--url", url, "-o", dir)
	cmd.Stdout, cmd.Stderr = log, log
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("the suite did not finish within %s (see %s)", timeout, log.Name())
	}
	r, err := readResults(dir)
	if err != nil {
		return nil, fmt.Errorf("%w (suite: %v; see %s)", err, runErr, log.Name())
	}
	return r, nil
}

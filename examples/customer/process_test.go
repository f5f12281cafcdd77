package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/fakeloyalty"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds the server once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "customer-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "customer")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func envList(m map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// stdoutCheck wraps the subprocess's stdout and checks that every line is
// a JSON-RPC message: nothing else may ever reach stdout on stdio.
type stdoutCheck struct {
	r     io.ReadCloser
	mu    sync.Mutex
	buf   []byte
	bad   []string
	lines int
}

func (s *stdoutCheck) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.mu.Lock()
	s.buf = append(s.buf, p[:n]...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		line := s.buf[:i]
		s.buf = s.buf[i+1:]
		s.lines++
		var msg struct {
			JSONRPC string `json:"jsonrpc"`
		}
		if json.Unmarshal(line, &msg) != nil || msg.JSONRPC != "2.0" {
			s.bad = append(s.bad, string(line))
		}
	}
	s.mu.Unlock()
	return n, err
}

func (s *stdoutCheck) Close() error { return s.r.Close() }

// checkedCommand is a mcp.Transport running the binary with its stdout
// checked line by line.
type checkedCommand struct {
	cmd   *exec.Cmd
	check *stdoutCheck
}

func (c *checkedCommand) Connect(ctx context.Context) (mcp.Connection, error) {
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	in, err := c.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	c.check = &stdoutCheck{r: out}
	return (&mcp.IOTransport{Reader: c.check, Writer: in}).Connect(ctx)
}

func TestStdioEveryToolAndStdoutPurity(t *testing.T) {
	bin := buildBinary(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	stderr := &lockedBuffer{}
	env := testEnvMap(db, keys)
	env["MCP_API_KEY"] = keys.admin // the stdio client's identity
	env["LOG_LEVEL"] = "debug"      // plenty of logging, all of it on stderr
	cmd := exec.Command(bin)
	cmd.Env = envList(env)
	cmd.Stderr = stderr
	tr := &checkedCommand{cmd: cmd}
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "v0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr:\n%s", err, stderr.String())
	}

	var c Customer
	mustOK(t, cs, toolGetCustomer, map[string]any{"customer_id": "C-000010"}, &c)
	mustOK(t, cs, toolLookupCustomer, map[string]any{"customer_id": "C-000010"}, nil)
	var sr searchResult
	mustOK(t, cs, toolSearchCustomers, map[string]any{"query": "hopper", "page_size": 3}, &sr)
	if len(sr.Customers) != 3 || sr.NextCursor == "" {
		t.Fatalf("search: %+v", sr)
	}
	mustOK(t, cs, toolUpdateEmail, map[string]any{"customer_id": "C-000010", "new_email": "stdio@example.com"}, &c)
	var n Note
	mustOK(t, cs, toolAddNote, map[string]any{"customer_id": "C-000010", "body": "via stdio", "idempotency_key": "stdio-key-1"}, &n)
	if n.Author != "admin" {
		t.Fatalf("note author %q, want the stdio identity", n.Author)
	}
	var o Overview
	mustOK(t, cs, toolOverview, map[string]any{"customer_id": "C-000010"}, &o)
	if o.Customer == nil || o.Customer.Email != "stdio@example.com" || o.Loyalty == nil {
		t.Fatalf("overview %+v", o)
	}

	// Load: 32 concurrent callers, refusals and errors mixed in, while the
	// server logs at debug level.
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				id := fmt.Sprintf("C-%06d", 1+(i*10+j)%500)
				if j%3 == 0 {
					id = "bad id'"
				}
				cs.CallTool(ctx, &mcp.CallToolParams{Name: toolGetCustomer, Arguments: map[string]any{"customer_id": id}})
			}
		}()
	}
	wg.Wait()
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	_ = cmd.Wait()
	tr.check.mu.Lock()
	defer tr.check.mu.Unlock()
	if len(tr.check.bad) > 0 {
		t.Fatalf("stdout carried %d non-JSON-RPC lines, first: %q", len(tr.check.bad), tr.check.bad[0])
	}
	if tr.check.lines < 300 {
		t.Fatalf("only %d lines on stdout", tr.check.lines)
	}
	if !strings.Contains(stderr.String(), `"level"`) {
		t.Fatalf("expected logs on stderr")
	}
}

func TestStdioRefusesBadIdentity(t *testing.T) {
	bin := buildBinary(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	env := testEnvMap(db, keys)
	env["MCP_API_KEY"] = "bwk_this-key-is-not-in-the-file"
	cmd := exec.Command(bin)
	cmd.Env = envList(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatal("started with a bad MCP_API_KEY")
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "MCP_API_KEY") || strings.Contains(stderr.String(), "this-key-is-not") {
		t.Fatalf("stderr must name the variable and not the value: %s", stderr.String())
	}
}

// slowLoyalty answers after a delay, to hold calls in flight.
func slowLoyalty(t *testing.T, delay time.Duration) (string, *fakeloyalty.Service) {
	t.Helper()
	f := &fakeloyalty.Service{}
	f.SetLatency(delay)
	u, stop, err := fakeloyalty.Start(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u, f
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestSIGTERMDrainsAndSealsAudit(t *testing.T) {
	bin := buildBinary(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	env := testEnvMap(db, keys)
	key := bytes.Repeat([]byte{7}, 32)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	env["AUDIT_LOG"] = auditPath
	env["AUDIT_HMAC_KEY"] = hex.EncodeToString(key)
	loyaltyURL, loyalty := slowLoyalty(t, 1200*time.Millisecond)
	env["LOYALTY_API_URL"] = loyaltyURL
	addr, admin := freeAddr(t), freeAddr(t)
	env["ADMIN_ADDR"] = admin
	cmd := exec.Command(bin, "-http", addr)
	cmd.Env = envList(env)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	url := "http://" + addr + "/mcp"
	var cs *mcp.ClientSession
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		cs, err = demo.Dial(context.Background(), url, keys.reader)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer cs.Close()

	// Four overviews in flight, each waiting 1.5s for the loyalty service.
	results := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: toolOverview, Arguments: map[string]any{"customer_id": fmt.Sprintf("C-%06d", 20+i)}})
			if err == nil && (res.IsError || strings.Contains(bulwarktest.ResultText(res), `"partial":true`)) {
				err = fmt.Errorf("result: %s", bulwarktest.ResultText(res))
			}
			results <- err
		}()
	}
	// Every call is in its handler, waiting on the loyalty service.
	waitFor(t, 10*time.Second, "four calls in flight", func() bool { return loyalty.Calls() >= 4 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness turns false while draining.
	time.Sleep(200 * time.Millisecond)
	if resp, err := http.Get("http://" + admin + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("readyz while draining: %d", resp.StatusCode)
		}
	}
	for i := 0; i < 4; i++ {
		if err := <-results; err != nil {
			t.Errorf("in-flight call not drained: %v", err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	f, err := os.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, key)
	if err != nil || !rep.Sealed || rep.Records < 5 {
		t.Fatalf("audit trail after shutdown: %+v, %v", rep, err)
	}
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), keys.reader) || strings.Contains(sc.Text(), hex.EncodeToString(key)) {
			t.Fatalf("secret in the log: %s", sc.Text())
		}
	}
}

// TestProductionRefusesUnsafeStarts runs the binary as an operator would.
func TestProductionRefusesUnsafeStarts(t *testing.T) {
	bin := buildBinary(t)
	keys := writeKeys(t)
	base := map[string]string{"ENVIRONMENT": "production", "AUDIT_HMAC_KEY": strings.Repeat("ab", 32), "DATABASE_URL": "postgres://app:pw-not-to-print@127.0.0.1:1/x"}
	for _, c := range []struct {
		name  string
		extra map[string]string
		args  []string
		want  string
	}{
		{"no authentication", nil, []string{"-http", "127.0.0.1:0"}, "API_KEYS_FILE"},
		{"public address without TLS", map[string]string{"API_KEYS_FILE": keys.file}, []string{"-http", "0.0.0.0:0"}, "TLS_CERT_FILE"},
		{"layers off", map[string]string{"API_KEYS_FILE": keys.file}, []string{"-bare", "-http", "127.0.0.1:0"}, "BULWARK_DISABLE"},
		{"stdio without identity", map[string]string{"API_KEYS_FILE": keys.file}, nil, "MCP_API_KEY"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range c.extra {
				env[k] = v
			}
			cmd := exec.Command(bin, c.args...)
			cmd.Env = envList(env)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) || strings.Contains(stderr.String(), "pw-not-to-print") || stdout.Len() != 0 {
				t.Fatalf("stderr %q, stdout %q", stderr.String(), stdout.String())
			}
		})
	}
}

// TestStdioSIGTERMDrains: on stdio too, SIGTERM lets the call in flight
// finish before the session closes, and the audit trail is sealed.
func TestStdioSIGTERMDrains(t *testing.T) {
	bin := buildBinary(t)
	db := testenv.NewDatabase(t)
	keys := writeKeys(t)
	env := testEnvMap(db, keys)
	env["MCP_API_KEY"] = keys.reader
	key := bytes.Repeat([]byte{9}, 32)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	env["AUDIT_LOG"] = auditPath
	env["AUDIT_HMAC_KEY"] = hex.EncodeToString(key)
	loyaltyURL, loyalty := slowLoyalty(t, 1200*time.Millisecond)
	env["LOYALTY_API_URL"] = loyaltyURL
	cmd := exec.Command(bin)
	cmd.Env = envList(env)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	tr := &checkedCommand{cmd: cmd}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "stdio-drain", Version: "v0"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	result := make(chan error, 1)
	go func() {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: toolOverview, Arguments: map[string]any{"customer_id": "C-000031"}})
		if err == nil && (res.IsError || strings.Contains(bulwarktest.ResultText(res), `"partial":true`)) {
			err = fmt.Errorf("result: %s", bulwarktest.ResultText(res))
		}
		result <- err
	}()
	waitFor(t, 10*time.Second, "the call to be in flight", func() bool { return loyalty.Calls() >= 1 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err != nil {
		t.Fatalf("in-flight call: %v\n%s", err, stderr.String())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no exit after SIGTERM")
	}
	f, err := os.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rep, err := audit.Verify(f, key); err != nil || !rep.Sealed {
		t.Fatalf("audit: %+v %v", rep, err)
	}
}

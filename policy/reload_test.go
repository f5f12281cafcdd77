package policy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// generation writes a policy whose every value is n, so a call that reads
// two values from two policies is caught.
func generation(n int) string {
	return fmt.Sprintf(`version: 1
defaults:
  timeout: %ds
  cache_ttl: %ds
  rate: {calls: %d, per: 1m}
  concurrency: %d
`, n, n, n, n)
}

// TestReloadUnderCalls swaps policies while calls run: every call reads
// four values at different points and must see them all from one policy;
// refused files in between change nothing.
func TestReloadUnderCalls(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "policy.yaml", generation(1))
	var reloads []policy.Reload
	var mu sync.Mutex
	eng, err := policy.New(policy.Config{Path: path, Tools: testTools, OnReload: func(r policy.Reload) {
		mu.Lock()
		reloads = append(reloads, r)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	timeout := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.Timeout })
	ttl := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.CacheTTL })
	rate := policy.Value(eng, func(s *policy.Terms) int { return s.Rate.Calls })
	conc := policy.Value(eng, func(s *policy.Terms) int { return s.Concurrency })
	h := eng.Middleware()(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		a := int(timeout(ctx, req) / time.Second)
		b := rate(ctx, req)
		c := int(ttl(ctx, req) / time.Second)
		d := conc(ctx, req)
		if a != b || b != c || c != d {
			return nil, fmt.Errorf("half-applied policy: timeout %d, rate %d, ttl %d, concurrency %d", a, b, c, d)
		}
		return bulwarktest.TextResult(fmt.Sprint(a)), nil
	})

	const gens = 20
	var stop atomic.Bool
	var calls atomic.Int64
	seen := make([]atomic.Bool, gens+1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				req := bulwarktest.Request("get_customer", map[string]any{"id": "1"})
				ctx, _ := bulwarktest.Context(context.Background(), req, nil)
				res, err := h(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(bulwarktest.ResultText(res), &n)
				seen[n].Store(true)
				calls.Add(1)
			}
		}()
	}
	for g := 2; g <= gens; g++ {
		if g%5 == 0 {
			writeFile(t, dir, "policy.yaml", generation(g)+"tools:\n  - name: get_customer\n    timeout: -1s\n")
			if err := eng.Reload(); err == nil || !strings.Contains(err.Error(), "timeout must not be negative") {
				t.Fatalf("bad file: %v", err)
			}
		}
		writeFile(t, dir, "policy.yaml", generation(g))
		if err := eng.Reload(); err != nil {
			t.Fatal(err)
		}
		for c := calls.Load(); calls.Load() < c+5; {
			// Let the callers see this generation before the next.
			select {
			case err := <-errs:
				t.Fatal(err)
			default:
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !seen[gens].Load() {
		t.Error("no call saw the last policy")
	}
	st := eng.Stats()
	if st.Generation != gens || st.Accepted != gens || st.Refused != gens/5 {
		t.Errorf("stats = %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reloads) != gens+gens/5 {
		t.Fatalf("%d reloads reported, want %d", len(reloads), gens+gens/5)
	}
	for _, r := range reloads {
		if !strings.HasPrefix(r.Digest, "sha256:") || len(r.Digest) != 71 {
			t.Errorf("reload %+v has no digest", r)
		}
	}
	if r := reloads[4]; r.Err == nil || r.Generation != 4 {
		t.Errorf("refused reload = %+v, want an error and generation 4 kept", r)
	}
}

// TestWatch changes the file on disk and signals the process: both reload,
// a broken file raises the alert and keeps the policy, and Watch returns
// when its context ends (goleak checks nothing is left running).
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "policy.yaml", generation(1))
	reloads := make(chan policy.Reload, 16)
	alerts := make(chan policy.Reload, 16)
	eng, err := policy.New(policy.Config{Path: path, Tools: testTools, Debounce: 10 * time.Millisecond,
		OnReload: func(r policy.Reload) { reloads <- r },
		Alert:    func(r policy.Reload) { alerts <- r }})
	if err != nil {
		t.Fatal(err)
	}
	<-reloads // start
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- eng.Watch(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	wait := func(what string) policy.Reload {
		t.Helper()
		select {
		case r := <-reloads:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("no reload after %s", what)
		}
		return policy.Reload{}
	}
	timeout := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.Timeout })
	req := bulwarktest.Request("get_customer", nil)

	// The watcher may start after this write; write until it is seen.
	var r policy.Reload
	for i := 0; ; i++ {
		writeFile(t, dir, "policy.yaml", generation(2)+strings.Repeat("#\n", i))
		select {
		case r = <-reloads:
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	if r.Trigger != "file" || r.Err != nil || timeout(context.Background(), req) != 2*time.Second {
		t.Fatalf("file change: %+v, timeout %v", r, timeout(context.Background(), req))
	}

	writeFile(t, dir, "policy.yaml", "version: 1\ntools:\n  - name: nope\n")
	r = wait("a broken file")
	if r.Err == nil || !strings.Contains(r.Err.Error(), `policy.yaml:3: tool "nope" is not served`) || r.Generation != 2 {
		t.Fatalf("broken file: %+v", r)
	}
	if a := <-alerts; a.Digest != r.Digest {
		t.Errorf("alert %+v differs from reload %+v", a, r)
	}
	if timeout(context.Background(), req) != 2*time.Second {
		t.Error("a broken file changed the policy")
	}

	start := time.Now()
	writeFile(t, dir, "policy.yaml", generation(3))
	r = wait("a fixed file")
	t.Logf("file written to policy in force: %v (debounce 10ms; read, check and swap %v)", time.Since(start), r.Took)
	if r.Err != nil || r.Generation != 3 {
		t.Fatalf("fixed file: %+v", r)
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r = wait("SIGHUP")
	if r.Trigger != "signal" || r.Generation != 4 {
		t.Fatalf("SIGHUP: %+v", r)
	}
	if eng.Stats().Refused != 1 {
		t.Errorf("stats = %+v", eng.Stats())
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := policy.New(policy.Config{Tools: testTools}); err == nil {
		t.Error("no path accepted")
	}
	if _, err := policy.New(policy.Config{Path: "x.yaml"}); err == nil {
		t.Error("no tools accepted")
	}
	_, err := policy.New(policy.Config{Path: "/nonexistent/policy.yaml", Tools: testTools})
	var le *policy.LoadError
	if !errors.As(err, &le) || err.Error() != "/nonexistent/policy.yaml: cannot read the file: no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

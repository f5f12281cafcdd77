// Command loadtest drives N concurrent MCP client sessions over streamable
// HTTP against the customer server and reports, per mode and workload,
// throughput, p50/p99 latency, the server's CPU time and allocated bytes
// per call, and the cache hit ratio. The modes run side by side, in the
// same run, on the same database: bare (-bare: every bulwark layer off),
// hardened with the cache off (ENABLE_CACHING=false) and hardened with the
// cache on. The workloads are miss (a new customer per call) and hit (the
// same eight customers over and over).
//
//	go run ./examples/customer/loadtest -n 1,8,64 -duration 5s
//
// It builds the server, creates and seeds its own database (-database,
// default bulwark_customer_load), starts the server twice in turn
// (hardened, then bare) on loopback ports, and prints one table. It marks
// the database it creates (a comment on the database) and drops a database
// of that name on a later run only if it carries the mark: a database it
// did not create is never dropped, the run stops instead. With -pgbench it also runs
// pgbench with the same SELECT on the same database, as the database's own
// limit.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// defaultDatabase is the load database unless -database names another.
const defaultDatabase = "bulwark_customer_load"

// createdMark is the comment on a database this program created; only a
// database carrying it may be dropped.
const createdMark = "created by examples/customer/loadtest; dropped and recreated by its next run"

// databaseName is the form -database accepts: a plain lower-case
// PostgreSQL identifier.
var databaseName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// serverGOGC is -gogc.
var serverGOGC string

// The SELECT get_customer runs, for pgbench.
const pgbenchScript = `\set n random(1, 10000)
SELECT id, name, email, tier, created_at, updated_at FROM customers WHERE id = 'C-' || lpad(:n::text, 6, '0');
`

func main() {
	ns := flag.String("n", "1,8,64", "comma-separated numbers of concurrent client sessions")
	dur := flag.Duration("duration", 5*time.Second, "length of each measurement")
	base := flag.String("db", envOr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "admin PostgreSQL URL (the load database is created next to it)")
	bin := flag.String("bin", "", "server binary (default: go build ./examples/customer)")
	pgb := flag.Bool("pgbench", true, "also run pgbench with the same SELECT")
	gogc := flag.String("gogc", "", "GOGC for both servers (\"\" inherits); the SDK allocates ~100 KiB per decoded message, so the collector's pace matters")
	reps := flag.Int("reps", 3, "repetitions of each measurement (the median is reported); hardened and bare alternate")
	maxConns := flag.Int("db-max-conns", 32, "DB_MAX_CONNS of the server (and pgbench's ceiling)")
	dbName := flag.String("database", defaultDatabase, "name of the load database, created next to -db; an existing database of this name is dropped only if an earlier run created it")
	flag.Parse()
	if !databaseName.MatchString(*dbName) {
		fatal(fmt.Errorf("-database: %q is not a lower-case name of letters, digits and _", *dbName))
	}
	var sessions []int
	for _, s := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1000 {
			fatal(fmt.Errorf("-n: %q is not a number of sessions from 1 to 1000", s))
		}
		sessions = append(sessions, n)
	}
	if *reps < 1 || *reps > 20 {
		fatal(errors.New("-reps must be from 1 to 20"))
	}
	serverGOGC = *gogc
	if err := run(sessions, *dur, *base, *dbName, *bin, *pgb, *maxConns, *reps); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadtest:", err)
	os.Exit(1)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// The modes, in the order measurements alternate.
var modes = []string{modeBare, modeNoCache, modeHardened}

const (
	modeBare     = "bare"             // every bulwark layer off
	modeNoCache  = "hardened-nocache" // every layer on but the cache
	modeHardened = "hardened"         // every layer on
)

type result struct {
	mode     string // a mode, or pgbench
	path     string // miss, hit
	n        int
	calls    int64
	errors   int64
	why      map[string]int64 // failed calls by refusal code or error
	wrong    int64            // cache status other than expected (hardened only)
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      time.Duration // server process CPU time (user+system) during the measurement
	alloc    float64       // bytes the server allocated during the measurement
	hits     int64         // calls answered from the cache
}

// allocPerCall is the server's allocated bytes per call.
func (r result) allocPerCall() float64 {
	if r.calls == 0 {
		return 0
	}
	return r.alloc / float64(r.calls)
}

// hitRatio is the share of calls answered from the cache.
func (r result) hitRatio() float64 {
	if r.calls == 0 {
		return 0
	}
	return float64(r.hits) / float64(r.calls)
}

// allocated reads the server's go_memstats_alloc_bytes_total (bytes
// allocated since it started) from its /metrics.
func allocated(s *server) (float64, error) {
	resp, err := http.Get(s.admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_alloc_bytes_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("go_memstats_alloc_bytes_total not in /metrics")
}

// cpuPerCall is the server's CPU time per call: on a machine whose cores
// are shared with the client and PostgreSQL (and anything else), it says
// more about the layers' cost than throughput does.
func (r result) cpuPerCall() time.Duration {
	if r.calls == 0 {
		return 0
	}
	return (r.cpu / time.Duration(r.calls)).Round(time.Microsecond)
}

// processCPU reads a process's user+system CPU time from /proc (Linux;
// zero elsewhere). /proc reports clock ticks of 1/100 s (USER_HZ).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces: count from its end.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (r result) rps() float64 { return float64(r.calls) / r.elapsed.Seconds() }

func run(sessions []int, dur time.Duration, base, dbName, bin string, withPgbench bool, maxConns, reps int) error {
	dbURL, err := createDatabase(base, dbName)
	if err != nil {
		return err
	}
	if maxConns, err = fitConnections(base, maxConns); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "customer-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "customer")
		fmt.Fprintln(os.Stderr, "building the server…")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/bulwark-mcp/bulwark/examples/customer").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	// One principal per session and measurement, so every miss-path call
	// is a real miss (cache keys include the principal).
	total := 0
	for _, n := range sessions {
		total += 2 * n * reps
	}
	keys := make([]string, total)
	var entries []auth.KeyEntry
	for i := range keys {
		k, e, err := auth.GenerateKey(fmt.Sprintf("load-%d", i), "customers:read")
		if err != nil {
			return err
		}
		keys[i] = k
		entries = append(entries, e)
	}
	keyFile := filepath.Join(dir, "keys.json")
	b, _ := json.Marshal(entries)
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		return err
	}

	// The servers run side by side (an idle one costs next to nothing)
	// and measurements alternate between them, so a change in the
	// machine's load during the run affects all alike.
	servers := map[string]*server{}
	for _, mode := range modes {
		srv, err := startServer(bin, mode, dbURL, keyFile, maxConns)
		if err != nil {
			return err
		}
		defer srv.stop()
		servers[mode] = srv
	}
	var results []result
	all := map[runKey][]result{} // every repetition, for the paired ratios
	next := 0
	for _, n := range sessions {
		for _, path := range []string{"miss", "hit"} {
			runs := map[string][]result{}
			for rep := 0; rep < reps; rep++ {
				ks := keys[next : next+n] // fresh principals: misses stay misses
				next += n
				// The servers take turns in a rotating order, so that no
				// mode always runs first or right after another.
				for i := range modes {
					mode := modes[(rep+i)%len(modes)]
					use := ks // each server has its own cache: the keys serve both hardened modes
					if mode == modeBare {
						use = make([]string, n) // no authentication when bare
					}
					r, err := measure(servers[mode], mode, path, use, dur)
					if err != nil {
						return err
					}
					runs[mode] = append(runs[mode], r)
					fmt.Fprintf(os.Stderr, "%-16s %-4s n=%-3d rep %d %8.0f calls/s p50 %-9v p99 %-9v server CPU/call %-8v alloc/call %6.0f B hits %3.0f%% errors %d\n", r.mode, r.path, r.n, rep+1, r.rps(), r.p50, r.p99, r.cpuPerCall(), r.allocPerCall(), 100*r.hitRatio(), r.errors)
				}
			}
			for _, mode := range modes {
				results = append(results, median(runs[mode]))
				all[runKey{mode, path, n}] = runs[mode]
			}
		}
	}
	// Free the servers' connections before pgbench opens its own.
	for _, srv := range servers {
		srv.stop()
	}
	var pg []result
	if withPgbench {
		for _, n := range sessions {
			// The server reaches PostgreSQL through at most maxConns
			// connections; give pgbench the same ceiling.
			r, err := pgbench(dir, dbURL, min(n, maxConns), dur)
			r.n = n
			if err != nil {
				fmt.Fprintln(os.Stderr, "pgbench:", err)
				break
			}
			pg = append(pg, r)
		}
	}
	report(results, pg, sessions, dur)
	reportRatios(all, sessions)
	return nil
}

// runKey names one measurement's repetitions.
type runKey struct {
	mode, path string
	n          int
}

// pairedRatio is the median over the repetitions of f(a[i], b[i]): each
// repetition's measurements ran back to back, so their ratio is less
// disturbed by the machine's load than a ratio of medians.
func pairedRatio(a, b []result, f func(a, b result) float64) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		rs = append(rs, f(a[i], b[i]))
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}

// reportRatios prints the ratios the hardened server is judged by.
func reportRatios(all map[runKey][]result, sessions []int) {
	rps := func(a, b result) float64 { return a.rps() / b.rps() }
	cpu := func(a, b result) float64 { return float64(a.cpuPerCall()) / float64(b.cpuPerCall()) }
	fmt.Printf("\nratios, median over the repetitions of each repetition's ratio\n\n")
	fmt.Printf("| N | cache off / bare, calls/s | cache off / bare, server CPU per call | cache on, miss / bare, calls/s | cache on: hits / misses, calls/s |\n")
	fmt.Printf("|---|---|---|---|---|\n")
	for _, n := range sessions {
		bare, off := all[runKey{modeBare, "miss", n}], all[runKey{modeNoCache, "miss", n}]
		miss, hit := all[runKey{modeHardened, "miss", n}], all[runKey{modeHardened, "hit", n}]
		fmt.Printf("| %d | %.2f | %.2f | %.2f | %.2f |\n", n,
			pairedRatio(off, bare, rps), pairedRatio(off, bare, cpu), pairedRatio(miss, bare, rps), pairedRatio(hit, miss, rps))
	}
}

// median returns the run with the median throughput; errors and
// cache-status mismatches are summed over all runs.
func median(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int {
		switch {
		case a.rps() < b.rps():
			return -1
		case a.rps() > b.rps():
			return 1
		}
		return 0
	})
	m := sorted[len(sorted)/2]
	m.errors, m.wrong = 0, 0
	for _, r := range rs {
		m.errors += r.errors
		m.wrong += r.wrong
	}
	return m
}

// errNotOurs refuses to drop a database this program did not create.
var errNotOurs = errors.New("was not created by loadtest (it lacks loadtest's mark), so it is not dropped; choose another name with -database, or drop it yourself")

// createDatabase creates the load database name next to base and returns
// its URL. A database of that name left by an earlier run (it carries
// createdMark) is dropped first; any other database of that name stops the
// run with errNotOurs and is left alone.
func createDatabase(base, name string) (string, error) {
	if !databaseName.MatchString(name) {
		return "", fmt.Errorf("database name %q is not a lower-case name of letters, digits and _", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	var mark *string
	err = conn.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&mark)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return "", err
	case mark == nil || *mark != createdMark:
		return "", fmt.Errorf("database %s %w", ident, errNotOurs)
	default:
		if _, err := conn.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			return "", err
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", err
	}
	// Identifiers and literals cannot be parameters here; the mark is a
	// constant.
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+ident+" IS '"+createdMark+"'"); err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

type server struct {
	url   string
	admin string // base URL of /metrics, /readyz
	cmd   *exec.Cmd
	done  chan struct{}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// serverMinConns is DB_MIN_CONNS of the servers; each server holds two
// pools (reads and writes), the write pool at its minimum under this load.
const serverMinConns = 4

// fitConnections returns the largest DB_MAX_CONNS, at most want, with which
// every mode's server fits in PostgreSQL's max_connections at once (the
// servers run side by side). Beyond it the last server started is refused
// connections ("too many clients") and its calls fail as unavailable,
// which would measure the database's limit, not the server.
func fitConnections(base string, want int) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var limit, reserved int
	if err := conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int`).Scan(&limit, &reserved); err != nil {
		return 0, err
	}
	// pgbench and this program's own connections need a few more.
	fit := (limit-reserved-8)/len(modes) - serverMinConns
	if fit < 1 {
		return 0, fmt.Errorf("PostgreSQL's max_connections (%d) cannot hold %d servers", limit, len(modes))
	}
	if want > fit {
		fmt.Fprintf(os.Stderr, "DB_MAX_CONNS %d lowered to %d: %d servers at once must fit in max_connections %d\n", want, fit, len(modes), limit)
		return fit, nil
	}
	return want, nil
}

func startServer(bin, mode, dbURL, keyFile string, maxConns int) (*server, error) {
	auditFile := filepath.Join(filepath.Dir(keyFile), "audit-"+mode+".jsonl")
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"-http", addr}
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"ADMIN_ADDR="+admin,
		"RATE_LIMIT=1000000",
		"LOG_LEVEL=error",
		"AUDIT_LOG="+auditFile, // the file sink: every call chained and written
		"DB_MIN_CONNS="+strconv.Itoa(serverMinConns),
		"DB_MAX_CONNS="+strconv.Itoa(maxConns),
		"CACHE_TTL=5m",
		// Up to 64 sessions of one caller at once: above the edge's default
		// bound per principal (32), which is for production, not for load.
		"MAX_SESSIONS_PER_PRINCIPAL=1024",
	)
	if serverGOGC != "" {
		env = append(env, "GOGC="+serverGOGC)
	}
	switch mode {
	case modeBare:
		args = append(args, "-bare")
	case modeNoCache:
		env = append(env, "API_KEYS_FILE="+keyFile, "ENABLE_CACHING=false")
	default:
		env = append(env, "API_KEYS_FILE="+keyFile)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{url: "http://" + addr + "/mcp", admin: "http://" + admin, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, errors.New(mode + " server exited during start")
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New(mode + " server did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var transport = &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, IdleConnTimeout: time.Minute}

func connect(ctx context.Context, u, token string) (*mcp.ClientSession, error) {
	c := mcp.NewClient(&mcp.Implementation{Name: "loadtest", Version: "v1"}, nil)
	return c.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             u,
		HTTPClient:           &http.Client{Transport: demo.Bearer{Token: token, Next: transport}},
		MaxRetries:           -1,
		DisableStandaloneSSE: true,
	}, nil)
}

// measure runs one workload: n sessions calling get_customer for dur.
// miss: every session walks its own range of IDs (a new ID each call, so
// each call misses the cache); hit: every session reads the same eight
// IDs over and over after reading them once (warm-up, not measured).
func measure(srv *server, mode, path string, keys []string, dur time.Duration) (result, error) {
	u := srv.url
	n := len(keys)
	ctx := context.Background()
	css := make([]*mcp.ClientSession, n)
	for i := range css {
		cs, err := connect(ctx, u, keys[i])
		if err != nil {
			return result{}, fmt.Errorf("connect: %w", err)
		}
		css[i] = cs
	}
	defer func() {
		for _, cs := range css {
			cs.Close()
		}
	}()
	callOnce := func(cs *mcp.ClientSession, id int) (*mcp.CallToolResult, error) {
		return cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_customer", Arguments: map[string]any{"customer_id": fmt.Sprintf("C-%06d", id)}})
	}
	if path == "hit" {
		for i, cs := range css {
			for j := 0; j < 8; j++ {
				if _, err := callOnce(cs, 1+(i*8+j)%10000); err != nil {
					return result{}, err
				}
			}
		}
	}
	var calls, errs, wrong, hits atomic.Int64
	var whyMu sync.Mutex
	why := map[string]int64{}
	lat := make([][]time.Duration, n)
	alloc0, err := allocated(srv)
	if err != nil {
		return result{}, err
	}
	cpu0 := processCPU(srv.cmd.Process.Pid)
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	start := time.Now()
	for i, cs := range css {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			for k := 0; time.Now().Before(stop); k++ {
				var id int
				if path == "hit" {
					id = 1 + (i*8+k%8)%10000
				} else {
					id = 1 + (i*997+k)%10000
				}
				t0 := time.Now()
				res, err := callOnce(cs, id)
				mine = append(mine, time.Since(t0))
				calls.Add(1)
				if err != nil || res.IsError {
					errs.Add(1)
					reason := "tool error"
					if ref := bulwark.RefusalOf(res, err); ref != nil {
						reason = string(ref.Code) + ": " + ref.Message
					} else if err != nil {
						reason = "error: " + err.Error()
					}
					whyMu.Lock()
					why[reason]++
					whyMu.Unlock()
					continue
				}
				m, _ := res.Meta[cache.MetaKey].(map[string]any)
				st, _ := m["status"].(string)
				if st == "hit" {
					hits.Add(1)
				}
				if mode == modeHardened && st != path {
					wrong.Add(1)
				}
			}
			lat[i] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU(srv.cmd.Process.Pid) - cpu0
	alloc1, err := allocated(srv)
	if err != nil {
		return result{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := result{mode: mode, path: path, n: n, calls: calls.Load(), errors: errs.Load(), why: why, wrong: wrong.Load(), hits: hits.Load(), elapsed: elapsed, cpu: cpu, alloc: alloc1 - alloc0}
	if len(all) > 0 {
		r.p50 = all[len(all)/2].Round(time.Microsecond)
		r.p99 = all[len(all)*99/100].Round(time.Microsecond)
	}
	return r, nil
}

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+)`)
var latRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

func pgbench(dir, dbURL string, n int, dur time.Duration) (result, error) {
	script := filepath.Join(dir, "get_customer.sql")
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o600); err != nil {
		return result{}, err
	}
	u, _ := url.Parse(dbURL)
	// As the server's read role, through the same kind of connection.
	u.User = url.User("customer_reader")
	threads := min(n, 2)
	cmd := exec.Command("pgbench", "-n", "-M", "prepared", "-f", script, "-c", strconv.Itoa(n), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(int(dur.Seconds())), u.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("%v\n%s", err, out)
	}
	r := result{mode: "pgbench", path: "select", n: n, elapsed: dur}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if m := tpsRe.FindStringSubmatch(sc.Text()); m != nil {
			tps, _ := strconv.ParseFloat(m[1], 64)
			r.calls = int64(tps * dur.Seconds())
		}
		if m := latRe.FindStringSubmatch(sc.Text()); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			r.p50 = time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond)
		}
	}
	fmt.Fprintf(os.Stderr, "pgbench  n=%-3d %8.0f tps, average latency %v\n", n, r.rps(), r.p50)
	return r, nil
}

func report(rs, pg []result, sessions []int, dur time.Duration) {
	find := func(mode, path string, n int) result {
		for _, r := range rs {
			if r.mode == mode && r.path == path && r.n == n {
				return r
			}
		}
		return result{}
	}
	fmt.Printf("\nget_customer over streamable HTTP, %v per measurement, median of the repetitions\n", dur)
	fmt.Printf("miss: a new customer per call; hit: the same eight customers over and over\n\n")
	fmt.Printf("| N | mode | workload | calls/s | p50 | p99 | server CPU/call | allocated/call | hit ratio |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range sessions {
		for _, path := range []string{"miss", "hit"} {
			for _, mode := range modes {
				r := find(mode, path, n)
				fmt.Printf("| %d | %s | %s | %.0f | %v | %v | %v | %.1f KiB | %.0f%% |\n", n, mode, path,
					r.rps(), r.p50, r.p99, r.cpuPerCall(), r.allocPerCall()/1024, 100*r.hitRatio())
			}
		}
		for _, p := range pg {
			if p.n == n {
				fmt.Printf("| %d | pgbench, same SELECT | - | %.0f | avg %v | - | - | - | - |\n", n, p.rps(), p.p50)
			}
		}
	}
	var errs, wrong int64
	for _, r := range rs {
		errs += r.errors
		wrong += r.wrong
	}
	fmt.Printf("\nfailed calls: %d; hardened (cache on) calls whose cache status differed from the workload: %d\n", errs, wrong)
	for _, r := range rs {
		for _, reason := range slices.Sorted(maps.Keys(r.why)) {
			fmt.Printf("  %s %s n=%d: %d failed: %s\n", r.mode, r.path, r.n, r.why[reason], reason)
		}
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// readmeEnvTable returns the rows of the README's environment table: each
// variable named in the first column, with its documented default when the
// second column gives one per variable.
func readmeEnvTable(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := make(map[string]string)
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "| Variable | Default |") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		cols := strings.Split(line, "|")
		if len(cols) < 4 || strings.HasPrefix(cols[1], "---") {
			continue
		}
		names := strings.Split(strings.TrimSpace(cols[1]), " / ")
		defs := strings.Split(strings.TrimSpace(cols[2]), " / ")
		for i, n := range names {
			n = strings.Trim(strings.TrimSpace(n), "`")
			def := ""
			if len(defs) == len(names) {
				def = strings.Trim(strings.TrimSpace(defs[i]), "`")
			}
			if _, dup := rows[n]; dup {
				t.Errorf("README lists %s twice", n)
			}
			rows[n] = def
		}
	}
	if len(rows) == 0 {
		t.Fatal("no environment table in README.md")
	}
	return rows
}

// envReadInSource returns every variable the command's code reads (its
// internal packages included, such as the demo's): the names given to
// getenv and to the configuration reader.
func envReadInSource(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	internal, err := filepath.Glob("internal/*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, internal...)
	read := regexp.MustCompile(`(?:getenv|Getenv|LookupEnv|r\.[a-z]+)\(\s*"([A-Z][A-Z0-9_]*)"`)
	loop := regexp.MustCompile(`\{"([A-Z][A-Z0-9_]*)", &c\.`) // the key loop of LoadConfig
	names := make(map[string]bool)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{read, loop} {
			for _, m := range re.FindAllSubmatch(src, -1) {
				names[string(m[1])] = true
			}
		}
	}
	return names
}

// The README's environment table names exactly the variables the server
// reads, and the defaults it states are the ones LoadConfig applies.
func TestReadmeEnvironmentTable(t *testing.T) {
	table := readmeEnvTable(t)
	code := envReadInSource(t)

	// LoadConfig itself, asked with nothing set, says what it reads.
	asked := make(map[string]bool)
	c, err := LoadConfig(func(k string) string { asked[k] = true; return "" })
	if err != nil {
		t.Fatal(err)
	}
	for k := range asked {
		code[k] = true
	}
	var missing, extra []string
	for k := range code {
		if _, ok := table[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range table {
		if !code[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("read by the server but not in the README's table: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in the README's table but read nowhere: %v", extra)
	}

	dur := func(d time.Duration) string {
		s := d.String()
		for _, z := range []string{"0s", "0m"} {
			if strings.HasSuffix(s, z) && len(s) > len(z) && strings.ContainsAny(s[:len(s)-len(z)], "hms") {
				s = strings.TrimSuffix(s, z)
			}
		}
		return s
	}
	want := map[string]string{
		"ENVIRONMENT":                   c.Environment,
		"DATABASE_URL":                  c.DatabaseURL,
		"DB_MIN_CONNS":                  fmt.Sprint(c.DB.MinConns),
		"DB_MAX_CONNS":                  fmt.Sprint(c.DB.MaxConns),
		"DB_CONNECT_TIMEOUT":            dur(c.DB.ConnectTimeout),
		"DB_STATEMENT_TIMEOUT":          dur(c.DB.StatementTimeout),
		"DB_HEALTH_CHECK_PERIOD":        dur(c.DB.HealthCheckPeriod),
		"DB_MAX_CONN_LIFETIME":          dur(c.DB.MaxConnLifetime),
		"DB_MAX_CONN_IDLE_TIME":         dur(c.DB.MaxConnIdleTime),
		"REDIS_PREFIX":                  c.RedisPrefix,
		"LOG_LEVEL":                     strings.ToLower(c.LogLevel.String()),
		"ENABLE_CACHING":                fmt.Sprint(c.EnableCache),
		"CACHE_TTL":                     dur(c.CacheTTL),
		"CACHE_STALE_FOR":               dur(c.CacheStaleFor),
		"RATE_LIMIT":                    fmt.Sprint(c.RateLimit),
		"TOOL_TIMEOUT":                  dur(c.ToolTimeout),
		"BREAKER_OPEN_FOR":              dur(c.BreakerOpenFor),
		"BREAKER_TRIP_AFTER":            fmt.Sprint(c.BreakerTripAfter),
		"AUDIT_LOG":                     c.AuditLog,
		"MCP_STATELESS":                 fmt.Sprint(c.Stateless),
		"MCP_JSON_RESPONSE":             fmt.Sprint(c.JSONResponse),
		"MAX_SESSIONS":                  fmt.Sprint(c.Limits.MaxSessions),
		"MAX_SESSIONS_PER_PRINCIPAL":    fmt.Sprint(c.Limits.MaxSessionsPerPrincipal),
		"SESSION_EVICT_IDLE":            fmt.Sprint(c.Limits.EvictIdle),
		"SESSION_IDLE_TIMEOUT":          dur(c.Limits.IdleTimeout),
		"SESSION_MAX_AGE":               dur(c.Limits.MaxAge),
		"MAX_STREAMS_PER_SESSION":       fmt.Sprint(c.Limits.MaxStreamsPerSession),
		"MAX_INFLIGHT_PER_SESSION":      fmt.Sprint(c.Limits.MaxInFlightPerSession),
		"MAX_SUBSCRIPTIONS_PER_SESSION": fmt.Sprint(c.Limits.MaxSubscriptionsPerSession),
		"BULWARK_DISABLE":               fmt.Sprint(c.Bare),
	}
	for k, v := range want {
		got, ok := table[k]
		if !ok {
			continue // reported above
		}
		if got != v {
			t.Errorf("README says %s defaults to %q; LoadConfig gives %q", k, got, v)
		}
	}
}

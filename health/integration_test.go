package health_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/health"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// canaryPassword travels in the PostgreSQL URL. The local server trusts
// every connection, so it is accepted and ignored, but it is in every
// error pgx could build: it must never reach a response body.
const canaryPassword = "canary-pw-7f3e9a1c"

// probe fetches /readyz from srv until the status is want, running the
// checks afresh each time (CacheFor is negative). A restored dependency
// may cost one failed ping to evict a dead pooled connection, so a few
// attempts are allowed; no sleeping is needed between them.
func probe(t *testing.T, srv *httptest.Server, want int) string {
	t.Helper()
	var last string
	for range 5 {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
		if strings.Contains(last, canaryPassword) {
			t.Fatalf("readiness body leaks the password: %s", last)
		}
		if resp.StatusCode == want {
			return last
		}
	}
	t.Fatalf("/readyz never answered %d; last body %s", want, last)
	return ""
}

func TestPostgresAndRedisThroughFaultProxy(t *testing.T) {
	pgURL, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	redisAddr := testenv.RedisAddr(t)
	pgProxy, err := bulwarktest.StartProxy("127.0.0.1:0", pgURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgProxy.Close() })
	redisProxy, err := bulwarktest.StartProxy("127.0.0.1:0", redisAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redisProxy.Close() })

	pgURL.Host = pgProxy.Addr()
	pgURL.User = url.UserPassword(pgURL.User.Username(), canaryPassword)
	cfg, err := pgxpool.ParseConfig(pgURL.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rdb := redis.NewClient(&redis.Options{Addr: redisProxy.Addr(), MaxRetries: -1, PoolSize: 1})
	defer rdb.Close()

	mon, err := health.New(health.Config{Timeout: 300 * time.Millisecond, CacheFor: -1},
		health.Ping("postgres", pool.Ping),
		health.Ping("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(adminMux(mon))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()

	const allOK = `{"status":"ok","checks":{"postgres":"ok","redis":"ok"}}`
	if got := strings.TrimSpace(probe(t, srv, 200)); got != allOK {
		t.Fatalf("healthy body = %s", got)
	}

	t.Run("postgres cut", func(t *testing.T) {
		pgProxy.Cut()
		got := probe(t, srv, 503)
		if !strings.Contains(got, `"status":"unavailable"`) || !strings.Contains(got, `"postgres":"down`) || !strings.Contains(got, `"redis":"ok"`) {
			t.Errorf("body = %s", got)
		}
		pgProxy.Restore()
		probe(t, srv, 200)
	})
	t.Run("redis cut", func(t *testing.T) {
		redisProxy.Cut()
		got := probe(t, srv, 503)
		if !strings.Contains(got, `"redis":"down`) || !strings.Contains(got, `"postgres":"ok"`) {
			t.Errorf("body = %s", got)
		}
		redisProxy.Restore()
		probe(t, srv, 200)
	})
	t.Run("postgres blackholed", func(t *testing.T) {
		pgProxy.Blackhole()
		// Blackhole drops the pooled connection first, so the first ping
		// may fail at once; the next one dials into the void and times out.
		var got string
		for range 3 {
			if got = probe(t, srv, 503); strings.Contains(got, `"postgres":"down: timeout"`) {
				break
			}
		}
		if !strings.Contains(got, `"postgres":"down: timeout"`) {
			t.Errorf("body = %s", got)
		}
		pgProxy.Restore()
		probe(t, srv, 200)
	})
	t.Run("liveness ignores dependencies", func(t *testing.T) {
		pgProxy.Cut()
		defer pgProxy.Restore()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/healthz = %d with PostgreSQL down", resp.StatusCode)
		}
	})
}

// adminMux serves the monitor as an admin listener does.
func adminMux(mon *health.Monitor) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", mon.Liveness())
	mux.Handle("/readyz", mon.Readiness())
	return mux
}

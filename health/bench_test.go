package health_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-mcp/bulwark/health"
)

// BenchmarkReadiness measures a probe: Cached is the common case (a result
// younger than CacheFor), Run starts a round of three trivial checks.
func BenchmarkReadiness(b *testing.B) {
	checks := []health.Named{
		health.Ping("postgres", func(context.Context) error { return nil }),
		health.Ping("redis", func(context.Context) error { return nil }),
		health.Breakers("breakers", func() []string { return nil }),
	}
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	for _, bc := range []struct {
		name     string
		settings health.Config
	}{
		{"Cached", health.Config{}},
		{"Run", health.Config{CacheFor: -1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mon, err := health.New(bc.settings, checks...)
			if err != nil {
				b.Fatal(err)
			}
			h := mon.Readiness()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

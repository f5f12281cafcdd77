package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsHaveRuntimeCollectors scrapes the admin listener's /metrics:
// besides the layers' series it carries the Go runtime and process
// collectors operators watch for leaks, in both the hardened and the bare
// server.
func TestMetricsHaveRuntimeCollectors(t *testing.T) {
	for _, bare := range []bool{false, true} {
		f := newFixture(t, func(env map[string]string) {
			if bare {
				env["BULWARK_DISABLE"] = "1"
			}
		})
		resp, err := http.Get("http://" + f.http.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("bare=%t: /metrics: %d %v", bare, resp.StatusCode, err)
		}
		for _, series := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "go_gc_duration_seconds", "process_resident_memory_bytes ", "process_open_fds ", "process_cpu_seconds_total "} {
			if !strings.Contains(string(body), "\n"+series) {
				t.Errorf("bare=%t: /metrics lacks %q", bare, series)
			}
		}
	}
}

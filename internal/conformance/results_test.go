package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writeChecks(t *testing.T, dir, name, body string) {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "checks.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadResults(t *testing.T) {
	dir := t.TempDir()
	writeChecks(t, dir, "server-tools-call-simple-text-2026-12-02T10-37-56-083Z",
		`[{"id":"tools-call-simple-text","status":"SUCCESS"}]`)
	writeChecks(t, dir, "server-server-sse-polling-2026-12-02T10-37-57-012Z",
		`[{"id":"incoming-sse-event","status":"INFO"},{"id":"incoming-sse-event","status":"INFO"},
		  {"id":"server-sse-retry-field","status":"WARNING"},
		  {"id":"twice","status":"SUCCESS"},{"id":"twice","status":"FAILURE"},{"id":"twice","status":"SUCCESS"}]`)
	writeChecks(t, dir, "not-a-scenario", `not json`)
	if err := os.WriteFile(filepath.Join(dir, "suite.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Results{
		"tools-call-simple-text/tools-call-simple-text": "SUCCESS",
		"server-sse-polling/server-sse-retry-field":     "WARNING",
		"server-sse-polling/twice":                      "FAILURE", // the worst status wins
	}
	if d := diff(want, got); len(d) > 0 {
		t.Errorf("readResults differs: %v", d)
	}
	if p := got.Passed(); !slices.Equal(p, []string{"tools-call-simple-text/tools-call-simple-text"}) {
		t.Errorf("Passed() = %v", p)
	}
}

func TestReadResultsRefusesNothingAndGarbage(t *testing.T) {
	empty := t.TempDir()
	if _, err := readResults(empty); err == nil {
		t.Error("a directory without results read without error: a suite that ran nothing would pass")
	}
	bad := t.TempDir()
	writeChecks(t, bad, "server-ping-2026-12-02T10-37-56-083Z", `{"truncated`)
	if _, err := readResults(bad); err == nil {
		t.Error("a broken checks.json read without error")
	}
}

func TestDiff(t *testing.T) {
	base := Results{"a/1": "SUCCESS", "b/1": "WARNING", "c/1": "FAILURE"}
	tests := []struct {
		name string
		got  Results
		want []string
	}{
		{"same", Results{"a/1": "SUCCESS", "b/1": "WARNING", "c/1": "FAILURE"}, nil},
		{"a pass lost", Results{"a/1": "FAILURE", "b/1": "WARNING", "c/1": "FAILURE"}, []string{"a/1: SUCCESS -> FAILURE"}},
		{"a warning becomes a pass", Results{"a/1": "SUCCESS", "b/1": "SUCCESS", "c/1": "FAILURE"}, []string{"b/1: WARNING -> SUCCESS"}},
		{"a check missing", Results{"b/1": "WARNING", "c/1": "FAILURE"}, []string{"a/1: SUCCESS -> missing"}},
		{"a check added", Results{"a/1": "SUCCESS", "b/1": "WARNING", "c/1": "FAILURE", "d/1": "FAILURE"}, []string{"d/1: missing -> FAILURE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := diff(base, tt.got); !slices.Equal(got, tt.want) {
				t.Errorf("diff = %q, want %q", got, tt.want)
			}
		})
	}
}

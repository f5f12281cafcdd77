package fakeloyalty

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestServiceRefusesWhatTheServerWouldNotSend(t *testing.T) {
	f := &Service{}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/v1/loyalty/C-000001", http.StatusOK},
		{http.MethodPost, "/v1/loyalty/C-000001", http.StatusNotFound},
		{http.MethodGet, "/v1/loyalty/C-1;DROP", http.StatusNotFound},
		{http.MethodGet, "/v1/loyalty/a/b", http.StatusNotFound},
		{http.MethodGet, "/v2/loyalty/C-000001", http.StatusNotFound},
	} {
		w := httptest.NewRecorder()
		f.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.want {
			t.Errorf("%s %s -> %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
	}
	if f.Calls() != 5 {
		t.Fatalf("calls %d, want 5", f.Calls())
	}
}

func TestServiceLatency(t *testing.T) {
	f := &Service{}
	f.SetLatency(50 * time.Millisecond)
	start := time.Now()
	w := httptest.NewRecorder()
	f.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/loyalty/C-000001", nil))
	if took := time.Since(start); took < 50*time.Millisecond || w.Code != http.StatusOK {
		t.Fatalf("answered %d after %v, want 200 after 50ms", w.Code, took)
	}
}

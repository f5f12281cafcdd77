package edge

import (
	"testing"
	"unicode/utf8"
)

func TestMethodOf(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, "tools/call"},
		{`{"params":{"method":"nested"},"method":"prompts/get"}`, "prompts/get"},
		{`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"trunc`, "initialize"},
		{`{"jsonrpc":"2.0","params":{"x":"trunc`, ""},
		{`[{"method":"tools/call"}]`, ""},
		{`{"method":7}`, ""},
		{``, ""},
		{`garbage`, ""},
	}
	for _, tt := range tests {
		if got := methodOf([]byte(tt.body)); got != tt.want {
			t.Errorf("methodOf(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// The body of a refused request is the client's: whatever it holds,
// methodOf returns at most 64 bytes of valid UTF-8.
func FuzzMethodOf(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`))
	f.Add([]byte(`{"method":"\xff\xfe"}`))
	f.Add([]byte(`{"a":[1,{"b":2}],"method":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m := methodOf(body)
		if len(m) > 64 || !utf8.ValidString(m) {
			t.Fatalf("methodOf = %q", m)
		}
	})
}

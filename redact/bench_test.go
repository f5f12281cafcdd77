package redact_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/bulwark-mcp/bulwark/redact"
)

var benchArgs = json.RawMessage(`{"customer_id":"c-1042","email":"ada@example.com","api_key":"k-secret","note":"please update"}`)

func BenchmarkArguments(b *testing.B) {
	var r *redact.Redactor // the built-in rules
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Arguments(context.Background(), benchArgs, nil)
	}
}

func BenchmarkText(b *testing.B) {
	r, err := redact.New(redact.Config{Secrets: []string{"pg-pass-Wd41"}})
	if err != nil {
		b.Fatal(err)
	}
	msg := "dial tcp postgres://app:pg-pass-Wd41@db:5432/customers: connection refused"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Text(msg)
	}
}

package redact_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/bulwark-mcp/bulwark/redact"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func ExampleNew() {
	r, err := redact.New(redact.Config{
		Names:   []string{"ssn"},
		Paths:   []string{"customer.email"},
		Secrets: []string{"db-password-1"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(r.JSON([]byte(`{"customer":{"email":"a@b.c","ssn":"123"},"note":"pw db-password-1"}`), nil)))
	// Output: {"customer":{"email":"[REDACTED]","ssn":"[REDACTED]"},"note":"pw [REDACTED]"}
}

func ExampleRedactor_Arguments() {
	tool := &mcp.Tool{Name: "login", InputSchema: map[string]any{
		"type":       "object",
		"properties": map[string]any{"pin": map[string]any{"type": "string", redact.SensitiveKeyword: true}},
	}}
	var r *redact.Redactor // nil: the built-in rules
	fmt.Println(string(r.Arguments(context.Background(), []byte(`{"user":"ada","pin":"0000"}`), tool)))
	// Output: {"user":"ada","pin":"[REDACTED]"}
}

func ExampleRedactor_JSON() {
	schema := []byte(`{"properties":{"card":{"x-bulwark-sensitive":true}}}`)
	var r *redact.Redactor
	fmt.Println(string(r.JSON([]byte(`{"card":"4111111111111111","password":"x","n":1}`), schema)))
	// Output: {"card":"[REDACTED]","password":"[REDACTED]","n":1}
}

func ExampleRedactor_Text() {
	var r *redact.Redactor
	fmt.Println(r.Text("dial postgres://app:hunter2@db/x: Authorization: Bearer abc\x1b[2J"))
	// Output: dial postgres://app:[REDACTED]@db/x: Authorization: [REDACTED]\x1b[2J
}

func ExampleRedactor_Handler() {
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	var r *redact.Redactor
	log := slog.New(r.Handler(h))
	log.Error("tool call failed", "error", "connect postgres://app:hunter2@db/x", "password", "hunter2")
	// Output: level=ERROR msg="tool call failed" error="connect postgres://app:[REDACTED]@db/x" password=[REDACTED]
}

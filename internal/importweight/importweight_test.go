// Package importweight checks that a server pays only for what it imports:
// the core packages and the in-memory stores link no Redis, PostgreSQL,
// JWT, CEL or OpenTelemetry code; those live in their own packages.
package importweight

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are the import paths of the backends a core package must not link.
var heavy = []string{
	"github.com/redis/",
	"github.com/jackc/pgx",
	"github.com/golang-jwt/",
	"github.com/MicahParks/",
	"cel.dev/",
	"github.com/google/cel-go",
	"go.opentelemetry.io/",
}

func TestCoreLinksNoBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	pkgs := []string{
		// The core, every layer with its in-memory store, and the two
		// small servers the README is built from (in-memory stores, API
		// keys; stdio and streamable HTTP).
		"github.com/bulwark-mcp/bulwark",
		"github.com/bulwark-mcp/bulwark/audit",
		"github.com/bulwark-mcp/bulwark/auth",
		"github.com/bulwark-mcp/bulwark/breaker",
		"github.com/bulwark-mcp/bulwark/budget",
		"github.com/bulwark-mcp/bulwark/cache",
		"github.com/bulwark-mcp/bulwark/deprecation",
		"github.com/bulwark-mcp/bulwark/edge",
		"github.com/bulwark-mcp/bulwark/health",
		"github.com/bulwark-mcp/bulwark/idempotency",
		"github.com/bulwark-mcp/bulwark/metrics",
		"github.com/bulwark-mcp/bulwark/output",
		"github.com/bulwark-mcp/bulwark/pin",
		"github.com/bulwark-mcp/bulwark/policy",
		"github.com/bulwark-mcp/bulwark/ratelimit",
		"github.com/bulwark-mcp/bulwark/redact",
		"github.com/bulwark-mcp/bulwark/retry",
		"github.com/bulwark-mcp/bulwark/serve",
		"github.com/bulwark-mcp/bulwark/validate",
		"github.com/bulwark-mcp/bulwark/examples/hardened",
		"github.com/bulwark-mcp/bulwark/examples/streamable",
	}
	args := append([]string{"list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}"}, pkgs...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, dep := range fields[1:] {
			for _, h := range heavy {
				if strings.HasPrefix(dep, h) {
					t.Errorf("%s links %s", fields[0], dep)
				}
			}
		}
	}
}

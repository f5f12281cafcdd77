package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuditTrailVerifiesWithTheServersKey writes an audit trail to a file
// with AUDIT_HMAC_KEY as operators make it (`openssl rand -hex 32`), then
// runs `bulwark-audit verify FILE` with the same variable: the sound trail
// verifies, an edited one does not, and the base64 spelling of the same
// key verifies too. Server and verifier decode the key the same way.
func TestAuditTrailVerifiesWithTheServersKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0x9c, 0x41, 0xe7, 0x05}, 8)
	keyHex := hex.EncodeToString(raw)
	trail := filepath.Join(t.TempDir(), "audit.jsonl")
	f := newFixture(t, func(env map[string]string) {
		env["AUDIT_LOG"] = trail
		env["AUDIT_HMAC_KEY"] = keyHex
	})
	reader := f.connect(f.keys.reader)
	mustOK(t, reader, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)
	call(t, reader, toolUpdateEmail, map[string]any{"customer_id": "C-000001", "new_email": "x@example.com"}) // refused: no scope
	reader.Close()
	if err := f.http.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(t.TempDir(), "bulwark-audit")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/bulwark-mcp/bulwark/cmd/bulwark-audit").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	verify := func(keyText, file string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, "verify", file)
		cmd.Env = []string{"AUDIT_HMAC_KEY=" + keyText}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}

	if code, out := verify(keyHex, trail); code != 0 || !strings.Contains(out, "OK: ") || !strings.Contains(out, "sealed=true") {
		t.Fatalf("sound trail with the server's key: exit %d: %s", code, out)
	}
	if code, out := verify(base64.StdEncoding.EncodeToString(raw), trail); code != 0 {
		t.Fatalf("sound trail with the same key in base64: exit %d: %s", code, out)
	}
	b, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "edited.jsonl")
	if err := os.WriteFile(edited, bytes.Replace(b, []byte(`"tool":"get_customer"`), []byte(`"tool":"get_customer_"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(keyHex, edited); code != 1 || !strings.Contains(out, "TAMPERED") {
		t.Fatalf("edited trail: exit %d: %s", code, out)
	}
	if code, out := verify("", trail); code != 2 || !strings.Contains(out, "is not set") || !strings.Contains(out, "openssl rand -hex 32") {
		t.Fatalf("unset key: exit %d: %s", code, out)
	}
}

// The server refuses an unset (in production), short or undecodable
// AUDIT_HMAC_KEY with different messages, each saying how to make one,
// and never the value.
func TestAuditKeyMessages(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		says string
	}{
		{map[string]string{"ENVIRONMENT": "production"}, "is required in production"},
		{map[string]string{"AUDIT_HMAC_KEY": "0123456789abcdef"}, "decodes to 8 bytes, fewer than 32"},
		{map[string]string{"AUDIT_HMAC_KEY": "a passphrase is not a key!"}, "neither hex nor base64"},
	} {
		_, err := LoadConfig(getenvFrom(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "openssl rand -hex 32") {
			t.Errorf("%v: %v; want it to say %q and how to make a key", tc.env, err, tc.says)
		}
		if v := tc.env["AUDIT_HMAC_KEY"]; v != "" && err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("the value is shown: %v", err)
		}
	}
}

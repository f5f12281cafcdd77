package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const dbURL = "postgres://app:hunter2-secret@db.internal:5432/app?sslmode=disable"
	hmacKey := strings.Repeat("ab", 32)
	dbFile := write("db", dbURL+"\n", 0o600)
	keyFile := write("key", hmacKey+"\n", 0o644)

	c, err := LoadConfig(getenvFrom(map[string]string{"DATABASE_URL_FILE": dbFile, "AUDIT_HMAC_KEY_FILE": keyFile}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != dbURL || len(c.AuditHMACKey) != 32 {
		t.Errorf("from files: database %q, audit key %d bytes", c.DatabaseURL, len(c.AuditHMACKey))
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "AUDIT_HMAC_KEY_FILE: "+keyFile+" can be read by other users (mode 0644)") {
		t.Errorf("warnings = %q", c.Warnings)
	}

	_, err = LoadConfig(getenvFrom(map[string]string{"DATABASE_URL_FILE": dbFile, "DATABASE_URL": dbURL, "REDIS_URL_FILE": filepath.Join(dir, "missing")}))
	if err == nil {
		t.Fatal("both spellings accepted")
	}
	for _, want := range []string{
		"configuration: DATABASE_URL: DATABASE_URL and DATABASE_URL_FILE are both set; set one of them",
		"configuration: REDIS_URL: REDIS_URL_FILE: cannot read " + filepath.Join(dir, "missing") + ": no such file or directory",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

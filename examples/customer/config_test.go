package main

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	c, err := LoadConfig(getenvFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Environment != envDevelopment || c.DatabaseURL != defaultDatabaseURL || c.RateLimit != 600 || !c.EnableCache {
		t.Fatalf("defaults: %+v", c)
	}
	if !strings.Contains(c.DatabaseReadURL, "customer_reader@") || !strings.Contains(c.DatabaseWriteURL, "customer_writer@") {
		t.Fatalf("role URLs: %s %s", redactURL(c.DatabaseReadURL), redactURL(c.DatabaseWriteURL))
	}
}

func TestConfigCursorKeys(t *testing.T) {
	c, err := LoadConfig(getenvFrom(map[string]string{"CURSOR_KEY": strings.Repeat("ab", 32), "CURSOR_KEY_PREVIOUS": strings.Repeat("cd", 32)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CursorKeys) != 2 || string(c.CursorKeys[0]) != strings.Repeat("\xab", 32) || string(c.CursorKeys[1]) != strings.Repeat("\xcd", 32) {
		t.Fatalf("keys %x", c.CursorKeys)
	}
	if s := c.String(); strings.Contains(s, "abab") || strings.Contains(s, "cdcd") {
		t.Fatalf("String leaks a cursor key: %s", s)
	}
	if c, err := LoadConfig(getenvFrom(nil)); err != nil || len(c.CursorKeys) != 0 {
		t.Fatalf("unset: %v %x (want none: a random key per process)", err, c.CursorKeys)
	}
}

func TestConfigErrorsNameTheVariableNotTheSecret(t *testing.T) {
	const secret = "s3cr3t-value-that-must-not-leak"
	cases := []struct {
		env     map[string]string
		varName string
	}{
		{map[string]string{"ENVIRONMENT": "prod"}, "ENVIRONMENT"},
		{map[string]string{"DATABASE_URL": "mysql://u:" + secret + "@h/db"}, "DATABASE_URL"},
		{map[string]string{"DATABASE_URL": "::" + secret}, "DATABASE_URL"},
		{map[string]string{"REDIS_URL": "http://:" + secret + "@h"}, "REDIS_URL"},
		{map[string]string{"AUDIT_HMAC_KEY": secret}, "AUDIT_HMAC_KEY"},
		{map[string]string{"RATE_LIMIT": "lots"}, "RATE_LIMIT"},
		{map[string]string{"RATE_LIMIT": "0"}, "RATE_LIMIT"},
		{map[string]string{"ENABLE_CACHING": "maybe"}, "ENABLE_CACHING"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{map[string]string{"DB_STATEMENT_TIMEOUT": "forever"}, "DB_STATEMENT_TIMEOUT"},
		{map[string]string{"DB_MIN_CONNS": "20", "DB_MAX_CONNS": "4"}, "DB_MIN_CONNS"},
		{map[string]string{"TLS_CERT_FILE": "/c.pem"}, "TLS_KEY_FILE"},
		{map[string]string{"JWT_ISSUER": "https://issuer.example"}, "JWKS_URL"},
		{map[string]string{"API_KEYS_FILE": "/does/not/exist.json"}, "API_KEYS_FILE"},
		{map[string]string{"LOYALTY_API_URL": "ftp://x"}, "LOYALTY_API_URL"},
		{map[string]string{"ENVIRONMENT": "production"}, "AUDIT_HMAC_KEY"},
		{map[string]string{"ENVIRONMENT": "production", "BULWARK_DISABLE": "1", "AUDIT_HMAC_KEY": strings.Repeat("ab", 32)}, "BULWARK_DISABLE"},
		{map[string]string{"IDEMPOTENCY_STORE": "floppy"}, "IDEMPOTENCY_STORE"},
		{map[string]string{"CURSOR_KEY": secret}, "CURSOR_KEY"},
		{map[string]string{"CURSOR_KEY": strings.Repeat("ab", 32), "CURSOR_KEY_PREVIOUS": secret}, "CURSOR_KEY_PREVIOUS"},
		{map[string]string{"CURSOR_KEY_PREVIOUS": strings.Repeat("ab", 32) + secret}, "CURSOR_KEY_PREVIOUS"},
	}
	for _, c := range cases {
		_, err := LoadConfig(getenvFrom(c.env))
		if err == nil {
			t.Errorf("%v: accepted", c.env)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.varName) {
			t.Errorf("%v: error %q does not name %s", c.env, err, c.varName)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%v: error leaks the value: %q", c.env, err)
		}
	}
}

func TestProductionListenRules(t *testing.T) {
	base := map[string]string{"ENVIRONMENT": "production", "AUDIT_HMAC_KEY": strings.Repeat("ab", 32)}
	c, err := LoadConfig(getenvFrom(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckListen("127.0.0.1:8080"); err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("production without auth: %v", err)
	}
	c.APIKeysFile = "/keys.json" // as if loaded
	if err := c.CheckListen("0.0.0.0:8080"); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("production on a public address without TLS: %v", err)
	}
	if err := c.CheckListen("127.0.0.1:8080"); err != nil {
		t.Fatalf("production on loopback: %v", err)
	}
	c.TLSCertFile, c.TLSKeyFile = "/c.pem", "/k.pem"
	if err := c.CheckListen("0.0.0.0:8443"); err != nil {
		t.Fatalf("production with TLS: %v", err)
	}
	if err := c.CheckListen(""); err == nil || !strings.Contains(err.Error(), "MCP_API_KEY") {
		t.Fatalf("stdio with auth but no identity: %v", err)
	}
	if s := c.String(); strings.Contains(s, "abab") {
		t.Fatalf("String leaks the audit key: %s", s)
	}
}

// FuzzLikePattern: the search text is matched literally; every wildcard
// and escape character in it is escaped.
func FuzzLikePattern(f *testing.F) {
	for _, s := range []string{"", "a", "%", "_", `\`, `a%b_c\d`, "' OR 1=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := likePattern(s)
		if s == "" {
			if p != "" {
				t.Fatalf("empty query gave %q", p)
			}
			return
		}
		inner := p[1 : len(p)-1]
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '\\':
				i++ // the escaped character
			case '%', '_':
				t.Fatalf("unescaped wildcard in %q (from %q)", p, s)
			}
		}
	})
}

package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
)

func mustStore(t testing.TB, entries ...auth.KeyEntry) *auth.APIKeys {
	t.Helper()
	s, err := auth.NewAPIKeys(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAPIKeysVerify(t *testing.T) {
	const (
		key1 = "bwk_first-key-of-the-billing-bot-0123456789"
		key2 = "bwk_second-key-of-the-billing-bot-012345678"
		key3 = "bwk_key-of-the-reporting-job-0123456789abcd"
	)
	s := mustStore(t,
		auth.KeyEntry{Principal: "billing-bot", SHA256: auth.DigestKey(key1), Scopes: []string{"customers:read"}},
		auth.KeyEntry{Principal: "billing-bot", SHA256: strings.ToUpper(auth.DigestKey(key2)), Scopes: []string{"customers:read", "customers:write"}, Label: "rotated"},
		auth.KeyEntry{Principal: "reports", SHA256: auth.DigestKey(key3), Roles: []string{"auditor"}},
	)
	tests := []struct {
		name      string
		key       string
		wantID    string
		wantScope string
		wantCause error
	}{
		{"first key", key1, "billing-bot", "customers:read", nil},
		{"second key of the same principal", key2, "billing-bot", "customers:write", nil},
		{"other principal", key3, "reports", "", nil},
		{"missing", "", "", "", auth.ErrNoCredentials},
		{"garbage", "not-a-key", "", "", auth.ErrUnknownKey},
		{"truncated", key1[:len(key1)-1], "", "", auth.ErrUnknownKey},
		{"one character changed", key1[:len(key1)-1] + "X", "", "", auth.ErrUnknownKey},
		{"digest instead of key", auth.DigestKey(key1), "", "", auth.ErrUnknownKey},
		{"oversized", key1 + strings.Repeat("a", 512), "", "", auth.ErrTokenTooLarge},
		{"control character", key1 + "\n", "", "", auth.ErrMalformedToken},
		{"NUL", key1[:5] + "\x00" + key1[6:], "", "", auth.ErrMalformedToken},
		{"space", "bwk_a b", "", "", auth.ErrMalformedToken},
		{"non-ASCII", key1 + "é", "", "", auth.ErrMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.Verify(context.Background(), tt.key)
			if tt.wantCause != nil {
				if p != nil || !errors.Is(err, bulwark.CodeUnauthenticated) || !errors.Is(err, tt.wantCause) {
					t.Fatalf("Verify = %v, %v; want unauthenticated %v", p, err, tt.wantCause)
				}
				if tt.key != "" && strings.Contains(err.Error(), tt.key) {
					t.Fatalf("error %q echoes the key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.ID != tt.wantID || p.Method != "api_key" {
				t.Fatalf("principal = %+v", p)
			}
			if tt.wantScope != "" && !p.HasScope(tt.wantScope) {
				t.Fatalf("scopes = %v, want %s", p.Scopes, tt.wantScope)
			}
		})
	}
	// Each call gets its own principal.
	a, _ := s.Verify(context.Background(), key1)
	b, _ := s.Verify(context.Background(), key1)
	if a == b {
		t.Fatal("Verify returned the same *Principal twice")
	}
}

func TestAPIKeysZeroValueRefuses(t *testing.T) {
	var s auth.APIKeys
	if _, err := s.Verify(context.Background(), "bwk_anything"); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("zero APIKeys: %v", err)
	}
	var nilS *auth.APIKeys
	if _, err := nilS.Verify(context.Background(), "bwk_x"); !errors.Is(err, bulwark.CodeUnauthenticated) {
		t.Fatalf("nil APIKeys: %v", err)
	}
}

func TestAPIKeysReplace(t *testing.T) {
	oldKey, oldEntry, err := auth.GenerateKey("svc")
	if err != nil {
		t.Fatal(err)
	}
	newKey, newEntry, _ := auth.GenerateKey("svc")
	s := mustStore(t, oldEntry)
	if err := s.Replace(newEntry, auth.KeyEntry{Principal: "", SHA256: auth.DigestKey("x")}); err == nil {
		t.Fatal("Replace accepted an invalid entry")
	}
	if _, err := s.Verify(context.Background(), oldKey); err != nil {
		t.Fatal("failed Replace changed the store")
	}
	if err := s.Replace(newEntry); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(context.Background(), oldKey); err == nil {
		t.Fatal("old key still accepted after Replace")
	}
	if _, err := s.Verify(context.Background(), newKey); err != nil {
		t.Fatal(err)
	}
}

func TestAPIKeysConcurrentReplace(t *testing.T) {
	key, entry, _ := auth.GenerateKey("svc", "a")
	s := mustStore(t, entry)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 500; j++ {
				if _, err := s.Verify(context.Background(), key); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for j := 0; j < 100; j++ {
		if err := s.Replace(entry); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

func TestNewAPIKeysRejects(t *testing.T) {
	good := auth.DigestKey("k")
	tests := []struct {
		name  string
		entry []auth.KeyEntry
	}{
		{"empty principal", []auth.KeyEntry{{SHA256: good}}},
		{"control character in principal", []auth.KeyEntry{{Principal: "a\nb", SHA256: good}}},
		{"short digest", []auth.KeyEntry{{Principal: "p", SHA256: good[:63]}}},
		{"non-hex digest", []auth.KeyEntry{{Principal: "p", SHA256: strings.Repeat("g", 64)}}},
		{"plain key as digest", []auth.KeyEntry{{Principal: "p", SHA256: "bwk_secret"}}},
		{"scope with space", []auth.KeyEntry{{Principal: "p", SHA256: good, Scopes: []string{"a b"}}}},
		{"empty scope", []auth.KeyEntry{{Principal: "p", SHA256: good, Scopes: []string{""}}}},
		{"bad role", []auth.KeyEntry{{Principal: "p", SHA256: good, Roles: []string{"x\x00"}}}},
		{"duplicate digest", []auth.KeyEntry{{Principal: "p", SHA256: good}, {Principal: "q", SHA256: strings.ToUpper(good)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.NewAPIKeys(tt.entry...); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), good) {
				t.Fatalf("error quotes the digest: %v", err)
			}
		})
	}
}

func TestParseKeyFile(t *testing.T) {
	d := auth.DigestKey("bwk_x")
	tests := []struct {
		name    string
		data    string
		wantN   int
		wantErr string
	}{
		{"valid", `[{"principal":"a","sha256":"` + d + `","scopes":["s:1"],"roles":["r"],"label":"ci"}]`, 1, ""},
		{"empty array", `[]`, 0, ""},
		{"whitespace around", "\n [ ] \n", 0, ""},
		{"empty", ``, 0, "JSON array"},
		{"null", `null`, 0, "JSON array"},
		{"object", `{"principal":"a"}`, 0, "JSON array"},
		{"unknown field", `[{"principal":"a","sha256":"` + d + `","scope":["s"]}]`, 0, "unknown field"},
		{"plain key field", `[{"principal":"a","key":"bwk_secret"}]`, 0, "unknown field"},
		{"missing digest", `[{"principal":"a"}]`, 0, "64 hex"},
		{"trailing data", `[] []`, 0, "after the array"},
		{"truncated", `[{"principal":"a","sha256":"` + d, 0, "key file"},
		{"wrong type", `[{"principal":1,"sha256":"` + d + `"}]`, 0, "key file"},
		{"duplicate", `[{"principal":"a","sha256":"` + d + `"},{"principal":"b","sha256":"` + d + `"}]`, 0, "same digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := auth.ParseKeyFile([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "bwk_secret") {
					t.Fatalf("error echoes a key: %v", err)
				}
				return
			}
			if err != nil || len(entries) != tt.wantN {
				t.Fatalf("ParseKeyFile = %v, %v", entries, err)
			}
		})
	}
	big := make([]byte, (8<<20)+1)
	if _, err := auth.ParseKeyFile(big); err == nil {
		t.Fatal("oversized key file accepted")
	}
}

func TestLoadKeyFile(t *testing.T) {
	key, entry, err := auth.GenerateKey("ops", "customers:read")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]auth.KeyEntry{entry})
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := auth.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := mustStore(t, entries...)
	p, err := s.Verify(context.Background(), key)
	if err != nil || p.ID != "ops" || !p.HasScope("customers:read") {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	if strings.Contains(string(b), key) {
		t.Fatal("the file entry contains the key")
	}
	if _, err := auth.LoadKeyFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestGenerateKey(t *testing.T) {
	k1, e1, err := auth.GenerateKey("svc", "a:b")
	if err != nil {
		t.Fatal(err)
	}
	k2, _, _ := auth.GenerateKey("svc")
	if k1 == k2 || !strings.HasPrefix(k1, "bwk_") || len(k1) != len("bwk_")+43 {
		t.Fatalf("keys %q %q", k1, k2)
	}
	if e1.SHA256 != auth.DigestKey(k1) || e1.Principal != "svc" || len(e1.Scopes) != 1 {
		t.Fatalf("entry %+v", e1)
	}
	if _, _, err := auth.GenerateKey(""); err == nil {
		t.Fatal("empty principal accepted")
	}
	if _, _, err := auth.GenerateKey("svc", "bad scope"); err == nil {
		t.Fatal("bad scope accepted")
	}
}

func FuzzParseKeyFile(f *testing.F) {
	d := auth.DigestKey("bwk_x")
	f.Add([]byte(`[{"principal":"a","sha256":"` + d + `","scopes":["s"]}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"principal":"a\u0000","sha256":"` + d + `"}]`))
	f.Add([]byte(`[{"principal":"a","sha256":"` + d + `"},{"principal":"a","sha256":"` + d + `"}]`))
	f.Add([]byte(`{"x":1}`))
	f.Add([]byte("\xff\xfe["))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := auth.ParseKeyFile(data)
		if err != nil {
			return
		}
		// Whatever parses must build a store.
		if _, err := auth.NewAPIKeys(entries...); err != nil {
			t.Fatalf("parsed entries refused by NewAPIKeys: %v", err)
		}
	})
}

func FuzzAPIKeysVerify(f *testing.F) {
	key, entry, _ := auth.GenerateKey("svc")
	s := mustStore(f, entry)
	f.Add(key)
	f.Add("")
	f.Add(key + "\r\n")
	f.Add(strings.Repeat("A", 600))
	f.Add("bwk_\x00")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := s.Verify(context.Background(), in)
		if (err == nil) != (in == key) {
			t.Fatalf("Verify(%q) = %v, %v", in, p, err)
		}
		if err != nil {
			if !errors.Is(err, bulwark.CodeUnauthenticated) {
				t.Fatalf("not unauthenticated: %v", err)
			}
			if msg := err.Error(); msg != "API key required" && msg != "invalid API key" {
				t.Fatalf("unexpected client text %q", msg)
			}
		}
	})
}

package audit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
)

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:32] // base64 of it needs + and /
	for _, tc := range []struct {
		name, text string
		want       []byte
		msg        string // in the error
	}{
		{"hex", hex.EncodeToString(key), key, ""},
		{"hex upper case with new line", strings.ToUpper(hex.EncodeToString(key)) + "\n", key, ""},
		{"base64", base64.StdEncoding.EncodeToString(key), key, ""},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(key), key, ""},
		{"base64 url", base64.URLEncoding.EncodeToString(key), key, ""},
		{"empty", "", nil, "is not set"},
		{"blank", "  \n", nil, "is not set"},
		{"short hex", hex.EncodeToString(key[:16]), nil, "decodes to 16 bytes, fewer than 32"},
		{"short base64", base64.StdEncoding.EncodeToString(key[:31]), nil, "decodes to 31 bytes, fewer than 32"},
		{"odd hex digits", hex.EncodeToString(key)[1:], nil, "neither hex nor base64"},
		{"raw text", "this is a passphrase, not an encoded key!", nil, "neither hex nor base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := audit.ParseKey(tc.text)
			if tc.msg == "" {
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Fatalf("ParseKey = %x, %v; want %x", got, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, audit.ErrNoKey) || !strings.Contains(err.Error(), tc.msg) ||
				!strings.Contains(err.Error(), "openssl rand -hex 32") {
				t.Fatalf("ParseKey error %v; want one matching ErrNoKey, saying %q and how to make a key", err, tc.msg)
			}
			if tc.text != "" && strings.TrimSpace(tc.text) != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.text)) {
				t.Fatalf("error shows the key: %v", err)
			}
		})
	}
}

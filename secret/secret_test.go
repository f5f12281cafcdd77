package secret_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark/secret"
)

const value = "postgres://app:s3cr3t-pw@db/app"

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := file("private", value+"\n", 0o600)
	crlf := file("crlf", value+"\r\n", 0o400)
	shared := file("shared", value, 0o644)
	big := file("big", strings.Repeat("x", secret.MaxSize+1), 0o600)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string
		err     string // substring; "" means none
		warning string // substring; "" means none
	}{
		{"unset", nil, "", "", ""},
		{"variable", map[string]string{"DB": value}, value, "", ""},
		{"file, newline trimmed", map[string]string{"DB_FILE": private}, value, "", ""},
		{"file, CRLF trimmed", map[string]string{"DB_FILE": crlf}, value, "", ""},
		{"file readable by others", map[string]string{"DB_FILE": shared}, value, "", "DB_FILE: " + shared + " can be read by other users (mode 0644)"},
		{"both", map[string]string{"DB": value, "DB_FILE": private}, "", "DB and DB_FILE are both set; set one of them", ""},
		{"missing file", map[string]string{"DB_FILE": filepath.Join(dir, "nope")}, "", "DB_FILE: cannot read " + filepath.Join(dir, "nope") + ": no such file or directory", ""},
		{"directory", map[string]string{"DB_FILE": dir}, "", "is a directory", ""},
		{"too large", map[string]string{"DB_FILE": big}, "", "is larger than 65536 bytes", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings []string
			got, err := secret.Read(func(k string) string { return tc.env[k] }, "DB", func(m string) { warnings = append(warnings, m) })
			if got != tc.want {
				t.Errorf("value = %q, want %q", got, tc.want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("err = %v, want %q", err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the secret: %v", err)
			}
			if tc.warning == "" && len(warnings) > 0 || tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tc.warning)) {
				t.Errorf("warnings = %q, want %q", warnings, tc.warning)
			}
			for _, w := range warnings {
				if strings.Contains(w, "s3cr3t") {
					t.Errorf("warning shows the secret: %s", w)
				}
			}
		})
	}
}

func TestReadDefaultsToOSGetenv(t *testing.T) {
	t.Setenv("BULWARK_SECRET_TEST", "v")
	if got, err := secret.Read(nil, "BULWARK_SECRET_TEST", nil); got != "v" || err != nil {
		t.Errorf("Read = %q, %v", got, err)
	}
}

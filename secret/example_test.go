package secret_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulwark-mcp/bulwark/secret"
)

func ExampleRead() {
	dir, _ := os.MkdirTemp("", "secret")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "db-url")
	_ = os.WriteFile(path, []byte("postgres://app:pw@db/app\n"), 0o600)

	env := map[string]string{"DATABASE_URL_FILE": path}
	dsn, err := secret.Read(func(k string) string { return env[k] }, "DATABASE_URL", nil)
	fmt.Println(len(dsn), err)

	env["DATABASE_URL"] = "postgres://app:pw@db/app"
	_, err = secret.Read(func(k string) string { return env[k] }, "DATABASE_URL", nil)
	fmt.Println(err)
	// Output:
	// 24 <nil>
	// secret: DATABASE_URL and DATABASE_URL_FILE are both set; set one of them
}

package secret

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxSize bounds a secret file: anything larger is not a secret but a
// mistake (a path to the wrong file), and is refused.
const MaxSize = 64 << 10

// Read returns the secret called name: the value of the variable name, or
// the content of the file the variable name+"_FILE" names (one trailing
// newline removed, since files are usually written with one). It returns
// "" when neither is set.
//
// Setting both is an error naming the two variables. A file that cannot be
// read, or is larger than [MaxSize], is an error naming the variable and
// the path. A file that other users may read (any permission bit for
// group or others) is accepted, and warn, when not nil, is called with a
// message naming the variable, the path and the mode. No error or warning
// ever holds the secret.
//
// getenv is os.Getenv in a program; nil means os.Getenv.
func Read(getenv func(string) string, name string, warn func(msg string)) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fileVar := name + "_FILE"
	value, path := getenv(name), strings.TrimSpace(getenv(fileVar))
	if path == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("secret: %s and %s are both set; set one of them", name, fileVar)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secret: %s: cannot read %s: %w", fileVar, path, cause(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("secret: %s: cannot read %s: %w", fileVar, path, cause(err))
	}
	if info.IsDir() {
		return "", fmt.Errorf("secret: %s: %s is a directory, not a file", fileVar, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && warn != nil {
		warn(fmt.Sprintf("%s: %s can be read by other users (mode %04o); make it readable by its owner only (chmod 600)", fileVar, path, perm))
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return "", fmt.Errorf("secret: %s: cannot read %s: %w", fileVar, path, cause(err))
	}
	if len(b) > MaxSize {
		return "", fmt.Errorf("secret: %s: %s is larger than %d bytes: not a secret file", fileVar, path, MaxSize)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// cause drops the path an *os.PathError repeats.
func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

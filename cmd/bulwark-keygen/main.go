// Command bulwark-keygen makes a new API key for a bulwark key store.
//
//	bulwark-keygen -principal billing-bot -scope customers:read -scope customers:write
//
// It prints the key to stderr — hand it to the client once; it is not
// stored anywhere — and the key-file entry (JSON, holding only the key's
// SHA-256 digest) to stdout, ready to add to the array in the key file.
// With -append FILE the entry is added to FILE instead (created if absent).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bulwark-mcp/bulwark/auth"
)

type scopes []string

func (s *scopes) String() string     { return fmt.Sprint(*s) }
func (s *scopes) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bulwark-keygen:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bulwark-keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	principal := fs.String("principal", "", "ID of the caller the key belongs to (required)")
	label := fs.String("label", "", "note to tell this principal's keys apart")
	file := fs.String("append", "", "add the entry to this key file instead of printing it")
	var sc scopes
	fs.Var(&sc, "scope", "scope the key grants (repeatable)")
	var roles scopes
	fs.Var(&roles, "role", "role the key grants (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *principal == "" {
		return errors.New("-principal is required")
	}
	key, entry, err := auth.GenerateKey(*principal, sc...)
	if err != nil {
		return err
	}
	entry.Roles = roles
	entry.Label = *label
	if _, err := auth.NewAPIKeys(entry); err != nil {
		return err
	}
	if *file != "" {
		if err := appendEntry(*file, entry); err != nil {
			return err
		}
	} else {
		b, _ := json.Marshal(entry)
		fmt.Fprintln(stdout, string(b))
	}
	fmt.Fprintln(stderr, "key (shown once):", key)
	return nil
}

// appendEntry adds entry to the key file at path, validating the result
// before replacing the file.
func appendEntry(path string, entry auth.KeyEntry) error {
	var entries []auth.KeyEntry
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if entries, err = auth.ParseKeyFile(data); err != nil {
			return err
		}
	}
	entries = append(entries, entry)
	if _, err := auth.NewAPIKeys(entries...); err != nil {
		return err
	}
	out, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

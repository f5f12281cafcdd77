package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark/auth"
)

func keyFrom(t *testing.T, stderr string) string {
	t.Helper()
	_, key, ok := strings.Cut(strings.TrimSpace(stderr), "key (shown once): ")
	if !ok {
		t.Fatalf("no key in %q", stderr)
	}
	return key
}

func TestPrint(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"-principal", "bot", "-scope", "a:read", "-scope", "a:write", "-role", "ops"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	key := keyFrom(t, errOut.String())
	if strings.Contains(out.String(), key) {
		t.Fatal("stdout contains the key")
	}
	var e auth.KeyEntry
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	store, err := auth.NewAPIKeys(e)
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.Verify(context.Background(), key)
	if err != nil || p.ID != "bot" || !p.HasScope("a:write") || !p.HasRole("ops") {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	var keys []string
	for i := 0; i < 2; i++ {
		var out, errOut bytes.Buffer
		if err := run([]string{"-principal", "bot", "-append", path}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, keyFrom(t, errOut.String()))
	}
	entries, err := auth.LoadKeyFile(path)
	if err != nil || len(entries) != 2 {
		t.Fatalf("%v %v", entries, err)
	}
	store, _ := auth.NewAPIKeys(entries...)
	for _, k := range keys {
		if _, err := store.Verify(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(path)
	for _, k := range keys {
		if strings.Contains(string(data), k) {
			t.Fatal("key file contains a key")
		}
	}
}

func TestRejects(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-principal", ""},
		{"-principal", "bot", "-scope", "has space"},
		{"-principal", "bot", "-role", "bad\x00"},
		{"-nope"},
	} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err == nil {
			t.Fatalf("%q accepted", args)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{"), 0o600)
	var out, errOut bytes.Buffer
	if err := run([]string{"-principal", "bot", "-append", bad}, &out, &errOut); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}

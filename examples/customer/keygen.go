package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bulwark-mcp/bulwark/auth"
)

// keygen prints a new API key (to hand to the client, once) and the entry
// to add to API_KEYS_FILE (which holds only the key's digest).
func keygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	principal := fs.String("principal", "", "the caller the key identifies (required)")
	scopes := fs.String("scopes", scopeRead, "comma-separated scopes the key grants ("+scopeRead+", "+scopeWrite+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *principal == "" {
		fmt.Fprintln(stderr, "keygen: -principal is required")
		return 2
	}
	var list []string
	for _, s := range strings.Split(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	key, entry, err := auth.GenerateKey(*principal, list...)
	if err != nil {
		fmt.Fprintln(stderr, "keygen:", err)
		return 1
	}
	b, _ := json.Marshal(entry)
	fmt.Fprintf(stdout, "API key (give it to the client once; it is not stored):\n  %s\n", key)
	fmt.Fprintf(stdout, "Entry for API_KEYS_FILE (a JSON array of such entries):\n  %s\n", b)
	return 0
}

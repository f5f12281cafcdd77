// Command bulwark-policy checks a policy file offline, as a server checks
// it before it takes effect:
//
//	bulwark-policy check -tools tools.json policy.yaml
//
// With no server to ask, the tools come from a manifest: the JSON of a
// tools/list result, {"tools": [{"name": …, "inputSchema": {…}}, …]}, which
// any MCP client prints, or json.Marshal(map[string]any{"tools":
// bulwark.Tools(server)}). It prints "FILE: ok (sha256:…)" and exits 0 for a
// valid file; otherwise it prints every problem as "file:line: what is
// wrong" and exits 1. Usage errors exit 2.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = "usage: bulwark-policy check -tools MANIFEST.json FILE"

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("bulwark-policy check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	manifest := fs.String("tools", "", "tools manifest: the JSON of a tools/list result (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *manifest == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	tools, err := readManifest(*manifest)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark-policy:", err)
		return 2
	}
	p, err := policy.Load(fs.Arg(0), tools, compiler())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%s)\n", fs.Arg(0), p.Digest)
	return 0
}

func readManifest(path string) ([]*mcp.Tool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m struct {
		Tools []*mcp.Tool `json:"tools"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: not a tools manifest: %w", path, err)
	}
	if len(m.Tools) == 0 {
		return nil, errors.New(path + `: the manifest lists no tools ({"tools": [...]})`)
	}
	for i, t := range m.Tools {
		if t == nil || t.Name == "" {
			return nil, fmt.Errorf("%s: tool %d has no name", path, i)
		}
	}
	return m.Tools, nil
}

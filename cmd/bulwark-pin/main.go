// Command bulwark-pin compares two tool manifests written by a bulwark
// server (pin.Manifest.WriteFile), for a release review or a CI gate:
//
//	bulwark-pin diff tools.pin.json new.pin.json
//
// It prints one line per added, removed or changed tool and exits 1 when
// the manifests differ, 0 when they pin the same definitions, and 2 when a
// file cannot be read or its set digest does not match its tools.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/bulwark-mcp/bulwark/pin"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) != 3 || args[0] != "diff" {
		fmt.Fprintln(stderr, "usage: bulwark-pin diff OLD.json NEW.json")
		return 2
	}
	old, err := pin.ReadManifest(args[1])
	if err != nil {
		fmt.Fprintln(stderr, "bulwark-pin:", err)
		return 2
	}
	next, err := pin.ReadManifest(args[2])
	if err != nil {
		fmt.Fprintln(stderr, "bulwark-pin:", err)
		return 2
	}
	changes := old.Diff(next)
	for _, c := range changes {
		fmt.Fprintln(stdout, c)
	}
	if len(changes) > 0 {
		fmt.Fprintf(stdout, "set %s -> %s\n", old.Set, next.Set)
		return 1
	}
	fmt.Fprintf(stdout, "same set %s\n", old.Set)
	return 0
}

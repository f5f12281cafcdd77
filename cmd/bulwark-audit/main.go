// Command bulwark-audit checks bulwark audit trails.
//
// Usage:
//
//	AUDIT_HMAC_KEY=... bulwark-audit verify [-open] FILE
//
// verify checks every record's MAC, the sequence and the chain, and (unless
// -open is given, for a trail whose server is still running) the final
// seal. It prints a summary and exits 0 when the trail is intact, 1 when it
// was tampered with (naming the first bad line), and 2 on usage or I/O
// errors. FILE "-" reads standard input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bulwark-mcp/bulwark/audit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s=<key> bulwark-audit verify [-open] FILE\n", audit.KeyEnv)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	open := fs.Bool("open", false, "accept a trail without a final seal (its logger is still running)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		usage(stderr)
		return 2
	}
	key, err := audit.KeyFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	var in io.Reader = stdin
	name := fs.Arg(0)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		defer f.Close()
		in = f
	}
	verify := audit.Verify
	if *open {
		verify = audit.VerifyOpen
	}
	rep, err := verify(in, key)
	if err != nil {
		if errors.Is(err, audit.ErrTampered) {
			fmt.Fprintf(stdout, "TAMPERED after %d good records: %v\n", rep.Records, err)
			return 1
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "OK: %d records, seq %d..%d, anchored=%t sealed=%t seals=%d purges=%d\n",
		rep.Records, rep.FirstSeq, rep.LastSeq, rep.Anchored, rep.Sealed, rep.Seals, rep.Purges)
	return 0
}

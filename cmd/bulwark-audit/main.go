// Command bulwark-audit checks bulwark audit trails.
//
// Usage:
//
//	AUDIT_HMAC_KEY=... bulwark-audit verify [-open] FILE
//	AUDIT_HMAC_KEY=... bulwark-audit verify [-open] -db URL [-table NAME]
//
// AUDIT_HMAC_KEY holds the chain key the server used, in the same text:
// hex (as `openssl rand -hex 32` makes it) or base64, decoded by
// audit.ParseKey, the one decoding every bulwark server uses.
//
// verify checks every record's MAC, the sequence and the chain, and (unless
// -open is given, for a trail whose server is still running) the final
// seal. It prints a summary and exits 0 when the trail is intact, 1 when it
// was tampered with (naming the first bad line or row), and 2 on usage or
// I/O errors. FILE "-" reads standard input. With -db it checks the trail
// of the PostgreSQL sink in the named table (default audit_records).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/jackc/pgx/v5"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %[1]s=<key> bulwark-audit verify [-open] FILE\n       %[1]s=<key> bulwark-audit verify [-open] -db URL [-table NAME]\n", audit.KeyEnv)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	open := fs.Bool("open", false, "accept a trail without a final seal (its logger is still running)")
	db := fs.String("db", "", "PostgreSQL URL: verify the PostgreSQL sink's table instead of a file")
	table := fs.String("table", audit.DefaultTable, "table of the PostgreSQL sink (with -db)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if (*db == "") != (fs.NArg() == 1) || fs.NArg() > 1 {
		usage(stderr)
		return 2
	}
	key, err := audit.KeyFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *db != "" {
		rep, err := verifyDB(*db, *table, key, !*open)
		return report(rep, err, stdout, stderr)
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
	return report(rep, err, stdout, stderr)
}

func verifyDB(url, table string, key []byte, requireSeal bool) (audit.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		// pgx errors can quote the connection string; keep the password out.
		return audit.Report{}, errors.New(audit.RedactText(err.Error()))
	}
	defer conn.Close(context.Background())
	sink, err := audit.NewPostgresSink(conn, table)
	if err != nil {
		return audit.Report{}, err
	}
	return sink.Verify(ctx, key, requireSeal)
}

func report(rep audit.Report, err error, stdout, stderr io.Writer) int {
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

// Command bulwark-audit checks bulwark audit trails.
//
// Usage:
//
//	AUDIT_HMAC_KEY=... bulwark-audit verify [-open] FILE
//	AUDIT_HMAC_KEY=... bulwark-audit verify [-open] -db URL [-table NAME] [-instance NAME]
//
// AUDIT_HMAC_KEY holds the chain key the server used, in the same text:
// hex (as `openssl rand -hex 32` makes it) or base64, decoded by
// audit.ParseKey, the one decoding every bulwark server uses.
//
// verify checks every record's MAC, the sequence and the chain, and (unless
// -open is given, for a trail whose server is still running) the final
// seal. It prints a summary and exits 0 when the trail is intact, 1 when it
// was tampered with (naming the first bad line or row), and 2 on usage or
// I/O errors. FILE "-" reads standard input.
//
// With -db it checks the PostgreSQL sink's table (default audit_records),
// which holds one chain per server instance: every chain, or only the one
// named by -instance. It prints one line per chain (its instance, then OK,
// OPEN for an intact chain without a final seal under -open, or TAMPERED
// with the first bad row counted within the chain) and a summary, and exits
// 1 if any chain fails. A chain without a final seal fails unless -open is
// given: its server is still running, crashed, or the chain was cut short;
// the time of its last record tells which is likelier.
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
	"github.com/bulwark-mcp/bulwark/audit/pgaudit"
	"github.com/bulwark-mcp/bulwark/redact"
	"github.com/jackc/pgx/v5"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// keyEnv is the environment variable that holds the chain key.
const keyEnv = "AUDIT_HMAC_KEY"

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %[1]s=<key> bulwark-audit verify [-open] FILE\n       %[1]s=<key> bulwark-audit verify [-open] -db URL [-table NAME] [-instance NAME]\n", keyEnv)
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
	table := fs.String("table", pgaudit.DefaultTable, "table of the PostgreSQL sink (with -db)")
	instance := fs.String("instance", "", "report only this instance's chain (with -db)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if (*db == "") != (fs.NArg() == 1) || fs.NArg() > 1 || (*instance != "" && *db == "") {
		usage(stderr)
		return 2
	}
	key, err := audit.ParseKey(os.Getenv(keyEnv))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", keyEnv, err)
		return 2
	}
	if *db != "" {
		reps, err := verifyDB(*db, *table, *instance, key, !*open)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		return reportChains(reps, *instance, !*open, stdout)
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

func verifyDB(url, table, instance string, key []byte, requireSeal bool) ([]pgaudit.ChainVerification, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		// pgx errors can quote the connection string; keep the password out.
		var red *redact.Redactor // the built-in rules
		return nil, errors.New(red.Text(err.Error()))
	}
	defer conn.Close(context.Background())
	sink, err := pgaudit.New(conn, pgaudit.Config{Table: table})
	if err != nil {
		return nil, err
	}
	reps, err := sink.VerifyChains(ctx, key, requireSeal)
	if err != nil || instance == "" {
		return reps, err
	}
	for _, r := range reps {
		if r.Instance == instance {
			return []pgaudit.ChainVerification{r}, nil
		}
	}
	return nil, nil
}

// reportChains prints one line per chain and a summary, and returns the
// exit code: 1 if any chain failed, or if there is none to check while
// seals are required.
func reportChains(reps []pgaudit.ChainVerification, instance string, requireSeal bool, stdout io.Writer) int {
	if len(reps) == 0 {
		what := "the table holds no records"
		if instance != "" {
			what = fmt.Sprintf("the table holds no chain of instance %q", instance)
		}
		if requireSeal {
			fmt.Fprintf(stdout, "TAMPERED: %s (use -open for a trail that was never written)\n", what)
			return 1
		}
		fmt.Fprintf(stdout, "OK: %s\n", what)
		return 0
	}
	bad := 0
	for _, r := range reps {
		if r.Err != nil {
			bad++
			fmt.Fprintf(stdout, "chain %q: TAMPERED after %d good records: %v\n", r.Instance, r.Records, r.Err)
			continue
		}
		state := "OK"
		if !r.Sealed {
			state = "OPEN"
		}
		fmt.Fprintf(stdout, "chain %q: %s: %d records, seq %d..%d, anchored=%t sealed=%t seals=%d purges=%d last=%s\n",
			r.Instance, state, r.Records, r.FirstSeq, r.LastSeq, r.Anchored, r.Sealed, r.Seals, r.Purges, r.LastTime.Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "%d chains: %d intact, %d tampered\n", len(reps), len(reps)-bad, bad)
	if bad > 0 {
		return 1
	}
	return 0
}

func report(rep audit.Verification, err error, stdout, stderr io.Writer) int {
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

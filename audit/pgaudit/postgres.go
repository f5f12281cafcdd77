package pgaudit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the sink and the erasure keys need from a database handle;
// *pgxpool.Pool and *pgx.Conn satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// DefaultTable is the sink's table when Config.Table is empty.
const DefaultTable = "audit_records"

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}(\.[a-z_][a-z0-9_]{0,47})?$`)

type pgTable struct {
	raw    string // as configured
	name   string // quoted, possibly schema-qualified
	anchor string // quoted anchor table
	bare   string // unquoted last component, for index names
}

func parseTable(table string) (pgTable, error) {
	if table == "" {
		table = DefaultTable
	}
	if !identRE.MatchString(table) {
		return pgTable{}, fmt.Errorf("pgaudit: table name %s must be lower-case letters, digits and _ (optionally schema.table)", quoteForError(table))
	}
	parts := strings.Split(table, ".")
	anchorParts := append([]string(nil), parts...)
	anchorParts[len(anchorParts)-1] += "_anchor"
	return pgTable{
		raw:    table,
		name:   pgx.Identifier(parts).Sanitize(),
		anchor: pgx.Identifier(anchorParts).Sanitize(),
		bare:   parts[len(parts)-1],
	}, nil
}

// DDL returns the statements that create the sink's tables (table ""
// means DefaultTable): the records, one row per record with the signed
// line kept verbatim (text, not jsonb, which would reorder keys and break
// the MAC) and a few columns for queries, keyed by instance and sequence
// number; and an anchor table with one row per pruned chain, for
// retention. It is idempotent, and it upgrades tables made before chains
// had instances (their rows become the chain of instance ""). Grant the
// server's role only INSERT and SELECT on both tables, so even the server
// cannot rewrite history; retention (DELETE) belongs to an operator role.
func DDL(table string) (string, error) {
	t, err := parseTable(table)
	if err != nil {
		return "", err
	}
	// The names are validated and quoted; the DO blocks take the quoted
	// names as text for regclass, which holds no single quote.
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (
	instance       text        NOT NULL DEFAULT '',
	seq            bigint      NOT NULL,
	time           timestamptz NOT NULL,
	kind           text        NOT NULL,
	correlation_id text        NOT NULL DEFAULT '',
	session_id     text        NOT NULL DEFAULT '',
	tool           text        NOT NULL DEFAULT '',
	outcome        text        NOT NULL DEFAULT '',
	key_id         text        NOT NULL DEFAULT '',
	line           text        NOT NULL,
	PRIMARY KEY (instance, seq)
);
DO $$
DECLARE c text;
BEGIN
	-- Tables made before chains had instances: upgraded once. The checks
	-- come first so that a start on an upgraded table takes no lock.
	IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '%[1]s'::regclass AND attname = 'instance' AND NOT attisdropped) THEN
		ALTER TABLE %[1]s ADD COLUMN instance text NOT NULL DEFAULT '';
	END IF;
	SELECT conname INTO c FROM pg_constraint
	WHERE conrelid = '%[1]s'::regclass AND contype = 'p' AND cardinality(conkey) = 1;
	IF c IS NOT NULL THEN
		EXECUTE format('ALTER TABLE %%s DROP CONSTRAINT %%I, ADD PRIMARY KEY (instance, seq)', '%[1]s', c);
	END IF;
END $$;
CREATE INDEX IF NOT EXISTS %[3]s ON %[1]s (time);
CREATE INDEX IF NOT EXISTS %[4]s ON %[1]s (correlation_id);
CREATE TABLE IF NOT EXISTS %[2]s (
	instance text   PRIMARY KEY DEFAULT '',
	seq      bigint NOT NULL,
	line     text   NOT NULL
);
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '%[2]s'::regclass AND attname = 'id' AND NOT attisdropped) THEN
		ALTER TABLE %[2]s ADD COLUMN IF NOT EXISTS instance text NOT NULL DEFAULT '';
		ALTER TABLE %[2]s DROP COLUMN id;
		ALTER TABLE %[2]s ADD PRIMARY KEY (instance);
	END IF;
END $$;
`, t.name, t.anchor, pgx.Identifier{t.bare + "_time_idx"}.Sanitize(), pgx.Identifier{t.bare + "_correlation_idx"}.Sanitize()), nil
}

// Config configures a [Sink]. Every zero field means the stated default.
type Config struct {
	// Table is the records' table, optionally schema-qualified
	// ("ops.audit_trail"): lower-case letters, digits and _. Its anchor
	// table, for retention, is named after it with "_anchor". Default
	// [DefaultTable].
	Table string
	// Instance names the chain this sink writes: 1 to 128 bytes of
	// printable UTF-8. A Logger made on the sink continues that instance's
	// chain if the table holds one. Default: the host name and a random
	// suffix, so that every process start begins a new chain.
	Instance string
}

// Sink stores audit records in PostgreSQL; it is an audit.Sink with every
// optional method (batches, tail, ping, retention). Writes are idempotent
// per sequence number (a retry of a write whose commit was lost to a
// timeout finds its own row and succeeds). All SQL is parameterised; the
// table name is validated and quoted.
//
// # A fleet on one table
//
// Every sink writes the chain of one instance, named by [Sink.Instance]
// and carried in every record (audit.Record.Instance), so any number of
// server instances append to one table, each to its own hash chain. A new
// chain opens with an audit.KindStart record naming its instance.
//
// By default the instance is the host name and a random suffix, chosen
// when the sink is made: every process start begins a new chain, and the
// previous one ends where that process stopped, with its seal after a
// clean Logger.Close, without one after a crash (the verifier reports such
// a chain as open, with the time of its last record). A process given a
// stable name in Config.Instance (a StatefulSet pod name, say) continues
// its own chain after a restart from the chain's last row, as a Logger on
// a reopened file does: a clean stop leaves a seal in the middle of the
// chain, and audit.Verification.Seals counts them. Never run two live
// processes under one name: their writes compete for sequence numbers
// and fail ("already holds a different record"), which is loud, not lost.
//
// [Sink.VerifyChains] checks every chain in the table; Logger.Prune on
// any instance prunes every chain.
type Sink struct {
	db       DB
	t        pgTable
	instance string
}

var _ audit.Sink = (*Sink)(nil)

// maxInstanceBytes bounds an instance name.
const maxInstanceBytes = 128

// New returns a sink writing to cfg.Table through db. Create the tables
// first with [Sink.Migrate] or the statements of [DDL]. It refuses a nil db,
// a malformed table name and an instance name that is empty of printable
// text or too long.
func New(db DB, cfg Config) (*Sink, error) {
	if db == nil {
		return nil, errors.New("pgaudit: nil DB")
	}
	t, err := parseTable(cfg.Table)
	if err != nil {
		return nil, err
	}
	name := cfg.Instance
	if name == "" {
		name = newInstanceName()
	} else if len(name) > maxInstanceBytes || !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return nil, fmt.Errorf("pgaudit: instance name %s must be 1 to %d bytes of printable UTF-8", quoteInstance(name), maxInstanceBytes)
	}
	return &Sink{db: db, t: t, instance: name}, nil
}

// Instance returns the name of the chain s writes.
func (s *Sink) Instance() string { return s.instance }

// newInstanceName returns the host name (or "instance") and 8 random hex
// digits.
func newInstanceName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "instance"
	}
	host = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) && r != ' ' {
			return r
		}
		return -1
	}, host)
	if len(host) > maxInstanceBytes-9 {
		host = host[:maxInstanceBytes-9]
		for !utf8.ValidString(host) {
			host = host[:len(host)-1]
		}
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// Migrate creates the sink's tables if they do not exist.
func (s *Sink) Migrate(ctx context.Context) error {
	ddl, err := DDL(s.t.raw)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, ddl)
	return err
}

func (s *Sink) own(r *audit.Record) error {
	if len(r.Line()) == 0 {
		return errors.New("pgaudit: unsigned record")
	}
	if r.Instance != s.instance {
		return fmt.Errorf("pgaudit: record of instance %s written to the sink of instance %s", quoteInstance(r.Instance), quoteInstance(s.instance))
	}
	return nil
}

// Write inserts r.
func (s *Sink) Write(ctx context.Context, r *audit.Record) error {
	if err := s.own(r); err != nil {
		return err
	}
	line := r.Line()
	keyID := ""
	if r.Sealed != nil {
		keyID = r.Sealed.Key
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO `+s.t.name+` (instance, seq, time, kind, correlation_id, session_id, tool, outcome, key_id, line)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (instance, seq) DO NOTHING`,
		s.instance, int64(r.Seq), r.Time, r.Kind, r.ID, r.Session, r.Tool, r.Outcome, keyID, string(line))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var existing string
	if err := s.db.QueryRow(ctx, `SELECT line FROM `+s.t.name+` WHERE instance = $1 AND seq = $2`, s.instance, int64(r.Seq)).Scan(&existing); err != nil {
		return err
	}
	if existing != string(line) {
		return fmt.Errorf("pgaudit: seq %d of instance %s already holds a different record (two writers under one instance name?)", r.Seq, quoteInstance(s.instance))
	}
	return nil
}

// WriteBatch inserts several records in one statement: all or nothing.
func (s *Sink) WriteBatch(ctx context.Context, rs []*audit.Record) error {
	n := len(rs)
	seqs := make([]int64, n)
	times := make([]time.Time, n)
	kinds, ids, sessions, tools, outcomes, keys, lines := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range rs {
		if err := s.own(r); err != nil {
			return err
		}
		seqs[i], times[i], kinds[i], ids[i], sessions[i], tools[i], outcomes[i], lines[i] =
			int64(r.Seq), r.Time, r.Kind, r.ID, r.Session, r.Tool, r.Outcome, string(r.Line())
		if r.Sealed != nil {
			keys[i] = r.Sealed.Key
		}
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO `+s.t.name+` (instance, seq, time, kind, correlation_id, session_id, tool, outcome, key_id, line)
SELECT $1, * FROM unnest($2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
ON CONFLICT (instance, seq) DO NOTHING`, s.instance, seqs, times, kinds, ids, sessions, tools, outcomes, keys, lines)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) == n {
		return nil
	}
	// Some rows were there already: fine if they are these records (a
	// retry after a lost reply), an error if they are not.
	rows, err := s.db.Query(ctx, `SELECT seq, line FROM `+s.t.name+` WHERE instance = $1 AND seq = ANY($2)`, s.instance, seqs)
	if err != nil {
		return err
	}
	defer rows.Close()
	want := make(map[int64]string, n)
	for i := range seqs {
		want[seqs[i]] = lines[i]
	}
	for rows.Next() {
		var seq int64
		var line string
		if err := rows.Scan(&seq, &line); err != nil {
			return err
		}
		if want[seq] != line {
			return fmt.Errorf("pgaudit: seq %d of instance %s already holds a different record (two writers under one instance name?)", seq, quoteInstance(s.instance))
		}
	}
	return rows.Err()
}

// Ping checks the database.
func (s *Sink) Ping(ctx context.Context) error {
	_, err := s.db.Exec(ctx, `SELECT 1`)
	return err
}

// Tail returns the sequence number and MAC the next record of this
// instance's chain must chain to.
func (s *Sink) Tail(ctx context.Context) (uint64, string, error) {
	var line string
	err := s.db.QueryRow(ctx, `SELECT line FROM `+s.t.name+` WHERE instance = $1 ORDER BY seq DESC LIMIT 1`, s.instance).Scan(&line)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.db.QueryRow(ctx, `SELECT line FROM `+s.t.anchor+` WHERE instance = $1`, s.instance).Scan(&line)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, "", nil
		}
	}
	if err != nil {
		return 0, "", err
	}
	r, err := audit.ParseRecord([]byte(line))
	if err != nil {
		return 0, "", err
	}
	if r.Kind == audit.KindAnchor {
		return r.Seq, r.Prev, nil
	}
	return r.Seq, r.MAC, nil
}

// Prune implements retention for every chain in the table: in one
// transaction it deletes, per instance, the leading records older than
// before, except the chain's last record (so a chain whose instance has
// stopped keeps its seal), and stores a signed anchor naming the last
// deleted one. Other
// instances keep appending meanwhile (only their oldest rows are touched);
// concurrent Prune calls on one table run one after the other. Called
// through Logger.Prune.
func (s *Sink) Prune(ctx context.Context, before time.Time, anchor func(*audit.Record) error) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	// Serialise retention runs without blocking appends to the records.
	if _, err := tx.Exec(ctx, `LOCK TABLE `+s.t.anchor+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return 0, err
	}
	// Per chain, the prefix ends just before the first record at or after
	// the cutoff, and never takes the chain's last record: a finished
	// chain keeps its seal and still verifies as sealed.
	rows, err := tx.Query(ctx, `SELECT instance, LEAST(min(seq) FILTER (WHERE time >= $1), max(seq)) - 1 FROM `+s.t.name+` GROUP BY instance ORDER BY instance`, before)
	if err != nil {
		return 0, err
	}
	type cut struct {
		instance string
		last     int64
	}
	var cuts []cut
	for rows.Next() {
		var c cut
		if err := rows.Scan(&c.instance, &c.last); err != nil {
			rows.Close()
			return 0, err
		}
		cuts = append(cuts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	total := 0
	for _, c := range cuts {
		var line string
		err = tx.QueryRow(ctx, `SELECT line FROM `+s.t.name+` WHERE instance = $1 AND seq = $2`, c.instance, c.last).Scan(&line)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // nothing of this chain is older than the cutoff
		}
		if err != nil {
			return 0, err
		}
		lastRec, err := audit.ParseRecord([]byte(line))
		if err != nil {
			return 0, err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM `+s.t.name+` WHERE instance = $1 AND seq <= $2`, c.instance, c.last)
		if err != nil {
			return 0, err
		}
		a := &audit.Record{Instance: c.instance, Seq: lastRec.Seq, Prev: lastRec.MAC}
		if err := anchor(a); err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.t.anchor+` (instance, seq, line) VALUES ($1, $2, $3)
ON CONFLICT (instance) DO UPDATE SET seq = EXCLUDED.seq, line = EXCLUDED.line`, c.instance, int64(a.Seq), string(a.Line())); err != nil {
			return 0, err
		}
		total += int(tag.RowsAffected())
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return total, nil
}

// Verify checks the whole table like audit.Verify (requireSeal true) or
// audit.VerifyOpen, through [Sink.VerifyChains], and sums the result up:
// with one chain, its verification and first problem (TamperError.Line
// counts the chain's rows, its anchor first); with several, the counts
// added up, Anchored and Sealed only when true of every chain, the
// sequence fields of the chain written last, and the first failing chain's
// error, naming its instance. An empty table verifies as an empty trail.
// Use VerifyChains to see each instance.
func (s *Sink) Verify(ctx context.Context, key []byte, requireSeal bool) (audit.Verification, error) {
	chains, err := s.VerifyChains(ctx, key, requireSeal)
	if err != nil {
		return audit.Verification{}, err
	}
	switch len(chains) {
	case 0:
		return verify(strings.NewReader(""), key, requireSeal)
	case 1:
		return chains[0].Verification, chains[0].Err
	}
	sum := audit.Verification{Anchored: true, Sealed: true}
	var first error
	for _, c := range chains {
		sum.Records += c.Records
		sum.Seals += c.Seals
		sum.Purges += c.Purges
		sum.Anchored = sum.Anchored && c.Anchored
		sum.Sealed = sum.Sealed && c.Sealed
		if !c.LastTime.Before(sum.LastTime) {
			sum.FirstSeq, sum.LastSeq, sum.LastMAC, sum.LastTime = c.FirstSeq, c.LastSeq, c.LastMAC, c.LastTime
		}
		if c.Err != nil && first == nil {
			first = fmt.Errorf("instance %s: %w", quoteInstance(c.Instance), c.Err)
		}
	}
	return sum, first
}

func verify(r io.Reader, key []byte, requireSeal bool) (audit.Verification, error) {
	if requireSeal {
		return audit.Verify(r, key)
	}
	return audit.VerifyOpen(r, key)
}

// ChainVerification is the verification of one instance's chain in the table.
type ChainVerification struct {
	Instance string
	audit.Verification
	// Err is nil when the chain is intact, else an *audit.TamperError
	// locating its first bad record (TamperError.Line counts the chain's
	// rows, its anchor first). With requireSeal, a chain without a final
	// seal fails too: its instance is still running, crashed, or was cut
	// short.
	Err error
}

// VerifyChains checks every chain in the table, each like audit.Verify
// (requireSeal true) or audit.VerifyOpen, and reports them in instance
// order. A tampered chain fails in its own report and leaves the others'
// intact; the error is for the database only. Each record's signed
// instance must match the chain it is stored in, so a row moved between
// chains fails.
//
// What the table alone cannot show: a whole chain deleted together with
// its anchor. Compare the instances reported with those that ran (each
// chain opens with an audit.KindStart record, and the servers' logs name
// their instance) when that matters.
func (s *Sink) VerifyChains(ctx context.Context, key []byte, requireSeal bool) ([]ChainVerification, error) {
	if len(key) < 32 {
		return nil, audit.ErrNoKey
	}
	// One pass over the table in instance and sequence order, each
	// chain's anchor first.
	rows, err := s.db.Query(ctx, `SELECT instance, 0 AS part, seq, line FROM `+s.t.anchor+`
UNION ALL SELECT instance, 1, seq, line FROM `+s.t.name+`
ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cr := &chainReader{rows: rows}
	var out []ChainVerification
	for cr.next() {
		v, err := verify(cr, key, requireSeal)
		if cr.err != nil {
			return nil, cr.err
		}
		var te *audit.TamperError
		if err != nil && !errors.As(err, &te) {
			return nil, err
		}
		if cr.bad != nil && (te == nil || te.Line >= cr.bad.Line) {
			err = cr.bad
		}
		out = append(out, ChainVerification{Instance: cr.instance, Verification: v, Err: err})
	}
	if cr.err != nil {
		return nil, cr.err
	}
	return out, nil
}

// chainReader reads the rows of one chain at a time as a trail in the
// file format (one line per record), for audit.Verify. It stops a chain
// early at a row that spans lines or names another instance than its
// chain's, noting the problem in bad.
type chainReader struct {
	rows     pgx.Rows
	instance string // the chain being read
	n        int    // rows of the chain handed out
	started  bool   // a chain was started: next skips its rest

	pending      bool // a row of the next chain was read: pendInstance, pendLine
	pendInstance string
	pendLine     []byte
	done         bool // no more rows

	buf []byte             // the rest of the current line and its newline
	bad *audit.TamperError // the chain's row that stopped it
	err error              // a database error
}

// scan reads the next row into pending, if there is one.
func (c *chainReader) scan() {
	if c.pending || c.done || c.err != nil {
		return
	}
	if !c.rows.Next() {
		c.done, c.err = true, c.rows.Err()
		return
	}
	var part int
	var seq int64
	if err := c.rows.Scan(&c.pendInstance, &part, &seq, &c.pendLine); err != nil {
		c.done, c.err = true, err
		return
	}
	c.pending = true
}

// next skips what is left of the current chain and starts the next one,
// reporting whether there is one.
func (c *chainReader) next() bool {
	for c.scan(); c.started && c.pending && c.pendInstance == c.instance; c.scan() {
		c.pending = false // the rest of a chain stopped early
	}
	if !c.pending {
		return false
	}
	c.instance, c.n, c.buf, c.bad, c.started = c.pendInstance, 0, nil, nil, true
	return true
}

func (c *chainReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.bad != nil {
			return 0, io.EOF
		}
		c.scan()
		if c.err != nil {
			return 0, c.err
		}
		if !c.pending || c.pendInstance != c.instance {
			return 0, io.EOF
		}
		c.pending = false
		c.n++
		line := c.pendLine
		if bytes.IndexByte(line, '\n') >= 0 {
			c.bad = &audit.TamperError{Line: c.n, Reason: "record spans lines"}
			return 0, io.EOF
		}
		if rec, err := audit.ParseRecord(line); err == nil && rec.Instance != c.instance {
			c.bad = &audit.TamperError{Line: c.n, Seq: rec.Seq, Reason: fmt.Sprintf("record of instance %s stored in the chain of instance %s", quoteInstance(rec.Instance), quoteInstance(c.instance))}
			return 0, io.EOF
		}
		c.buf = append(append(c.buf[:0], line...), '\n')
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// ErasureKeys keeps subject keys in a PostgreSQL table, for erasure that
// survives restarts and reaches every instance of a fleet; it is an
// audit.ErasureKeys. Keep the table away from the audit trail's readers
// (another schema, its own grants): whoever reads both can open every
// sealed field. Destroyed keys survive in database backups until those
// expire; purge requests are complete only then.
type ErasureKeys struct {
	db    DB
	table string
}

var _ audit.ErasureKeys = (*ErasureKeys)(nil)

// NewErasureKeys returns erasure keys on table ("" means
// "audit_subject_keys"). Create the table with [ErasureKeys.Migrate].
func NewErasureKeys(db DB, table string) (*ErasureKeys, error) {
	if db == nil {
		return nil, errors.New("pgaudit: nil DB")
	}
	if table == "" {
		table = "audit_subject_keys"
	}
	t, err := parseTable(table)
	if err != nil {
		return nil, err
	}
	return &ErasureKeys{db: db, table: t.name}, nil
}

// Migrate creates the key table if it does not exist.
func (k *ErasureKeys) Migrate(ctx context.Context) error {
	_, err := k.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+k.table+` (
	subject    text        PRIMARY KEY,
	key_id     text        NOT NULL UNIQUE,
	key        bytea       NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
)`)
	return err
}

// SubjectKey implements audit.ErasureKeys.
func (k *ErasureKeys) SubjectKey(ctx context.Context, subject string) (string, []byte, error) {
	var id string
	var key []byte
	err := k.db.QueryRow(ctx, `SELECT key_id, key FROM `+k.table+` WHERE subject = $1`, subject).Scan(&id, &key)
	if err == nil {
		return id, key, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", nil, err
	}
	newID, newKey, err := newSubjectKey()
	if err != nil {
		return "", nil, err
	}
	// Two first calls may race: the loser reads the winner's key.
	err = k.db.QueryRow(ctx, `INSERT INTO `+k.table+` (subject, key_id, key) VALUES ($1, $2, $3)
ON CONFLICT (subject) DO UPDATE SET subject = EXCLUDED.subject RETURNING key_id, key`, subject, newID, newKey).Scan(&id, &key)
	if err != nil {
		return "", nil, err
	}
	return id, key, nil
}

// Key implements audit.ErasureKeys.
func (k *ErasureKeys) Key(ctx context.Context, id string) ([]byte, error) {
	var key []byte
	err := k.db.QueryRow(ctx, `SELECT key FROM `+k.table+` WHERE key_id = $1`, id).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, audit.ErrKeyDestroyed
	}
	return key, err
}

// Destroy implements audit.ErasureKeys.
func (k *ErasureKeys) Destroy(ctx context.Context, subject string) ([]string, error) {
	rows, err := k.db.Query(ctx, `DELETE FROM `+k.table+` WHERE subject = $1 RETURNING key_id`, subject)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// quoteInstance quotes an instance name for an error message: escaped, as
// a name read back from a tampered table may hold anything.
func quoteInstance(s string) string {
	if len(s) > maxInstanceBytes {
		return strconv.Quote(s[:maxInstanceBytes]) + "…"
	}
	return strconv.Quote(s)
}

// newSubjectKey returns a random key ID (it says nothing of the subject)
// and a random 32-byte key.
func newSubjectKey() (string, []byte, error) {
	var raw [16 + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(raw[:16]), append([]byte(nil), raw[16:]...), nil
}

// quoteForError quotes configuration text for an error message, without
// echoing more than a short prefix.
func quoteForError(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return "\"" + s + "\""
}

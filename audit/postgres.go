package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the PostgreSQL sink and key store need from a database
// handle; *pgxpool.Pool and *pgx.Conn satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// DefaultTable is the PostgreSQL sink's table when none is named.
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
		return pgTable{}, fmt.Errorf("audit: table name %s must be lower-case letters, digits and _ (optionally schema.table)", quoteForError(table))
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

// PostgresSchema returns the DDL that creates the sink's tables (table ""
// means DefaultTable): the records, one row per record with the signed
// line kept verbatim (text, not jsonb, which would reorder keys and break
// the MAC) and a few columns for queries, and a one-row anchor table for
// retention. It is idempotent. Grant the server's role only INSERT and
// SELECT on the records table, so even the server cannot rewrite history;
// retention (DELETE) belongs to an operator role.
func PostgresSchema(table string) (string, error) {
	t, err := parseTable(table)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (
	seq            bigint      PRIMARY KEY,
	time           timestamptz NOT NULL,
	kind           text        NOT NULL,
	correlation_id text        NOT NULL DEFAULT '',
	session_id     text        NOT NULL DEFAULT '',
	tool           text        NOT NULL DEFAULT '',
	outcome        text        NOT NULL DEFAULT '',
	key_id         text        NOT NULL DEFAULT '',
	line           text        NOT NULL
);
CREATE INDEX IF NOT EXISTS %[3]s ON %[1]s (time);
CREATE INDEX IF NOT EXISTS %[4]s ON %[1]s (correlation_id);
CREATE TABLE IF NOT EXISTS %[2]s (
	id   boolean PRIMARY KEY DEFAULT true CHECK (id),
	seq  bigint  NOT NULL,
	line text    NOT NULL
);
`, t.name, t.anchor, pgx.Identifier{t.bare + "_time_idx"}.Sanitize(), pgx.Identifier{t.bare + "_correlation_idx"}.Sanitize()), nil
}

// PostgresSink stores records in PostgreSQL. Writes are idempotent per
// sequence number (a retry of a write whose commit was lost to a timeout
// finds its own row and succeeds). All SQL is parameterised; the table
// name is validated and quoted.
//
// One chain per table: when several server instances share a database,
// give each its own table (for example "audit_records_" plus the instance
// name), or two Loggers will compete for the same sequence numbers and
// their writes will fail.
type PostgresSink struct {
	db DB
	t  pgTable
}

// NewPostgresSink returns a sink writing to table ("" means DefaultTable)
// through db. Create the tables first with [PostgresSink.Migrate] or the
// DDL from [PostgresSchema].
func NewPostgresSink(db DB, table string) (*PostgresSink, error) {
	if db == nil {
		return nil, errors.New("audit: nil DB")
	}
	t, err := parseTable(table)
	if err != nil {
		return nil, err
	}
	return &PostgresSink{db: db, t: t}, nil
}

// Migrate creates the sink's tables if they do not exist.
func (s *PostgresSink) Migrate(ctx context.Context) error {
	ddl, err := PostgresSchema(s.t.raw)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, ddl)
	return err
}

// Write inserts r.
func (s *PostgresSink) Write(ctx context.Context, r *Record) error {
	line := r.Line()
	if len(line) == 0 {
		return errors.New("audit: unsigned record")
	}
	keyID := ""
	if r.Sealed != nil {
		keyID = r.Sealed.Key
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO `+s.t.name+` (seq, time, kind, correlation_id, session_id, tool, outcome, key_id, line)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (seq) DO NOTHING`,
		int64(r.Seq), r.Time, r.Kind, r.ID, r.Session, r.Tool, r.Outcome, keyID, string(line))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var existing string
	if err := s.db.QueryRow(ctx, `SELECT line FROM `+s.t.name+` WHERE seq = $1`, int64(r.Seq)).Scan(&existing); err != nil {
		return err
	}
	if existing != string(line) {
		return fmt.Errorf("audit: seq %d already holds a different record (two writers on one table?)", r.Seq)
	}
	return nil
}

// WriteBatch inserts several records in one statement: all or nothing.
func (s *PostgresSink) WriteBatch(ctx context.Context, rs []*Record) error {
	n := len(rs)
	seqs := make([]int64, n)
	times := make([]time.Time, n)
	kinds, ids, sessions, tools, outcomes, keys, lines := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range rs {
		if len(r.Line()) == 0 {
			return errors.New("audit: unsigned record")
		}
		seqs[i], times[i], kinds[i], ids[i], sessions[i], tools[i], outcomes[i], lines[i] =
			int64(r.Seq), r.Time, r.Kind, r.ID, r.Session, r.Tool, r.Outcome, string(r.Line())
		if r.Sealed != nil {
			keys[i] = r.Sealed.Key
		}
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO `+s.t.name+` (seq, time, kind, correlation_id, session_id, tool, outcome, key_id, line)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
ON CONFLICT (seq) DO NOTHING`, seqs, times, kinds, ids, sessions, tools, outcomes, keys, lines)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) == n {
		return nil
	}
	// Some rows were there already: fine if they are these records (a
	// retry after a lost reply), an error if they are not.
	rows, err := s.db.Query(ctx, `SELECT seq, line FROM `+s.t.name+` WHERE seq = ANY($1)`, seqs)
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
			return fmt.Errorf("audit: seq %d already holds a different record (two writers on one table?)", seq)
		}
	}
	return rows.Err()
}

// Ping checks the database.
func (s *PostgresSink) Ping(ctx context.Context) error {
	_, err := s.db.Exec(ctx, `SELECT 1`)
	return err
}

// Tail returns the sequence number and MAC the next record must chain to.
func (s *PostgresSink) Tail(ctx context.Context) (uint64, string, error) {
	var line string
	err := s.db.QueryRow(ctx, `SELECT line FROM `+s.t.name+` ORDER BY seq DESC LIMIT 1`).Scan(&line)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.db.QueryRow(ctx, `SELECT line FROM `+s.t.anchor+` WHERE id`).Scan(&line)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, "", nil
		}
	}
	if err != nil {
		return 0, "", err
	}
	r, err := ParseRecord([]byte(line))
	if err != nil {
		return 0, "", err
	}
	if r.Kind == KindAnchor {
		return r.Seq, r.Prev, nil
	}
	return r.Seq, r.MAC, nil
}

// Prune implements retention: in one transaction it deletes the leading
// records older than before and stores a signed anchor naming the last
// deleted one. Called through Logger.Prune.
func (s *PostgresSink) Prune(ctx context.Context, before time.Time, anchor func(*Record) error) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	// The prefix ends just before the first record at or after the cutoff.
	var last *int64
	err = tx.QueryRow(ctx, `SELECT COALESCE((SELECT min(seq) - 1 FROM `+s.t.name+` WHERE time >= $1), (SELECT max(seq) FROM `+s.t.name+`))`, before).Scan(&last)
	if err != nil {
		return 0, err
	}
	if last == nil {
		return 0, nil
	}
	var line string
	err = tx.QueryRow(ctx, `SELECT line FROM `+s.t.name+` WHERE seq = $1`, *last).Scan(&line)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil // nothing older than the cutoff
	}
	if err != nil {
		return 0, err
	}
	lastRec, err := ParseRecord([]byte(line))
	if err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM `+s.t.name+` WHERE seq <= $1`, *last)
	if err != nil {
		return 0, err
	}
	a := &Record{Seq: lastRec.Seq, Prev: lastRec.MAC}
	if err := anchor(a); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.t.anchor+` (id, seq, line) VALUES (true, $1, $2)
ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, line = EXCLUDED.line`, int64(a.Seq), string(a.Line())); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// Verify checks the stored trail like [Verify] (requireSeal true) or
// [VerifyOpen]: the anchor, if any, then every record in sequence order.
// TamperError.Line counts rows, the anchor first.
func (s *PostgresSink) Verify(ctx context.Context, key []byte, requireSeal bool) (Report, error) {
	if len(key) < MinKeyBytes {
		return Report{}, ErrNoKey
	}
	v := newVerifier(key)
	var anchorLine string
	err := s.db.QueryRow(ctx, `SELECT line FROM `+s.t.anchor+` WHERE id`).Scan(&anchorLine)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return v.rep, err
	default:
		if err := v.feed([]byte(anchorLine)); err != nil {
			return v.rep, err
		}
	}
	rows, err := s.db.Query(ctx, `SELECT line FROM `+s.t.name+` ORDER BY seq`)
	if err != nil {
		return v.rep, err
	}
	defer rows.Close()
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&line); err != nil {
			return v.rep, err
		}
		if bytes.IndexByte(line, '\n') >= 0 {
			return v.rep, v.fail(0, "record spans lines")
		}
		if err := v.feed(line); err != nil {
			return v.rep, err
		}
	}
	if err := rows.Err(); err != nil {
		return v.rep, err
	}
	return v.rep, v.finish(requireSeal)
}

// PostgresKeyStore keeps subject keys in a PostgreSQL table, for erasure
// that survives restarts. Keep the table away from the audit trail's
// readers (another schema, its own grants): whoever reads both can open
// every sealed field. Destroyed keys survive in database backups until
// those expire; purge requests are complete only then.
type PostgresKeyStore struct {
	db    DB
	table string
}

// NewPostgresKeyStore returns a key store on table ("" means
// "audit_subject_keys"). Create it with [PostgresKeyStore.Migrate].
func NewPostgresKeyStore(db DB, table string) (*PostgresKeyStore, error) {
	if db == nil {
		return nil, errors.New("audit: nil DB")
	}
	if table == "" {
		table = "audit_subject_keys"
	}
	t, err := parseTable(table)
	if err != nil {
		return nil, err
	}
	return &PostgresKeyStore{db: db, table: t.name}, nil
}

// Migrate creates the key table if it does not exist.
func (k *PostgresKeyStore) Migrate(ctx context.Context) error {
	_, err := k.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+k.table+` (
	subject    text        PRIMARY KEY,
	key_id     text        NOT NULL UNIQUE,
	key        bytea       NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
)`)
	return err
}

// SubjectKey implements KeyStore.
func (k *PostgresKeyStore) SubjectKey(ctx context.Context, subject string) (string, []byte, error) {
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

// Key implements KeyStore.
func (k *PostgresKeyStore) Key(ctx context.Context, id string) ([]byte, error) {
	var key []byte
	err := k.db.QueryRow(ctx, `SELECT key FROM `+k.table+` WHERE key_id = $1`, id).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrKeyDestroyed
	}
	return key, err
}

// Destroy implements KeyStore.
func (k *PostgresKeyStore) Destroy(ctx context.Context, subject string) ([]string, error) {
	rows, err := k.db.Query(ctx, `DELETE FROM `+k.table+` WHERE subject = $1 RETURNING key_id`, subject)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

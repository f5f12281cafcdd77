package pgidem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store keeps idempotency keys in a PostgreSQL table, so instances
// without Redis share them and they survive restarts. It implements
// [idempotency.Store] and [idempotency.Renewer]; every method is one
// atomic statement (Claim, when it finds the key held, a second one to
// read the holder), and expiry uses the database's clock, which every
// instance shares.
//
// Keys are bounded in time, not in number per principal (a key is a hash
// that hides its principal): each row lives for its TTL, and expired rows
// are deleted every 1024 claims, so one principal holds at most as many
// rows as it makes keyed calls within the result TTL, which its rate
// limit bounds.
type Store struct {
	pool   *pgxpool.Pool
	q      queries
	claims atomic.Uint64
}

// Config configures [New]. Every zero field means the default stated
// beside it.
type Config struct {
	// Table names the table, optionally schema-qualified
	// ("app.idempotency_keys"). Empty means "idempotency_keys".
	Table string
}

// New returns a store on pool. The table must exist (see
// [Store.CreateTable]); the role pool connects as needs SELECT, INSERT,
// UPDATE and DELETE on it.
func New(pool *pgxpool.Pool, c Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgidem: nil pool")
	}
	if c.Table == "" {
		c.Table = "idempotency_keys"
	}
	parts := strings.Split(c.Table, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("pgidem: table %q: at most a schema and a name", c.Table)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("pgidem: table %q: empty name", c.Table)
		}
	}
	index := pgx.Identifier{parts[len(parts)-1] + "_expires_idx"}.Sanitize()
	return &Store{pool: pool, q: newQueries(pgx.Identifier(parts).Sanitize(), index)}, nil
}

// queries are the statements of a Store, with its table's name in them.
type queries struct {
	create, sweep, claim, holder, complete, renew, release string
}

func newQueries(table, index string) queries {
	r := strings.NewReplacer("$T", table, "$I", index)
	return queries{
		create: r.Replace(`
			CREATE TABLE IF NOT EXISTS $T (
			    key         text PRIMARY KEY,
			    token       text NOT NULL,
			    state       text NOT NULL CHECK (state IN ('pending', 'done')),
			    fingerprint text NOT NULL,
			    result      bytea,
			    expires_at  timestamptz NOT NULL
			);
			CREATE INDEX IF NOT EXISTS $I ON $T (expires_at)`),
		sweep: r.Replace(`DELETE FROM $T WHERE key IN
			(SELECT key FROM $T WHERE expires_at < now() LIMIT 1000)`),
		// ON CONFLICT makes concurrent claims of one key serialize, so
		// exactly one of them wins; an expired entry is taken over.
		claim: r.Replace(`
			INSERT INTO $T AS t (key, token, state, fingerprint, result, expires_at)
			VALUES ($1, $2, 'pending', $3, NULL, clock_timestamp() + $4 * interval '1 microsecond')
			ON CONFLICT (key) DO UPDATE
			   SET token = EXCLUDED.token, state = 'pending', fingerprint = EXCLUDED.fingerprint,
			       result = NULL, expires_at = EXCLUDED.expires_at
			 WHERE t.expires_at <= clock_timestamp()
			RETURNING true`),
		holder: r.Replace(`
			SELECT state, fingerprint, result,
			       (extract(epoch FROM expires_at - clock_timestamp()) * 1e6)::bigint
			  FROM $T
			 WHERE key = $1 AND expires_at > clock_timestamp()`),
		complete: r.Replace(`
			UPDATE $T
			   SET state = 'done', fingerprint = $3, result = $4,
			       expires_at = clock_timestamp() + $5 * interval '1 microsecond'
			 WHERE key = $1 AND token = $2 AND state = 'pending' AND expires_at > clock_timestamp()`),
		renew: r.Replace(`
			UPDATE $T SET expires_at = clock_timestamp() + $3 * interval '1 microsecond'
			 WHERE key = $1 AND token = $2 AND state = 'pending' AND expires_at > clock_timestamp()`),
		release: r.Replace(`DELETE FROM $T WHERE key = $1 AND token = $2 AND state = 'pending'`),
	}
}

// CreateTable creates the table and its expiry index if they do not exist.
// It needs the privilege to create them; a server whose own migrations
// create the table (with the same columns) need not call it.
func (s *Store) CreateTable(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, s.q.create)
	return err
}

// Claim implements [idempotency.Store].
func (s *Store) Claim(ctx context.Context, key, token, fingerprint string, ttl time.Duration) (idempotency.Entry, bool, error) {
	if s.claims.Add(1)%1024 == 0 {
		_, _ = s.pool.Exec(ctx, s.q.sweep)
	}
	for attempt := 0; attempt < 3; attempt++ {
		var claimed bool
		err := s.pool.QueryRow(ctx, s.q.claim, key, token, fingerprint, ttl.Microseconds()).Scan(&claimed)
		if err == nil {
			return idempotency.Entry{}, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return idempotency.Entry{}, false, err
		}
		// A live entry holds the key: report it, with the time it has
		// left, which an in-progress refusal passes on as retry-after.
		var e idempotency.Entry
		var state string
		var leftMicros int64
		err = s.pool.QueryRow(ctx, s.q.holder, key).Scan(&state, &e.Fingerprint, &e.Result, &leftMicros)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // it expired in between: claim again
		}
		if err != nil {
			return idempotency.Entry{}, false, err
		}
		e.Done = state == "done"
		e.Remaining = max(time.Duration(leftMicros)*time.Microsecond, time.Microsecond)
		return e, false, nil
	}
	return idempotency.Entry{}, false, errors.New("pgidem: the key kept changing hands")
}

// Complete implements [idempotency.Store].
func (s *Store) Complete(ctx context.Context, key, token string, e idempotency.Entry, ttl time.Duration) error {
	return s.owned(s.pool.Exec(ctx, s.q.complete, key, token, e.Fingerprint, e.Result, ttl.Microseconds()))
}

// Renew implements [idempotency.Renewer]. A claim that stops being renewed
// (its process died) is recognisable: it has less than half the pending
// TTL left, where a live one keeps at least two thirds.
func (s *Store) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	return s.owned(s.pool.Exec(ctx, s.q.renew, key, token, ttl.Microseconds()))
}

// owned turns an update that found no row held by the token into
// idempotency.ErrNotOwner.
func (s *Store) owned(tag interface{ RowsAffected() int64 }, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return idempotency.ErrNotOwner
	}
	return nil
}

// Release implements [idempotency.Store].
func (s *Store) Release(ctx context.Context, key, token string) error {
	_, err := s.pool.Exec(ctx, s.q.release, key, token)
	return err
}

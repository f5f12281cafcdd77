package main

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgIdempotencyStore keeps idempotency keys in PostgreSQL (the
// idempotency_keys table), so instances without Redis share them and they
// survive restarts. It implements retry.Store; every method is one atomic
// statement, and expiry uses the database's clock, which every instance
// shares. It runs as the writer role.
//
// Keys are bounded in time, not in number per principal (a key is a hash
// that hides its principal): each row lives for its TTL, and expired rows
// are deleted every sweepEvery claims, so one principal holds at most as
// many rows as it makes keyed calls within the result TTL, which the rate
// limit bounds.
type pgIdempotencyStore struct {
	pool   *pgxpool.Pool
	claims atomic.Uint64
}

func newPGIdempotencyStore(pool *pgxpool.Pool) *pgIdempotencyStore {
	return &pgIdempotencyStore{pool: pool}
}

// sweepEvery is how many claims pass between deletions of expired keys.
const sweepEvery = 1024

// Claim inserts a pending entry, or takes over an expired one, in one
// statement; ON CONFLICT makes concurrent claims of one key serialize, so
// exactly one of them wins.
func (s *pgIdempotencyStore) Claim(ctx context.Context, key, token, fingerprint string, ttl time.Duration) (retry.Entry, bool, error) {
	if s.claims.Add(1)%sweepEvery == 0 {
		_, _ = s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key IN
			(SELECT key FROM idempotency_keys WHERE expires_at < now() LIMIT 1000)`)
	}
	for attempt := 0; attempt < 3; attempt++ {
		var claimed bool
		err := s.pool.QueryRow(ctx, `
			INSERT INTO idempotency_keys (key, token, state, fingerprint, result, expires_at)
			VALUES ($1, $2, 'pending', $3, NULL, clock_timestamp() + $4 * interval '1 microsecond')
			ON CONFLICT (key) DO UPDATE
			   SET token = EXCLUDED.token, state = 'pending', fingerprint = EXCLUDED.fingerprint,
			       result = NULL, expires_at = EXCLUDED.expires_at
			 WHERE idempotency_keys.expires_at <= clock_timestamp()
			RETURNING true`, key, token, fingerprint, ttl.Microseconds()).Scan(&claimed)
		if err == nil {
			return retry.Entry{}, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return retry.Entry{}, false, err
		}
		// A live entry holds the key: report it, with the time it has
		// left, which a retry's in-progress refusal passes on.
		var e retry.Entry
		var state string
		var leftMicros int64
		err = s.pool.QueryRow(ctx, `
			SELECT state, fingerprint, result,
			       (extract(epoch FROM expires_at - clock_timestamp()) * 1e6)::bigint
			  FROM idempotency_keys
			 WHERE key = $1 AND expires_at > clock_timestamp()`, key).Scan(&state, &e.Fingerprint, &e.Result, &leftMicros)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // it expired in between: claim again
		}
		if err != nil {
			return retry.Entry{}, false, err
		}
		e.Done = state == "done"
		e.Remaining = max(time.Duration(leftMicros)*time.Microsecond, time.Microsecond)
		return e, false, nil
	}
	return retry.Entry{}, false, errors.New("idempotency key kept changing hands")
}

// Complete stores the result, if token still holds the pending claim.
func (s *pgIdempotencyStore) Complete(ctx context.Context, key, token string, e retry.Entry, ttl time.Duration) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys
		   SET state = 'done', fingerprint = $3, result = $4,
		       expires_at = clock_timestamp() + $5 * interval '1 microsecond'
		 WHERE key = $1 AND token = $2 AND state = 'pending' AND expires_at > clock_timestamp()`,
		key, token, e.Fingerprint, e.Result, ttl.Microseconds())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return retry.ErrNotOwner
	}
	return nil
}

// Renew extends the pending claim held by token, so a running call keeps
// its key however long it runs, and a claim that stops being renewed (its
// process died) is recognisable: it has less than half the pending TTL
// left, where a live one keeps at least two thirds.
func (s *pgIdempotencyStore) Renew(ctx context.Context, key, token string, ttl time.Duration) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET expires_at = clock_timestamp() + $3 * interval '1 microsecond'
		 WHERE key = $1 AND token = $2 AND state = 'pending' AND expires_at > clock_timestamp()`,
		key, token, ttl.Microseconds())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return retry.ErrNotOwner
	}
	return nil
}

// Release drops a pending claim held by token.
func (s *pgIdempotencyStore) Release(ctx context.Context, key, token string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = $1 AND token = $2 AND state = 'pending'`, key, token)
	return err
}

-- Customers, their orders and notes. Identifiers are short opaque strings
-- (validated against ^[A-Za-z0-9-]{1,50}$ before any query runs).
CREATE TABLE IF NOT EXISTS customers (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9-]{1,50}$'),
    name        text NOT NULL CHECK (length(name) <= 200),
    email       text NOT NULL CHECK (length(email) <= 254),
    tier        text NOT NULL DEFAULT 'standard',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS customers_email_idx ON customers (lower(email));

CREATE TABLE IF NOT EXISTS orders (
    id           bigint PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES customers (id),
    placed_at    timestamptz NOT NULL,
    total_cents  bigint NOT NULL CHECK (total_cents >= 0),
    status       text NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer_placed_idx ON orders (customer_id, placed_at DESC);

-- A note is written at most once per (author, idempotency key): the
-- constraint is the last line of defence behind the idempotency layer.
CREATE TABLE IF NOT EXISTS customer_notes (
    id               bigserial PRIMARY KEY,
    customer_id      text NOT NULL REFERENCES customers (id),
    author           text NOT NULL,
    body             text NOT NULL CHECK (length(body) <= 2000),
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 8 AND 100),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (author, idempotency_key)
);
CREATE INDEX IF NOT EXISTS customer_notes_customer_idx ON customer_notes (customer_id, created_at DESC);

-- Shared store for the idempotency layer when instances have no Redis.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         text PRIMARY KEY,
    token       text NOT NULL,
    state       text NOT NULL CHECK (state IN ('pending', 'done')),
    fingerprint text NOT NULL,
    result      bytea,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_idx ON idempotency_keys (expires_at);

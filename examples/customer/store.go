package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Customer is a customer record as the tools return it.
type Customer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Tier      string    `json:"tier"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Order is one of a customer's orders.
type Order struct {
	ID         int64     `json:"id"`
	PlacedAt   time.Time `json:"placed_at"`
	TotalCents int64     `json:"total_cents"`
	Status     string    `json:"status"`
}

// Note is a note attached to a customer.
type Note struct {
	ID         int64     `json:"id"`
	CustomerID string    `json:"customer_id"`
	Author     string    `json:"author"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"created_at"`
}

// errNotFound marks a missing customer; tools turn it into a refusal that
// names the argument.
var errNotFound = errors.New("customer not found")

// errEmailTaken marks an address that another customer already has. The
// refusal built from it names no customer: which customer holds an
// address is not the caller's to learn.
var errEmailTaken = errors.New("email address already in use")

// errKeyReused marks an idempotency key already used for a different note.
var errKeyReused = errors.New("idempotency key already used for a different note")

// Store runs the server's queries. Every query is a constant string with
// placeholders: no value from a caller is ever spliced into SQL. Reads go
// through the read-only role's pool, writes through the writer role's.
type Store struct {
	read  *pgxpool.Pool
	write *pgxpool.Pool
}

const customerColumns = `id, name, email, tier, created_at, updated_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Tier, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, errNotFound
	}
	return c, err
}

// GetCustomer reads one customer.
func (s *Store) GetCustomer(ctx context.Context, id string) (Customer, error) {
	return scanCustomer(s.read.QueryRow(ctx,
		`SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
}

// SearchCustomers returns up to limit customers whose name or email
// contains query (case-insensitive, matched literally), ordered by ID and
// starting after afterID.
func (s *Store) SearchCustomers(ctx context.Context, query, afterID string, limit int) ([]Customer, error) {
	rows, err := s.read.Query(ctx,
		`SELECT `+customerColumns+` FROM customers
		 WHERE ($1 = '' OR name ILIKE $1 ESCAPE '\' OR email ILIKE $1 ESCAPE '\')
		   AND id > $2
		 ORDER BY id
		 LIMIT $3`, likePattern(query), afterID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
}

// likePattern turns user text into a contains-pattern in which %, _ and \
// match themselves.
func likePattern(q string) string {
	if q == "" {
		return ""
	}
	b := make([]byte, 0, len(q)+2)
	b = append(b, '%')
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '%', '_', '\\':
			b = append(b, '\\')
		}
		b = append(b, q[i])
	}
	return string(append(b, '%'))
}

// RecentOrders returns a customer's latest orders, newest first.
func (s *Store) RecentOrders(ctx context.Context, customerID string, n int) ([]Order, error) {
	rows, err := s.read.Query(ctx,
		`SELECT id, placed_at, total_cents, status FROM orders
		 WHERE customer_id = $1 ORDER BY placed_at DESC, id DESC LIMIT $2`, customerID, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) {
		var o Order
		err := r.Scan(&o.ID, &o.PlacedAt, &o.TotalCents, &o.Status)
		return o, err
	})
}

// UpdateEmail changes a customer's email and returns the updated record.
// An address another customer has, in any letter case, is errEmailTaken:
// the unique index customers_email_lower_key decides, so two customers
// racing for one address cannot both get it.
func (s *Store) UpdateEmail(ctx context.Context, id, email string) (Customer, error) {
	c, err := scanCustomer(s.write.QueryRow(ctx,
		`UPDATE customers SET email = $2, updated_at = now() WHERE id = $1
		 RETURNING `+customerColumns, id, email))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == emailUniqueIndex {
		return Customer{}, errEmailTaken
	}
	return c, err
}

// emailUniqueIndex is the index of migrations/0003_email_unique.sql.
const emailUniqueIndex = "customers_email_lower_key"

// AddNote inserts a note once per (author, key). A repeat with the same
// customer and body returns the stored note; a repeat with anything else is
// errKeyReused. This is the database's own guarantee, behind the
// idempotency layer.
func (s *Store) AddNote(ctx context.Context, customerID, author, body, key string) (Note, error) {
	scan := func(row pgx.Row) (Note, error) {
		var n Note
		err := row.Scan(&n.ID, &n.CustomerID, &n.Author, &n.Body, &n.CreatedAt)
		return n, err
	}
	n, err := scan(s.write.QueryRow(ctx,
		`INSERT INTO customer_notes (customer_id, author, body, idempotency_key)
		 SELECT id, $2, $3, $4 FROM customers WHERE id = $1
		 ON CONFLICT (author, idempotency_key) DO NOTHING
		 RETURNING id, customer_id, author, body, created_at`, customerID, author, body, key))
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return n, err
	}
	// Nothing inserted: the key was used already (possibly by a concurrent
	// duplicate that committed after this statement's snapshot, hence a
	// second statement), or the customer does not exist.
	n, err = scan(s.write.QueryRow(ctx,
		`SELECT id, customer_id, author, body, created_at FROM customer_notes
		 WHERE author = $1 AND idempotency_key = $2`, author, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return n, errNotFound
	}
	if err != nil {
		return n, err
	}
	if n.CustomerID != customerID || n.Body != body {
		return Note{}, errKeyReused
	}
	return n, nil
}

// Ping checks both pools, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.Ping(ctx); err != nil {
		return err
	}
	return s.write.Ping(ctx)
}

// Close closes both pools.
func (s *Store) Close() {
	s.read.Close()
	s.write.Close()
}

// dbRefusal maps a database failure to the refusal a client sees. The
// cause stays attached for the log and audit record, never for the client.
func dbRefusal(err error) error {
	if err == nil {
		return nil
	}
	var be *bulwark.Error
	if errors.As(err, &be) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return bulwark.Canceled(err)
	case errors.Is(err, context.DeadlineExceeded):
		return bulwark.DeadlineExceeded(err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "57014": // query_canceled: statement_timeout
			return bulwark.DeadlineExceeded(err)
		case len(pgErr.Code) >= 2 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "53" || pgErr.Code[:2] == "57"):
			// connection exception, insufficient resources, operator intervention
			return bulwark.Unavailable("the customer database is unavailable", 0, err)
		}
		return bulwark.Internal(err)
	}
	if isConnectionError(err) {
		return bulwark.Unavailable("the customer database is unavailable", 0, err)
	}
	return bulwark.Internal(err)
}

// isConnectionError reports failures to reach or keep a connection, which
// say the dependency is in trouble (and so count for its breaker).
func isConnectionError(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.As(err, &oe) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, net.ErrClosed) || isUnexpectedEOF(err)
}

// isUnexpectedEOF: the server went away mid-conversation. pgx reports a
// connection it closed after such a failure with a plain "conn closed"
// error, which has no type to match.
func isUnexpectedEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "conn closed")
}

package main

import (
	"context"
	"errors"
	"strings"
	"time"

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
	Region    string    `json:"region"`
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

const customerColumns = `c.id, c.name, c.email, c.tier, c.region, c.created_at, c.updated_at`

// reachSQL is true for a customer c within the reach whose Reach.args are
// $1, $2 and $3. Every query that reads or writes customers for a caller
// applies it in the same statement, so a customer out of reach is found no
// more, and no more slowly, than one that does not exist.
const reachSQL = `(NOT $1::boolean OR c.region = ANY($2::text[]) OR c.id = ANY($3::text[]))`

// scanWithheld scans a row of customerColumns that a LEFT JOIN may have
// left NULL, followed by whether the customer exists at all. NULL columns
// are errOutsideReach when it exists, errNotFound when it does not.
func scanWithheld(row pgx.Row) (Customer, error) {
	var (
		id, name, email, tier, region *string
		created, updated              *time.Time
		exists                        bool
	)
	if err := row.Scan(&id, &name, &email, &tier, &region, &created, &updated, &exists); err != nil {
		return Customer{}, err
	}
	if id == nil {
		if exists {
			return Customer{}, errOutsideReach
		}
		return Customer{}, errNotFound
	}
	return Customer{ID: *id, Name: *name, Email: *email, Tier: *tier, Region: *region, CreatedAt: *created, UpdatedAt: *updated}, nil
}

// reachArgs prepends the reach's parameters to a query's own.
func reachArgs(r Reach, args ...any) []any { return append(r.args(), args...) }

// GetCustomer reads one customer within reach: errNotFound when it does
// not exist, errOutsideReach (which is errNotFound) when it is out of
// reach. One statement, one primary-key lookup for the row and one for its
// existence, whichever the case: the existence is only for the audit
// record, and the withheld row's columns never leave the database.
func (s *Store) GetCustomer(ctx context.Context, r Reach, id string) (Customer, error) {
	return scanWithheld(s.read.QueryRow(ctx,
		`SELECT `+customerColumns+`, EXISTS (SELECT 1 FROM customers WHERE id = $4)
		 FROM (VALUES (1)) AS one (x)
		 LEFT JOIN customers c ON c.id = $4 AND `+reachSQL, reachArgs(r, id)...))
}

// SearchCustomers returns up to limit customers within reach whose name or
// email contains query (case-insensitive, matched literally), ordered by
// ID and starting after afterID. The reach filters in the query, before
// the limit, so every page is full when more customers within reach
// follow, and a cursor's position (an ID) stays valid.
func (s *Store) SearchCustomers(ctx context.Context, r Reach, query, afterID string, limit int) ([]Customer, error) {
	rows, err := s.read.Query(ctx,
		`SELECT `+customerColumns+` FROM customers c
		 WHERE `+reachSQL+`
		   AND ($4 = '' OR c.name ILIKE $4 ESCAPE '\' OR c.email ILIKE $4 ESCAPE '\')
		   AND c.id > $5
		 ORDER BY c.id
		 LIMIT $6`, reachArgs(r, likePattern(query), afterID, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Customer])
}

// likeEscaper makes %, _ and \ match themselves in a LIKE pattern whose
// escape character is \.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likePattern turns user text into a contains-pattern matched literally.
func likePattern(q string) string {
	if q == "" {
		return ""
	}
	return "%" + likeEscaper.Replace(q) + "%"
}

// RecentOrders returns a customer's latest orders, newest first.
// Orders of a customer out of reach are no orders. An unlimited caller's
// query reads orders alone, as before reach existed (so it waits on no
// lock of the customers table).
func (s *Store) RecentOrders(ctx context.Context, r Reach, customerID string, n int) ([]Order, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if r.Limited {
		rows, err = s.read.Query(ctx,
			`SELECT o.id, o.placed_at, o.total_cents, o.status
			 FROM orders o JOIN customers c ON c.id = o.customer_id
			 WHERE o.customer_id = $4 AND `+reachSQL+`
			 ORDER BY o.placed_at DESC, o.id DESC LIMIT $5`, reachArgs(r, customerID, n)...)
	} else {
		rows, err = s.read.Query(ctx,
			`SELECT id, placed_at, total_cents, status FROM orders
			 WHERE customer_id = $1 ORDER BY placed_at DESC, id DESC LIMIT $2`, customerID, n)
	}
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Order])
}

// UpdateEmail changes a customer's email and returns the updated record.
// An address another customer has, in any letter case, is errEmailTaken:
// the unique index customers_email_lower_key decides, so two customers
// racing for one address cannot both get it. A customer out of reach is
// left alone and reported as GetCustomer reports it, from the same one
// statement.
func (s *Store) UpdateEmail(ctx context.Context, r Reach, id, email string) (Customer, error) {
	c, err := scanWithheld(s.write.QueryRow(ctx,
		`WITH u AS (
		     UPDATE customers c SET email = $5, updated_at = now()
		     WHERE c.id = $4 AND `+reachSQL+`
		     RETURNING `+customerColumns+`
		 )
		 SELECT c.id, c.name, c.email, c.tier, c.region, c.created_at, c.updated_at,
		        EXISTS (SELECT 1 FROM customers WHERE id = $4)
		 FROM (VALUES (1)) AS one (x) LEFT JOIN u AS c ON true`, reachArgs(r, id, email)...))
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
// idempotency layer. Only a customer within reach gets a note, and only a
// note on a customer within reach is returned again: anything else is
// errNotFound (errOutsideReach when something was withheld).
func (s *Store) AddNote(ctx context.Context, r Reach, customerID, author, body, key string) (Note, error) {
	rows, err := s.write.Query(ctx,
		`INSERT INTO customer_notes (customer_id, author, body, idempotency_key)
		 SELECT c.id, $5, $6, $7 FROM customers c WHERE c.id = $4 AND `+reachSQL+`
		 ON CONFLICT (author, idempotency_key) DO NOTHING
		 RETURNING id, customer_id, author, body, created_at`, reachArgs(r, customerID, author, body, key)...)
	if err != nil {
		return Note{}, err
	}
	n, err := pgx.CollectOneRow(rows, pgx.RowToStructByPos[Note])
	if !errors.Is(err, pgx.ErrNoRows) {
		return n, err
	}
	// Nothing inserted: the key was used already (possibly by a concurrent
	// duplicate that committed after this statement's snapshot, hence a
	// second statement), or the customer does not exist or is out of
	// reach. The withheld flag (a note under this key, or the customer,
	// exists but was not shown) is for the audit record only.
	var (
		id                  *int64
		noteCustomer, nBody *string
		nAuthor             *string
		created             *time.Time
		withheld            bool
	)
	err = s.write.QueryRow(ctx,
		`SELECT n.id, n.customer_id, n.author, n.body, n.created_at,
		        EXISTS (SELECT 1 FROM customer_notes WHERE author = $5 AND idempotency_key = $6)
		        OR EXISTS (SELECT 1 FROM customers WHERE id = $4)
		 FROM (VALUES (1)) AS one (x)
		 LEFT JOIN (customer_notes n JOIN customers c ON c.id = n.customer_id AND `+reachSQL+`)
		   ON n.author = $5 AND n.idempotency_key = $6`, reachArgs(r, customerID, author, key)...).
		Scan(&id, &noteCustomer, &nAuthor, &nBody, &created, &withheld)
	if err != nil {
		return Note{}, err
	}
	if id == nil {
		if withheld {
			return Note{}, errOutsideReach
		}
		return Note{}, errNotFound
	}
	n = Note{ID: *id, CustomerID: *noteCustomer, Author: *nAuthor, Body: *nBody, CreatedAt: *created}
	if n.CustomerID != customerID || n.Body != body {
		return Note{}, errKeyReused
	}
	return n, nil
}

// Ping checks both pools, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	return errors.Join(s.read.Ping(ctx), s.write.Ping(ctx))
}

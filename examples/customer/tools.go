package main

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/cursor"
	"github.com/bulwark-mcp/bulwark/deprecation"
	"github.com/bulwark-mcp/bulwark/fanout"
	"github.com/bulwark-mcp/bulwark/pgcall"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Scopes the tools require.
const (
	scopeRead  = "customers:read"
	scopeWrite = "customers:write"
)

// Tool names.
const (
	toolGetCustomer     = "get_customer"
	toolSearchCustomers = "search_customers"
	toolUpdateEmail     = "update_customer_email"
	toolAddNote         = "add_customer_note"
	toolOverview        = "get_customer_overview"
	toolLookupCustomer  = "lookup_customer" // deprecated alias of get_customer
)

// toolScopes is the authorization policy: the scope each tool requires.
// A tool missing here is refused (fail closed).
var toolScopes = map[string]string{
	toolGetCustomer:     scopeRead,
	toolSearchCustomers: scopeRead,
	toolOverview:        scopeRead,
	toolLookupCustomer:  scopeRead,
	toolUpdateEmail:     scopeWrite,
	toolAddNote:         scopeWrite,
}

// lookupSunset is when the deprecated lookup_customer tool goes away.
var lookupSunset = time.Date(2027, time.March, 31, 0, 0, 0, 0, time.UTC)

// Bounds on arguments, advertised in the schemas and enforced.
const (
	maxQueryLen    = 100
	maxNoteLen     = 2000
	defaultPage    = 20
	maxPage        = 50
	recentOrders   = 5
	minIdemKeyLen  = 8
	maxIdemKeyLen  = 100
	maxCursorBytes = 200
)

// Tool inputs and outputs. The jsonschema tags are descriptions; bounds and
// patterns are added to the inferred schemas with validate's rules
// (toolDefs), so what a tool advertises and what it accepts agree, and
// clients learn the rules before they call.

type customerIDArgs struct {
	CustomerID string `json:"customer_id" jsonschema:"the customer's ID, for example C-000042"`
}

type searchArgs struct {
	Query    string `json:"query,omitempty" jsonschema:"text to find in the name or email (case-insensitive); empty lists all"`
	PageSize int    `json:"page_size,omitempty" jsonschema:"results per page, 1 to 50 (default 20)"`
	Cursor   string `json:"cursor,omitempty" jsonschema:"next_cursor from the previous page"`
}

type searchResult struct {
	Customers  []Customer `json:"customers"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

type updateEmailArgs struct {
	CustomerID string `json:"customer_id" jsonschema:"the customer's ID"`
	NewEmail   string `json:"new_email" jsonschema:"the new email address"`
}

type addNoteArgs struct {
	CustomerID     string `json:"customer_id" jsonschema:"the customer's ID"`
	Body           string `json:"body" jsonschema:"the note text, at most 2000 characters"`
	IdempotencyKey string `json:"idempotency_key" jsonschema:"a unique key (8 to 100 characters) you choose for this note; repeat it when retrying so the note is written once"`
}

// Overview is get_customer_overview's answer. When a dependency is down,
// the parts it would have filled are absent and Missing says why.
type Overview struct {
	Customer     *Customer     `json:"customer,omitempty"`
	RecentOrders []Order       `json:"recent_orders,omitempty"`
	Loyalty      *Loyalty      `json:"loyalty,omitempty"`
	Partial      bool          `json:"partial"`
	Missing      []MissingPart `json:"missing,omitempty"`
}

// MissingPart names a part of an overview that could not be fetched.
type MissingPart struct {
	Part   string `json:"part"`
	Reason string `json:"reason"`
}

// App holds what the tool handlers need.
type App struct {
	store   *Store
	loyalty *LoyaltyClient
	db      *retry.Retrier // PostgreSQL
	upst    *retry.Retrier // the loyalty service
	// cursors signs search_customers cursors: a cursor holds the last ID
	// of its page and is bound to the search's query, so a client can
	// neither forge one nor reuse one with another query.
	cursors *cursor.Codec
}

// idRule is the ID bound of every tool that names a customer: what
// validate.ID accepts, 1 to 50 ASCII letters, digits and hyphens.
var idRule = validate.On("customer_id", validate.FormatID())

// Tool definitions. Annotations are honest: layers trust them (only
// read-only tools are cached; only idempotent ones retried).
func toolDefs() map[string]*mcp.Tool {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(false)}
	defs := []*mcp.Tool{{
		Name: toolGetCustomer, Title: "Get customer",
		Description: "Read one customer record by ID. Read-only. Requires scope customers:read.",
		Annotations: readOnly,
		InputSchema: validate.MustSchema[customerIDArgs](idRule),
	}, deprecation.Mark(&mcp.Tool{
		// Tool lifecycle: kept working until its sunset, with the notice
		// in its description and a warning on every result.
		Name: toolLookupCustomer, Title: "Look up customer",
		Description: "Read one customer record by ID (older name of get_customer). Read-only. Requires scope customers:read.",
		Annotations: readOnly,
		InputSchema: validate.MustSchema[customerIDArgs](idRule),
	}, lookupSunset, toolGetCustomer), {
		Name: toolSearchCustomers, Title: "Search customers",
		Description: "Find customers whose name or email contains the query, 1 to 50 per page, ordered by ID. Pass next_cursor back as cursor for the next page. Read-only. Requires scope customers:read.",
		Annotations: readOnly,
		InputSchema: validate.MustSchema[searchArgs](
			validate.On("query", validate.MaxLength(maxQueryLen)),
			validate.On("page_size", validate.Range(1, maxPage)),
			validate.On("cursor", validate.MaxLength(maxCursorBytes)),
		),
	}, {
		Name: toolUpdateEmail, Title: "Update customer email",
		Description: "Replace a customer's email address. Overwrites the old address. An address another customer already has, in any letter case, is refused. Requires scope customers:write.",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: new(true), IdempotentHint: true, OpenWorldHint: new(false)},
		InputSchema: validate.MustSchema[updateEmailArgs](idRule,
			validate.On("new_email", validate.FormatEmail()), // at most 254 bytes
		),
	}, {
		Name: toolAddNote, Title: "Add customer note",
		Description: "Attach a note to a customer. Requires an idempotency_key: a retry with the same key returns the first note instead of adding another. Requires scope customers:write.",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: new(false), IdempotentHint: false, OpenWorldHint: new(false)},
		InputSchema: validate.MustSchema[addNoteArgs](idRule,
			validate.On("body", validate.MinLength(1), validate.MaxLength(maxNoteLen)),
			validate.On("idempotency_key", validate.MinLength(minIdemKeyLen), validate.MaxLength(maxIdemKeyLen),
				validate.Pattern(`^[A-Za-z0-9._:-]+$`)),
		),
	}, {
		Name: toolOverview, Title: "Customer overview",
		Description: "The customer, their latest orders and their loyalty status, fetched together. If a source is down the answer is partial and lists what is missing. Read-only. Requires scope customers:read.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(true)},
		InputSchema: validate.MustSchema[customerIDArgs](idRule),
	}}
	m := make(map[string]*mcp.Tool, len(defs))
	for _, d := range defs {
		m[d.Name] = d
	}
	return m
}

func toolDefsList() []*mcp.Tool { return slices.Collect(maps.Values(toolDefs())) }

// register adds the tools to s through bulwark's registry, so the layers
// can read their annotations at call time. The SDK checks every call's
// arguments against the tool's schema (IDs, lengths, ranges, patterns)
// before the handler runs, with or without the layers; the handlers check
// only what a schema cannot enforce there (format: email).
func (a *App) register(s *mcp.Server) {
	defs := toolDefs()
	bulwark.AddTool(s, defs[toolGetCustomer], a.getCustomer)
	bulwark.AddTool(s, defs[toolLookupCustomer], a.getCustomer)
	bulwark.AddTool(s, defs[toolSearchCustomers], a.searchCustomers)
	bulwark.AddTool(s, defs[toolUpdateEmail], a.updateEmail)
	bulwark.AddTool(s, defs[toolAddNote], a.addNote)
	bulwark.AddTool(s, defs[toolOverview], a.overview)
}

// query runs fn against the database under its breaker, retry and
// deadlines, and turns a failure into the refusal a client sees: a customer
// that does not exist or is out of reach names customer_id (errNotFound
// stays the cause, for the audit record and errors.Is); anything else goes
// through pgcall.Refuse.
func query[T any](ctx context.Context, db *retry.Retrier, customerID string, fn func(context.Context) (T, error)) (T, error) {
	var out T
	err := db.Do(ctx, func(ctx context.Context) error {
		v, err := fn(ctx)
		if errors.Is(err, errNotFound) {
			noteOutsideReach(ctx, err)
			e := bulwark.InvalidArgument("customer_id", "no customer has ID "+strconv.Quote(customerID))
			e.Cause = err
			return e
		}
		if err != nil {
			if ctx.Err() != nil {
				// The call ended (cancelled, or past a deadline) and the
				// server cancelled the statement at our request: report
				// why the call ended, not PostgreSQL's query_canceled.
				err = errors.Join(context.Cause(ctx), err)
			}
			return pgcall.Refuse(err)
		}
		out = v
		return nil
	})
	return out, err
}

func (a *App) getCustomer(ctx context.Context, _ *mcp.CallToolRequest, in customerIDArgs) (*mcp.CallToolResult, Customer, error) {
	c, err := a.customer(ctx, in.CustomerID)
	return nil, c, err
}

// customer reads one customer within the call's reach.
func (a *App) customer(ctx context.Context, id string) (Customer, error) {
	return query(ctx, a.db, id, func(ctx context.Context) (Customer, error) {
		return a.store.GetCustomer(ctx, reachFrom(ctx), id)
	})
}

func (a *App) searchCustomers(ctx context.Context, _ *mcp.CallToolRequest, in searchArgs) (*mcp.CallToolResult, searchResult, error) {
	size := cmp.Or(in.PageSize, defaultPage)
	after := ""
	if in.Cursor != "" {
		var err error
		if after, err = decodeCursor(a.cursors, in.Cursor, in.Query); err != nil {
			return nil, searchResult{}, err
		}
	}
	rows, err := query(ctx, a.db, "", func(ctx context.Context) ([]Customer, error) {
		// One row more than the page tells whether another page exists.
		return a.store.SearchCustomers(ctx, reachFrom(ctx), in.Query, after, size+1)
	})
	if err != nil {
		return nil, searchResult{}, err
	}
	out := searchResult{Customers: append([]Customer{}, rows[:min(size, len(rows))]...)}
	if len(rows) > size {
		out.NextCursor = a.cursors.Encode(rows[size-1].ID, in.Query)
	}
	return nil, out, nil
}

// decodeCursor returns the last ID of a cursor issued for query, or an
// invalid-argument refusal for anything else (the SQL filters by the
// current query anyway, but a cursor not issued for it is refused rather
// than silently applied).
func decodeCursor(c *cursor.Codec, cur, query string) (string, error) {
	if len(cur) <= maxCursorBytes {
		// An ID that is not a customer ID was never issued; checked all the same.
		if id, err := c.Decode(cur, query); err == nil && validate.ID(id) == nil {
			return id, nil
		}
	}
	return "", bulwark.InvalidArgument("cursor", "is not a cursor returned by this search; start again without one")
}

func (a *App) updateEmail(ctx context.Context, _ *mcp.CallToolRequest, in updateEmailArgs) (*mcp.CallToolResult, Customer, error) {
	if err := validate.Field("new_email", validate.Email(in.NewEmail)); err != nil {
		return nil, Customer{}, err
	}
	// The cache layer drops this customer's entries (cache.Invalidates)
	// before the result reaches the caller, so a read that follows is fresh.
	c, err := query(ctx, a.db, in.CustomerID, func(ctx context.Context) (Customer, error) {
		c, err := a.store.UpdateEmail(ctx, reachFrom(ctx), in.CustomerID, in.NewEmail)
		if errors.Is(err, errEmailTaken) {
			return c, bulwark.InvalidArgument("new_email", "is already the address of another customer; choose a different address")
		}
		return c, err
	})
	return nil, c, err
}

func (a *App) addNote(ctx context.Context, _ *mcp.CallToolRequest, in addNoteArgs) (*mcp.CallToolResult, Note, error) {
	author := cmp.Or(bulwark.CallFrom(ctx).PrincipalID(), "anonymous")
	n, err := query(ctx, a.db, in.CustomerID, func(ctx context.Context) (Note, error) {
		n, err := a.store.AddNote(ctx, reachFrom(ctx), in.CustomerID, author, in.Body, in.IdempotencyKey)
		if errors.Is(err, errKeyReused) {
			return n, bulwark.InvalidArgument("idempotency_key", "was already used for a different note; choose a new key")
		}
		return n, err
	})
	return nil, n, err
}

func (a *App) overview(ctx context.Context, _ *mcp.CallToolRequest, in customerIDArgs) (*mcp.CallToolResult, Overview, error) {
	// Each part fills its own field of out; fanout.All returns once all
	// ended, and a source that is down leaves the others' answers.
	var out Overview
	errs := fanout.All(ctx,
		fanout.Part{Name: "customer", Run: func(ctx context.Context) error {
			c, err := a.customer(ctx, in.CustomerID)
			if err == nil {
				out.Customer = &c
			}
			return err
		}},
		fanout.Part{Name: "recent_orders", Run: func(ctx context.Context) (err error) {
			out.RecentOrders, err = query(ctx, a.db, "", func(ctx context.Context) ([]Order, error) {
				return a.store.RecentOrders(ctx, reachFrom(ctx), in.CustomerID, recentOrders)
			})
			return err
		}},
		fanout.Part{Name: "loyalty", Run: func(ctx context.Context) error {
			return a.upst.Do(ctx, func(ctx context.Context) error {
				l, err := a.loyalty.Get(ctx, in.CustomerID)
				if err == nil {
					out.Loyalty = &l
				}
				return err
			})
		}},
	)
	// A customer that does not exist is an answer, not an outage.
	if err := errs["customer"]; errors.Is(err, bulwark.CodeInvalidArgument) {
		return nil, Overview{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Overview{}, bulwark.ErrorOf(err)
	}
	// The loyalty service knows nothing of reach: for a limited caller its
	// answer is shown only beside a customer record read within reach.
	// (The orders query applies the reach itself.)
	if errs["customer"] != nil && reachFrom(ctx).Limited {
		out.Loyalty = nil
		errs["loyalty"] = bulwark.Unavailable("shown only with the customer record, which is unavailable", 0, nil)
	}
	var missing []string
	for _, name := range []string{"customer", "recent_orders", "loyalty"} {
		if err := errs[name]; err != nil {
			// Error() of a refusal is client-safe: an internal failure reads
			// "internal error", its cause stays in the log.
			out.Missing = append(out.Missing, MissingPart{Part: name, Reason: bulwark.ErrorOf(err).Error()})
			missing = append(missing, name)
		}
	}
	if len(missing) == 3 {
		// Nothing to show: fail the call so the breaker and the client see
		// an outage rather than an empty answer.
		return nil, Overview{}, bulwark.Unavailable("every source of the overview is unavailable", 0, errs["customer"])
	}
	if out.Partial = len(missing) > 0; out.Partial {
		// For the audit record and the log: which sources were down.
		bulwark.CallFrom(ctx).SetField("missing", strings.Join(missing, ","))
	}
	return nil, out, nil
}

package pgcall

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// cancelGrace is how long a connection whose context ended waits for the
// server to confirm the cancellation before pgx closes it; lostClientCheck
// is how often a busy backend checks that its client is still there.
const (
	cancelGrace     = time.Second
	lostClientCheck = time.Second
)

// Configure prepares cfg for statements run on behalf of calls that a
// client may cancel.
//
// pgx's default, when a query's context ends, is to close the connection
// (after asking the server, on a second connection, to cancel the
// statement): every cancelled call then costs a new connection and its
// handshake, and a backend whose cancel request got lost keeps waiting
// behind its lock. With Configure, the cancel request goes out at once and
// the connection waits up to a second for the server to end the
// statement, after which it is usable again and returns to its pool. Only
// if the server has not answered by then is the connection closed, and
// client_connection_check_interval (PostgreSQL 14 and later) makes the
// backend notice its lost client within a second.
//
// A statementTimeout above zero becomes the connection's statement_timeout
// and twice it its idle_in_transaction_session_timeout, both enforced by
// PostgreSQL itself; zero leaves the server's settings.
func Configure(cfg *pgx.ConnConfig, statementTimeout time.Duration) {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if statementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = ms(statementTimeout)
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = ms(2 * statementTimeout)
	}
	cfg.RuntimeParams["client_connection_check_interval"] = ms(lostClientCheck)
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
}

// Refuse returns err, from a pgx call, as the refusal a client sees; nil
// for nil, and err itself when it is already a refusal. The cause stays
// attached for the log and audit record, never for the client.
//
//   - context.Canceled: [bulwark.CodeCanceled];
//   - context.DeadlineExceeded, or a statement stopped by statement_timeout
//     (SQLSTATE 57014): [bulwark.CodeDeadlineExceeded];
//   - SQLSTATE classes 08 (connection exception), 53 (insufficient
//     resources) and 57 (operator intervention), and failures to reach or
//     keep a connection (dial and network errors, EOF, a closed
//     connection): [bulwark.Unavailable], "the database is unavailable";
//   - anything else, constraint violations included: [bulwark.Internal].
//     Map the errors a handler expects (a unique violation it reports as
//     "already in use") before calling Refuse.
func Refuse(err error) error {
	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	switch {
	case err == nil || errors.As(err, new(*bulwark.Error)):
		return err
	case errors.Is(err, context.Canceled):
		return &bulwark.Error{Code: bulwark.CodeCanceled, Cause: err}
	case errors.Is(err, context.DeadlineExceeded), isPg && pgErr.Code == "57014":
		return &bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: err}
	case isPg && len(pgErr.Code) >= 2 && slices.Contains([]string{"08", "53", "57"}, pgErr.Code[:2]),
		!isPg && isConnectionError(err):
		return bulwark.Unavailable("the database is unavailable", 0, err)
	}
	return bulwark.Internal(err)
}

// isConnectionError reports failures to reach or keep a connection. An
// EOF means the server went away mid-conversation; pgx reports a
// connection it closed after such a failure with a plain "conn closed"
// error, which has no type to match.
func isConnectionError(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error // *net.OpError among others
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "conn closed")
}

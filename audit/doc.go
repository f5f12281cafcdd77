// Package audit keeps a tamper-evident trail of every call: exactly one
// record per tools/call, resources/read, resources/subscribe, prompts/get,
// completion/complete, list request (tools/list, resources/list,
// resources/templates/list, prompts/list; one per page) and
// subscriptions/listen opening that bulwark.Use guards, refusals included,
// with nothing secret in it.
//
// # What it does
//
// [Middleware] builds one [Record] per call after the inner layers have
// run: UTC time, correlation ID, session, transport, client name and
// version, the principal and auth method that auth found, the method
// (Record.Method), the tool (tools/call only), the arguments (redacted, or
// only a keyed digest with Config.DigestOnly; for the other methods their
// params, so a resource read records {"uri": ...}, a prompt its name and
// arguments and a list its params), the
// outcome as bulwark.OutcomeOf classifies it, the one classifier metrics
// and every other layer use too ("ok", "tool_error", "protocol_error" or a
// refusal code such as "unauthenticated", "rate_limited", "unavailable",
// "deadline_exceeded", "canceled", "internal"; an unexpected error a tool
// handler returned is "internal", as the client sees it),
// the client-safe reason, the operator-only detail (the cause of an
// internal error or panic, redacted), duration,
// attempts, cache status, breaker state and the annotations of
// bulwark.Call.SetField.
//
// A [Logger] signs each record and writes it to a [Sink]. Records form a
// chain: each carries its sequence number, the MAC of the previous record
// and its own HMAC-SHA256 under a key given as text (by convention in the
// environment variable AUDIT_HMAC_KEY), in one encoding everywhere,
// decoded by [ParseKey]: hex (make one with `openssl rand -hex 32`) or
// base64, at least 32 bytes once decoded; a server and the verifier given
// the same AUDIT_HMAC_KEY use the same key. An unset key, a short one and
// text in neither encoding are refused with different messages, each
// saying how to make a good key. [Logger.Close] appends a seal. [Verify]
// (and the command `go run ./cmd/bulwark-audit verify FILE`, which reads
// AUDIT_HMAC_KEY the same way) reports the first bad record
// after an edit, a deletion, an insertion, a reordering or a truncation.
// Concurrent calls are group-committed by one writer at a time (each turn
// signs and writes every record queued so far, in one batch where the sink
// allows), so any number of them produce one valid chain.
//
// # Redaction
//
// Always on, by a redact.Redactor (Config.Redactor; the built-in rules by
// default): values under credential-like names at any depth, configured
// names and paths, properties marked sensitive in the tool's input schema
// (redact.SensitiveKeyword), and credential-shaped values anywhere in any
// text. Control characters are made visible, so CR/LF, ANSI escapes and
// quotes in values can neither split nor forge a record nor repaint a
// terminal. The same Redactor serves logs (its Handler method wraps a
// log/slog handler). Cache keys (cache/) never hold arguments in clear:
// they are SHA-256 hashes of the whole arguments, sensitive fields
// included, so that calls differing only in a sensitive value never share
// an entry; never build a cache key from redacted arguments. An optional
// size cap (Config.MaxRecordBytes) bounds each record.
//
// # Sinks and failures
//
// [NewSlogSink] writes JSON lines through log/slog, to standard error by
// default: on the stdio transport standard output belongs to the protocol
// and must never carry audit. [OpenFile] appends to a file with a
// documented fsync setting ([FileConfig]). Package pgaudit stores rows in
// PostgreSQL.
//
// # A fleet on one table
//
// Several server instances append to one PostgreSQL table (package
// pgaudit), each to a hash chain of its own: the sink names its instance
// (by default the host name and a random suffix, or a stable name it is
// given), every record carries it (Record.Instance, under the MAC) and a
// new chain opens with a [KindStart] record. A process restarted under a
// stable name continues its chain from the last row; under the default
// name each start begins a new chain and the old one ends with its seal
// (clean stop) or open (crash). pgaudit's VerifyChains and `bulwark-audit
// verify -db URL -table NAME` check every chain on its own and report
// each: records, first bad record, sealed or open, time of the last
// record. Tampering with one chain fails that chain alone.
//
// When a sink fails, Config.BufferSize decides: zero (the default) refuses
// calls with bulwark.Unavailable (a record that fails after its handler
// ran turns that answer into a refusal; while the sink is down, calls are
// refused before their handler runs); a positive size keeps records in a
// buffer of that many and retries them in order, refusing calls only when
// the buffer is full.
// Either way every lost record goes to the operator log, every failure
// raises a counter in [Logger.Stats] (which metrics/ exports) and OnAlert
// is told: the sink started failing, the buffer filled (once per fill, as
// the filling record is kept, before calls are refused), the sink
// recovered. Writes to a remote sink (PostgreSQL) and the wait for the
// writer are bounded by Config.WriteTimeout, so a hung database never
// hangs a call. Writes to this machine (file and slog sinks) get no
// deadline, to keep a timer off the hot path: a write blocked in the
// kernel (a hung network filesystem, a standard error pipe nobody reads)
// holds the one call that is writing until it returns, while every other
// call gives up after WriteTimeout. Point the slog sink at a handler that
// cannot block.
//
// # Erasure and retention
//
// With [ErasureKeys] (package pgaudit keeps them in PostgreSQL), the
// personal fields of a
// record (principal ID and arguments) are encrypted with AES-256-GCM under
// a key of the record's subject (the principal, or Config.Subject). The MAC
// covers the ciphertext, so [Logger.Purge], which destroys the subject's
// key and records that it did, erases those fields everywhere while the
// chain still verifies. [Logger.Prune] drops records older than a cutoff
// from sinks that support it, leaving a signed anchor where the trail now
// begins so the rest still verifies. In a table shared by a fleet, both
// reach every instance: the erasure keys are shared, so one Purge erases the
// subject from every chain, and one Prune prunes every chain behind its
// own anchor, keeping each chain's last record (a stopped instance's chain
// stays sealed).
//
// # Where it sits
//
// Outermost: audit → recover → metrics → auth → validate →
// ratelimit/concurrency → timeout → cache → breaker → retry → handler.
// Being outside every other layer is what lets it record each of their
// refusals; it reads the principal that auth found further in from the
// bulwark.Call record. It also recovers a panic that reaches it.
//
// # What it returns on refusal
//
// Only its own: bulwark.Unavailable ("audit trail unavailable", with a
// retry hint) when a call's record cannot be kept (Config.BufferSize). Everything else passes
// through unchanged.
//
// # Example
//
//	key, err := audit.ParseKey(os.Getenv("AUDIT_HMAC_KEY"))
//	if err != nil { return err }
//	sink, err := audit.OpenFile("/var/log/mcp/audit.log", audit.FileConfig{})
//	if err != nil { return err }
//	trail, err := audit.New(sink, key, audit.Config{})
//	if err != nil { return err }
//	defer trail.Close(context.Background())
//	// outermost; the other layers follow in the default order
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware())
package audit

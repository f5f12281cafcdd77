// Package redact removes secrets from text and JSON before they reach a
// record, a log line or a client: one [Redactor], built once from a
// [Config], serves audit records, operator logs and the masking of tool
// results alike, so a value hidden in one place is hidden in every other.
//
// # What it does
//
// [Redactor.Text] masks credential-shaped values in free text (JWTs,
// bearer and basic credentials, prefixed API keys, URL passwords,
// key=value pairs under sensitive names, long random strings, registered
// secrets in raw, base64 and URL-encoded form) and makes control
// characters visible. [Redactor.JSON] and [Redactor.Arguments] walk a JSON
// document and replace the values under sensitive names, configured paths
// and properties a schema marks with [SensitiveKeyword], and apply Text to
// every other string. [Redactor.Handler] wraps a log/slog handler so that
// everything logged through it is redacted the same way. Every redacted
// value becomes [Mask].
//
// # Where it sits
//
// Not a layer of the chain: audit redacts every record with a Redactor
// (audit.Config.Redactor), bulwark.Recover and bulwark.ToWire log error
// causes through slog, which a Handler redacts, and a guard on tool
// results can mask them with JSON or Text.
//
// # What it returns on refusal
//
// Nothing: redaction never fails. Input that is not JSON comes back as a
// JSON string of its redacted text; only [New] returns an error, for a
// configuration it cannot honour.
//
// # Example
//
//	red, err := redact.New(redact.Config{Secrets: []string{os.Getenv("DB_PASSWORD")}})
//	if err != nil { return err }
//	slog.SetDefault(slog.New(red.Handler(slog.NewJSONHandler(os.Stderr, nil))))
//	trail, err := audit.New(sink, key, audit.Config{Redactor: red})
package redact

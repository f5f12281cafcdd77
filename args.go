package bulwark

import (
	"context"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
)

// A call's arguments are scanned once. The first layer that reads them
// (validation, the cache key, the idempotency fingerprint, audit
// redaction) builds a view of them, and the call record keeps it for the
// layers after it; a layer that runs without a record builds its own. The
// view is internal: this hook gives the module's packages the record's
// slot without exporting it.
func init() {
	jsontext.CallSlot = func(ctx context.Context) *jsontext.Slot {
		if c := CallFrom(ctx); c != nil {
			return &c.args
		}
		return nil
	}
}

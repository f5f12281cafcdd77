package audit_test

import (
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/audit/audittest"
	"github.com/bulwark-mcp/bulwark/audit/internal/memkeys"
)

func TestMemoryErasureKeys(t *testing.T) {
	audittest.Run(t, func(*testing.T) audit.ErasureKeys { return &memkeys.Store{} })
}

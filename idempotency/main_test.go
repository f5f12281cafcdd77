package idempotency_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The layer starts a goroutine per keyed call to renew its claim: none
// may outlive the call.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package edge_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The Handler runs a session janitor until Close, and the SDK a goroutine
// per session until it is closed: every test closes what it starts, and
// this checks that nothing is left behind. Idle keep-alive connections of
// the test clients are not the code's.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

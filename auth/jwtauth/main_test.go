package jwtauth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The JWKS verifier runs a refresh goroutine until Close; every test
// closes what it starts, and this checks that nothing is left behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

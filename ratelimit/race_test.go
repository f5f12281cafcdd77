//go:build race

package ratelimit_test

// raceEnabled shortens the longest loops under the race detector, which
// slows them about tenfold without checking anything more.
const raceEnabled = true

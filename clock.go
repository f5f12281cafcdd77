package bulwark

import "time"

// Clock is the time source of every bulwark layer that measures or waits,
// so tests can drive time by hand (see bulwarktest.FakeClock) instead of
// sleeping. Every layer's configuration takes one; nil means the system
// clock.
type Clock interface {
	Now() time.Time
	// After waits for d to elapse and then sends the current time, like
	// time.After.
	After(d time.Duration) <-chan time.Time
}

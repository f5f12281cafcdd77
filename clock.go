package bulwark

import "time"

// Clock is the time source of every bulwark layer that measures or waits,
// so tests can drive time by hand (see bulwarktest.FakeClock) instead of
// sleeping.
type Clock interface {
	Now() time.Time
	// After waits for d to elapse and then sends the current time, like
	// time.After.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock. Its zero value is ready to use.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ClockOr returns c, or SystemClock when c is nil: the one-liner every
// layer uses to default an optional clock.
func ClockOr(c Clock) Clock {
	if c == nil {
		return SystemClock{}
	}
	return c
}

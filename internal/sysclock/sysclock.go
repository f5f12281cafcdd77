// Package sysclock is the system clock every bulwark layer falls back to
// when its configuration names no [bulwark.Clock].
package sysclock

import (
	"time"

	"github.com/bulwark-mcp/bulwark"
)

// Clock is the real clock. Its zero value is ready to use.
type Clock struct{}

// Now returns time.Now().
func (Clock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (Clock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Or returns c, or the system clock when c is nil.
func Or(c bulwark.Clock) bulwark.Clock {
	if c == nil {
		return Clock{}
	}
	return c
}

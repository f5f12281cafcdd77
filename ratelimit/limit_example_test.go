package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark/ratelimit"
)

func ExamplePerSecond() {
	fmt.Println(ratelimit.PerSecond(10))
	// Output: 10/s burst 10
}

func ExamplePerHour() {
	l := ratelimit.PerHour(3600)
	fmt.Println(l.Rate, l.Burst)
	// Output: 1 3600
}

func ExampleEvery() {
	l := ratelimit.Every(500*time.Millisecond, 3)
	fmt.Println(l.Rate, l.Burst, l.Validate() == nil)
	// Output: 2 3 true
}

package ratelimittest_test

import (
	"testing"

	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/ratelimit/ratelimittest"
)

func TestRunMemoryStore(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

package fanout

import (
	"context"
	"runtime/debug"
	"sync"

	"github.com/bulwark-mcp/bulwark"
)

// Part is one branch of a fan-out: a name to report its outcome under and
// the function that fetches it.
type Part struct {
	Name string
	Run  func(ctx context.Context) error
}

// All runs every part concurrently with ctx, waits for all of them, and
// returns each part's error by name: nil for a part that succeeded, a
// bulwark internal error wrapping a *bulwark.PanicError for one that
// panicked. Parts should have distinct names (of two with the same name,
// the map holds one outcome). Every part must honour ctx: All does not
// return before all have returned.
func All(ctx context.Context, parts ...Part) map[string]error {
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					errs[i] = bulwark.Internal(&bulwark.PanicError{Value: v, Stack: debug.Stack()})
				}
			}()
			errs[i] = p.Run(ctx)
		})
	}
	wg.Wait()
	byName := make(map[string]error, len(parts))
	for i, p := range parts {
		byName[p.Name] = errs[i]
	}
	return byName
}

// Package fanout calls several dependencies at once from inside a handler
// and keeps what each returned, so that a tool can answer in part when one
// of them is down.
//
// # What it does
//
// [All] runs every [Part] on its own goroutine and waits for all of them.
// Unlike errgroup, a failing part does not cancel the others: the handler
// gets each part's error by name and builds a partial answer that says
// what is missing. A panic in a part becomes that part's internal error
// (with a *bulwark.PanicError cause): the Recover layer cannot reach a
// goroutine the handler started, and an unrecovered panic there would end
// the process.
//
// # Where it sits
//
// Inside a tool handler, each part usually guarded by its dependency's
// retry.Retrier (and so its breaker). The call's deadline and cancellation
// reach every part through the context.
//
//	var cust Customer
//	var loyalty Loyalty
//	errs := fanout.All(ctx,
//		fanout.Part{Name: "customer", Run: func(ctx context.Context) (err error) {
//			cust, err = store.Customer(ctx, id)
//			return err
//		}},
//		fanout.Part{Name: "loyalty", Run: func(ctx context.Context) (err error) {
//			loyalty, err = loyaltyClient.Get(ctx, id)
//			return err
//		}},
//	)
//	// errs["loyalty"] != nil: answer without it, and say what is missing.
package fanout

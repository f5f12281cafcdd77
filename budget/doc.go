// Package budget stops runaway agents: a model that makes the same call over
// and over, or a session or caller that spends more than it should.
//
// # What it does
//
// A [Ledger] counts every tools/call:
//
//   - Loops. A call that repeats a call of the same principal (or, without
//     one, the same session) to the same tool with the same arguments,
//     compared in canonical form (number spelling too), more than [Config.Repeats] times (20) in
//     [Config.RepeatWindow] (a minute) is refused with a message the model
//     can act on: "this exact call was made 20 times in the last minute;
//     change the arguments or stop".
//   - Budgets. [Config.Session] and [Config.Principal] each allow a number
//     of calls and of cost units over a window; [Config.Cost] says what a
//     call costs (per tool with bulwark.ByTool; one unit by default). A
//     principal's budget is shared by all of its sessions.
//
// Counters live in a [Store]: [MemoryStore] in the process (bounded, least
// recently used first out, on an injectable bulwark.Clock) or, for many
// instances, budget/redisbudget, which this package does not import. Each
// counter runs over a fixed window that starts with its first call.
//
// # Where it sits
//
//	audit → recover → metrics → auth → validate → budget → ratelimit →
//	timeout → cache → breaker → retry → handler
//
// After auth, whose principal keys the counters, and before anything that
// costs. A cache hit still counts: the loop is the model's, whatever served
// it.
//
// # On refusal
//
// [bulwark.RateLimited], which says what is left and when it resets
// (RetryAfter): "the call budget of this session is used up: 0 of 500
// calls per hour left; retry after 720s". The record's [FieldRefused] names
// the check that refused ("loop", "session_calls", "principal_cost", …) and
// [Ledger.Stats] counts refusals.
//
// When the store fails (Redis down), the call goes ahead uncounted:
// budgets guard against runaway cost, not against unauthorised access, and
// must not take every tool down with the store. FieldRefused is then
// "store" and Stats.StoreErrors counts it.
//
// # Example
//
//	ledger, err := budget.New(budget.Config{
//		Session:   budget.Allowance{Calls: 500},
//		Principal: budget.Allowance{Cost: 10_000, Window: 24 * time.Hour},
//		Cost:      bulwark.ByTool[int64](1, map[string]int64{"export_customers": 50}),
//	})
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(), budget.Middleware(ledger))
package budget

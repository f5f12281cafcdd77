// Package redislimit is a ratelimit.Store in Redis, so that the instances
// of a deployment behind a load balancer share one set of limits.
//
// # What it does
//
// Each decision is one round trip to an atomic Lua script: GCRA (the
// token bucket as one "theoretical arrival time" per key) on the Redis
// server's clock, so the instances' clocks do not matter. The limit travels
// with every call, so a changed limit applies at once. Keys are
// Config.Prefix + limiter name + ":" + key; they contain principal IDs in
// clear (use a ratelimit.KeyFunc that hashes them if those are sensitive)
// and expire as soon as their bucket would be full again. That expiry is
// the store's bound per principal: a key exists only while its bucket is
// not full, so a principal holds at most as many keys as it made calls
// within one refill period. Install a per-principal limiter first in the
// same ratelimit.Middleware (a refused call goes no further) to bound that
// number too; there is no overflow bucket in Redis.
//
// # Where it sits
//
// The store sits under a ratelimit.Limiter, which sits after auth in the
// chain (see package ratelimit). Only a server that imports this package
// links the Redis client.
//
// # Failure
//
// When Redis cannot answer, the store fails closed by default: the limiter
// refuses the call with bulwark.Unavailable (the cause stays server-side).
// Config.FailOpen lets such calls through instead. Both are counted in
// [Stats]. A call whose own context ends while Redis decides is refused as
// canceled or deadline exceeded either way, and is not counted as a
// failure.
//
// # Redis Cluster
//
// The store runs unchanged on Redis Cluster (or a managed equivalent): pass
// a *redis.ClusterClient. Each decision is one script on one key, so no
// hash tags are needed, buckets spread over the slots, and each bucket is
// decided by the node holding it; nothing uses KEYS, SCAN or MULTI. While a
// node is down, decisions for the buckets on it fail closed (or open) and
// the other nodes' buckets are decided as before (with
// cluster-require-full-coverage yes, Redis's default, the whole cluster
// refuses once it marks the node failed, and every decision fails that
// way). Keys that contain braces (a principal ID "{x}", say) are placed by
// the text between them, which changes only which node holds the bucket.
// Do not put a hash tag in Config.Prefix: that is correct but sends every
// bucket to one node. A node that restarts without its data (no
// append-only file, no replica) forgets its buckets, which then start full.
// The conformance suite (ratelimit/ratelimittest), a node stopped mid-test
// (failing closed refuses, failing open lets calls through, the drained
// bucket is still drained when the node returns) and a bucket's slot
// migrated to another node under load (every token taken exactly once,
// through ASK and MOVED redirections) run on a local three-master cluster.
//
// # Example
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	store, err := redislimit.New(client, redislimit.Config{Prefix: "myapp:rl:", Timeout: time.Second})
//	if err != nil { return err }
//	limiter, err := ratelimit.NewLimiter(store, ratelimit.Config{
//		Limit: bulwark.Fixed(ratelimit.PerMinute(60)),
//	})
package redislimit

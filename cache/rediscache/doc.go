// Package rediscache is a cache.Store in Redis, so that the instances of a
// deployment share cached results and every instance sees every
// invalidation.
//
// # What it does
//
// Entries (the result's JSON behind a small binary header) and the tags'
// generation counters live in Redis, each key with an expiry, so nothing
// outlives its keep time. Cache keys and owners are hashes and tags are
// hashed, so no argument value, principal ID or record ID appears in a key
// name. An optional cap (Config.PerPrincipal) bounds the entries each
// principal keeps; without it, what one principal can store is bounded by
// its rate limit and the entries' keep time. The key layout is in [Store].
//
// # Where it sits
//
// The store sits under a cache.Cache, which sits inside the timeout and
// outside the breaker (see package cache). Only a server that imports this
// package links the Redis client.
//
// # Failure
//
// Redis failures are returned to the cache, which counts them in
// cache.Stats.Errors and treats the call as a miss: the cache fails open,
// the handler runs, and nothing is served from a cache that cannot be read.
// An invalidation that fails leaves the write's result intact and marks the
// call's record (cache_invalidation=failed). Bound how long a call can wait
// for a sick Redis with the client's DialTimeout, ReadTimeout and
// WriteTimeout.
//
// # Redis Cluster
//
// The store runs unchanged on Redis Cluster (or a managed equivalent): pass
// a *redis.ClusterClient. Every command and script touches one key (an
// entry, a tag's generation, a principal's set of entries under
// Config.PerPrincipal), reading several generations or dropping a
// principal's surplus entries are pipelines of single-key commands, and
// invalidation writes a random new generation to each tag's own key rather
// than drawing from a shared counter: no hash tags are needed, keys spread
// over the slots, and nothing uses KEYS, SCAN or MULTI. While a node is
// down, calls whose entry or generations live on it are misses, and
// invalidations of tags on it fail as described above; everything on the
// other nodes works as before. Run every node with its data kept across
// restarts (appendonly yes) or a replica: a node that comes back empty
// forgets its tags' generations while entries on the other nodes live on.
// The conformance suite (cache/cachetest, with and without the cap),
// invalidation between two instances, the cap, and a node stopped
// mid-test run on a local three-master cluster.
//
// # Example
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	store, err := rediscache.New(client, rediscache.Config{Prefix: "myapp:cache:"})
//	if err != nil { return err }
//	c, err := cache.New(store, cache.Config{StaleFor: 5 * time.Minute})
package rediscache

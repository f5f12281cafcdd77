// Package redisidem keeps idempotency keys in Redis, shared by every
// instance of a server.
//
// # What it does
//
// [Store] implements idempotency.Store and idempotency.Renewer. A claim
// is one SET NX PX of a pending marker; completing, renewing and releasing
// are scripts that act only while the caller's token still holds the key.
// Expiry runs on the Redis server's clock.
//
// # Redis Cluster
//
// [Store] runs unchanged on Redis Cluster (or a managed equivalent): pass
// a *redis.ClusterClient. An idempotency key is one Redis key (prefix + a
// hex hash of principal, tool and key), and claiming, renewing, completing
// and releasing are each one script on that key alone, so no hash tags are
// needed and keys spread over the slots; nothing uses KEYS, SCAN or MULTI.
// While a node is down, calls whose keys live on it are refused as
// unavailable without running (the idempotency layer fails closed), and
// keys on the other nodes work as before. Run every node with its data
// kept across restarts (appendonly yes) or a replica: a node that comes
// back empty forgets the results it held, and those keys can run again.
// The conformance suite, a node stopped mid-test (refused while down,
// replayed once it returns) and two instances racing for a stream of keys
// while their slot migrates to another node (each key claimed once, every
// result kept) run on a local three-master cluster.
//
// # Where it sits
//
// Behind the idempotency layer (see package idempotency):
//
//	store, err := redisidem.New(rdb, redisidem.Config{Prefix: "app:idem:"})
//	if err != nil { return err }
//	once, err := idempotency.New(store, idempotency.Config{})
//
// # On refusal
//
// The store refuses nothing itself; when Redis fails, the idempotency
// layer refuses keyed calls as unavailable.
package redisidem

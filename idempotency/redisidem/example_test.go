package redisidem_test

import (
	"fmt"

	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/redisidem"
	"github.com/redis/go-redis/v9"
)

func ExampleNew() {
	// A *redis.ClusterClient works the same way (see the package
	// documentation).
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	store, err := redisidem.New(rdb, redisidem.Config{Prefix: "customers:idempotency:"})
	if err != nil {
		panic(err)
	}
	_, err = idempotency.New(store, idempotency.Config{RequireKey: true})
	fmt.Println(err == nil)
	// Output: true
}

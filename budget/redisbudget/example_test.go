package redisbudget_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark/budget/redisbudget"
	"github.com/redis/go-redis/v9"
)

// Two instances that share one Redis count one budget: the third unit of
// a budget of two is refused, whichever instance asks.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	prefix := fmt.Sprintf("example:budget:%d:", time.Now().UnixNano())
	a, _ := redisbudget.New(client, redisbudget.Config{Prefix: prefix})
	b, _ := redisbudget.New(client, redisbudget.Config{Prefix: prefix})
	ctx := context.Background()
	defer client.Del(ctx, prefix+"calls:s:abc")

	for _, s := range []*redisbudget.Store{a, b, a} {
		u, err := s.Take(ctx, "calls:s:abc", 1, 2, time.Minute)
		if err != nil {
			fmt.Println("Redis:", err)
			return
		}
		fmt.Println(u.Used, u.OK)
	}
	// Output:
	// 1 true
	// 2 true
	// 2 false
}

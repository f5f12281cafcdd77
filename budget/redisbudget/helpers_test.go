package redisbudget_test

import (
	"time"

	"github.com/redis/go-redis/v9"
)

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
}

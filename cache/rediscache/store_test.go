package rediscache_test

import (
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/cachetest"
	"github.com/bulwark-mcp/bulwark/cache/rediscache"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var alice = &bulwark.Principal{ID: "alice", Method: "api_key", Scopes: []string{"read"}}

func writeTool(name string) *mcp.Tool {
	return &mcp.Tool{Name: name}
}

func TestNewValidates(t *testing.T) {
	if _, err := rediscache.New(nil, rediscache.Config{}); err == nil {
		t.Fatal("nil Redis client accepted")
	}
	client := testenv.NewRedis(t)
	if _, err := rediscache.New(client, rediscache.Config{PerPrincipal: -1}); err == nil {
		t.Fatal("negative PerPrincipal accepted")
	}
}

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Store {
		s, err := rediscache.New(testenv.NewRedis(t), rediscache.Config{Prefix: testenv.RedisPrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

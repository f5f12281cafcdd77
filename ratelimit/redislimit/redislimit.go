package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/redis/go-redis/v9"
)

// defaultPrefix starts every key unless Config.Prefix says otherwise.
const defaultPrefix = "bulwark:ratelimit:"

// Config configures a [Store]. Every zero field means the documented
// default.
type Config struct {
	// Prefix starts every key; "" means "bulwark:ratelimit:". Keys are
	// Prefix + limiter name + ":" + bucket key.
	Prefix string
	// FailOpen allows calls when Redis cannot answer, for deployments that
	// value availability over the limit; each such call is counted in
	// Stats.FailedOpen. The default (false) fails closed: the limiter
	// refuses the call with a bulwark.Unavailable refusal, because a limit
	// that vanishes whenever Redis is slow or down invites abuse exactly
	// when the system is under stress.
	FailOpen bool
	// Timeout bounds each decision when positive. It takes effect only if
	// the client was created with ContextTimeoutEnabled; otherwise the
	// client's own ReadTimeout and WriteTimeout bound the wait. Zero leaves
	// the caller's context alone.
	Timeout time.Duration
	// UseCallerClock makes the store use the time the limiter passes in
	// (its clock) instead of the Redis server's clock. Instances of a
	// deployment rarely agree on the time to the millisecond, so leave it
	// false in production; it exists for tests that drive time with a fake
	// clock. Keys then live ten minutes longer than they need to, because
	// Redis expires them by its own clock.
	UseCallerClock bool
}

// Store keeps token buckets in Redis, so that several instances of a
// server share one set of limits. Each decision is one round trip: an
// atomic Lua script implementing GCRA (the generic cell rate algorithm,
// the token bucket expressed as one "theoretical arrival time" per key)
// that reads the time from the Redis server itself, so the instances'
// clocks do not matter. The limit travels with every call, so a changed
// limit applies at once; a key expires as soon as its bucket would be full
// again, so idle buckets cost nothing.
//
// Key layout: one string key per bucket, Config.Prefix + limiter name +
// ":" + bucket key, holding "<tat> <interval> <burst>" with a PX expiry.
// The script touches only that key, so the store works on Redis Cluster
// without hash tags (see "Redis Cluster" in the package documentation).
type Store struct {
	client   redis.Scripter
	prefix   string
	failOpen bool
	timeout  time.Duration
	caller   bool

	decisions, failures, failedOpen atomic.Uint64
}

// New returns a store on client: a *redis.Client, or any other go-redis
// client that runs scripts (*redis.ClusterClient, *redis.Ring).
func New(client redis.Scripter, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redislimit: nil Redis client")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("redislimit: negative Timeout")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = defaultPrefix
	}
	return &Store{
		client:   client,
		prefix:   cfg.Prefix,
		failOpen: cfg.FailOpen,
		timeout:  cfg.Timeout,
		caller:   cfg.UseCallerClock,
	}, nil
}

// gcraEpoch keeps the times in the script small, so that doubles (Lua's
// only numbers) hold them to well under a microsecond.
var gcraEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// gcra takes one token. Times are microseconds since gcraEpoch. The stored
// value is "<tat> <interval> <burst>": the bucket's theoretical arrival time
// (TAT; the bucket is full when TAT <= now and a call fits when the new TAT
// is at most interval*burst ahead of now) and the limit it was computed
// under. When the limit changes, the debt (tokens taken and not yet
// refilled) is carried over in tokens and capped so that no more than the
// new burst is available, and the new limit governs from that call on,
// refused or not: what the memory store does too.
//
// KEYS[1] bucket; ARGV[1] interval (µs per token, may be fractional);
// ARGV[2] burst; ARGV[3] now (µs), or "" for the server's clock; ARGV[4]
// epoch (Unix seconds); ARGV[5] extra milliseconds to keep the key beyond
// the moment its bucket is full again. Returns {allowed, remaining,
// retry-after µs}.
var gcra = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now
if ARGV[3] == "" then
  local t = redis.call("TIME")
  now = (tonumber(t[1]) - tonumber(ARGV[4])) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end
local function store(t)
  redis.call("SET", KEYS[1], string.format("%.17g %.17g %d", t, interval, burst), "PX", math.ceil((t - now) / 1000) + tonumber(ARGV[5]))
end
local tat = now
local changed = false
local v = redis.call("GET", KEYS[1])
if v then
  local t, i, b = string.match(v, "^(%S+) (%S+) (%S+)$")
  t, i, b = tonumber(t), tonumber(i), tonumber(b)
  if t and i and b and t > now then
    tat = t
    if i ~= interval or b ~= burst then
      local available = math.min(b - (t - now) / i, burst)
      tat = now + (burst - available) * interval
      changed = true
    end
  end
end
local tolerance = interval * burst
local new_tat = tat + interval
if new_tat - now > tolerance + 0.001 then
  if changed then
    store(tat)
  end
  return {0, 0, math.ceil(new_tat - tolerance - now)}
end
store(new_tat)
return {1, math.floor((tolerance - (new_tat - now)) / interval + 0.000001), 0}
`)

// Allow implements ratelimit.Store.
func (s *Store) Allow(ctx context.Context, b ratelimit.Bucket, limit ratelimit.Limit, now time.Time) (ratelimit.Decision, error) {
	s.decisions.Add(1)
	parent := ctx
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	var at any = ""
	slack := 1 // ms: the key expires when the bucket is full again
	if s.caller {
		at = now.Sub(gcraEpoch).Microseconds()
		// Expiry runs on the server's clock, which a caller's (fake)
		// clock does not follow: keep keys long enough that a slow test
		// never sees a bucket expire while its own time stands still.
		slack = 10 * 60 * 1000
	}
	interval := 1e6 / limit.Rate
	v, err := gcra.Run(ctx, s.client, []string{s.key(b)}, interval, limit.Burst, at, gcraEpoch.Unix(), slack).Int64Slice()
	if err == nil && len(v) != 3 {
		err = fmt.Errorf("unexpected script reply of %d values", len(v))
	}
	if err != nil {
		if cerr := ended(parent); cerr != nil {
			// The call was cancelled or ran out of time: not a Redis
			// failure, and no reason to let the call through under
			// FailOpen either.
			return ratelimit.Decision{}, fmt.Errorf("redislimit: %w (%w)", cerr, err)
		}
		s.failures.Add(1)
		if s.failOpen {
			s.failedOpen.Add(1)
			return ratelimit.Decision{Allowed: true, Remaining: -1}, nil
		}
		return ratelimit.Decision{}, fmt.Errorf("redislimit: %w", err)
	}
	if v[0] == 1 {
		return ratelimit.Decision{Allowed: true, Remaining: int(v[1])}, nil
	}
	wait := time.Duration(math.MaxInt64) // a wait of centuries, beyond what Duration counts
	if v[2] < int64(wait/time.Microsecond) {
		wait = max(time.Duration(v[2])*time.Microsecond, time.Microsecond)
	}
	return ratelimit.Decision{RetryAfter: wait}, nil
}

func (s *Store) key(b ratelimit.Bucket) string {
	var sb strings.Builder
	sb.Grow(len(s.prefix) + len(b.Limiter) + 1 + len(b.Key))
	sb.WriteString(s.prefix)
	sb.WriteString(b.Limiter)
	sb.WriteByte(':')
	sb.WriteString(b.Key)
	return sb.String()
}

// Stats counts a [Store]'s decisions.
type Stats struct {
	Decisions  uint64 // calls to Allow
	Failures   uint64 // decisions Redis could not make (unreachable, timeout, error)
	FailedOpen uint64 // failures allowed through under Config.FailOpen
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Decisions: s.decisions.Load(), Failures: s.failures.Load(), FailedOpen: s.failedOpen.Load()}
}

// ended returns ctx's error, or context.DeadlineExceeded once its deadline
// has passed: a network deadline taken from ctx can fire a moment before
// ctx's own timer does.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"linkapi/internal/auth"
)

// rateKeyPrefix is what redis_rate puts before the keys it is given.
const rateKeyPrefix = "rate:"

// FailureLimiter is an auth.FailureGuard whose allowances are shared by every
// instance on the same Redis, as GCRA (redis_rate): the same bursts and refill
// rates as auth.FailureLimits, counted once for all instances. It keeps a local
// auth.FailureLimiter of the same limits beside them, which every attempt also
// passes: while Redis is up that never refuses what the shared limits allow (the
// shared counts include this instance's), and when Redis stops answering the
// instance goes on with what it has counted itself, never with less than one
// instance's limits.
type FailureLimiter struct {
	c       *Client
	limiter *redis_rate.Limiter
	limits  auth.FailureLimits
	local   *auth.FailureLimiter
}

var _ auth.FailureGuard = (*FailureLimiter)(nil)

// NewFailureLimiter returns a FailureLimiter enforcing limits through c.
func NewFailureLimiter(c *Client, limits auth.FailureLimits) *FailureLimiter {
	return &FailureLimiter{c: c, limiter: redis_rate.NewLimiter(c.redis()), limits: limits,
		local: auth.NewFailureLimiter(limits)}
}

// Local returns the local limiter that stands in while Redis is down, for tests.
func (l *FailureLimiter) Local() *auth.FailureLimiter { return l.local }

// refund gives one attempt back to a GCRA key. redis_rate's AllowN with a
// negative cost cannot do it: it clamps the theoretical arrival time (TAT) to now
// before subtracting, and writes nothing when the result lies in the past, so a
// refund to a bucket that one attempt had just left full is lost, and one that
// lands on a full bucket would, if written, give more than the burst. This moves
// the stored TAT back by one interval, never below now, and drops the key once
// the bucket is full.
var refund = goredis.NewScript(`
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local t = redis.call("TIME")
local now = (t[1] - 1483228800) + (t[2] / 1000000)
local tat = redis.call("GET", key)
if not tat then
  return 0
end
tat = tonumber(tat) - interval
if tat <= now then
  redis.call("DEL", key)
  return 1
end
redis.call("SET", key, tat, "EX", math.ceil(tat - now))
return 1
`)

// failureKey names the shared bucket of kind for s, hashed so that every key
// has the same length whatever a client sent.
func failureKey(kind, s string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + s))
	return Prefix + "login:" + kind + ":" + hex.EncodeToString(sum[:16])
}

// gcra returns b as a redis_rate limit, and whether it limits anything.
func gcra(b auth.Bucket) (redis_rate.Limit, bool) {
	if b.Burst <= 0 || b.Every <= 0 {
		return redis_rate.Limit{}, false
	}
	return redis_rate.Limit{Rate: 1, Period: b.Every, Burst: b.Burst}, true
}

// Attempt implements auth.FailureGuard: one attempt from the local buckets and
// from the shared ones of account and addr, given back by done unless the
// password was wrong.
func (l *FailureLimiter) Attempt(ctx context.Context, account, addr string) (func(failed bool), time.Duration, bool) {
	localDone, wait, ok := l.local.Attempt(ctx, account, addr)
	if !ok {
		return nil, wait, false
	}
	if !l.c.Up() {
		return localDone, 0, true
	}
	type taken struct {
		key   string
		every time.Duration
	}
	var spent []taken
	giveBack := func() {
		for _, t := range spent {
			l.give(ctx, t.key, t.every)
		}
	}
	buckets := []struct {
		kind, s string
		b       auth.Bucket
	}{{"account", account, l.limits.PerAccount}}
	if addr != "" {
		buckets = append(buckets, struct {
			kind, s string
			b       auth.Bucket
		}{"addr", auth.AddrGroup(addr), l.limits.PerAddr})
	}
	for _, b := range buckets {
		limit, on := gcra(b.b)
		if !on {
			continue
		}
		key := failureKey(b.kind, b.s)
		octx, cancel := op(ctx)
		res, err := l.limiter.Allow(octx, key, limit)
		cancel()
		if err != nil {
			// Redis went away mid-attempt: what was taken from it is given back
			// if it can be, and the local buckets decide alone.
			l.c.fail(err)
			giveBack()
			return localDone, 0, true
		}
		if res.Allowed == 0 {
			giveBack()
			localDone(false)
			return nil, max(res.RetryAfter, time.Second), false
		}
		spent = append(spent, taken{key, b.b.Every})
	}
	return func(failed bool) {
		localDone(failed)
		if !failed {
			giveBack()
		}
	}, 0, true
}

// give returns one attempt to the shared bucket key refilling one per every.
func (l *FailureLimiter) give(ctx context.Context, key string, every time.Duration) {
	octx, cancel := op(ctx)
	defer cancel()
	if err := refund.Run(octx, l.c.redis(), []string{rateKeyPrefix + key}, every.Seconds()).Err(); err != nil {
		l.c.fail(err)
	}
}

package redis

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"linkapi/internal/auth"
)

// RequestLimiter is an auth.RateLimiter whose counts are shared by every
// instance on the same Redis, as GCRA: perMinute requests a minute per key,
// whichever instance serves them. While Redis is down each instance counts on
// its own, with an auth.RequestLimiter of the same quota.
type RequestLimiter struct {
	c       *Client
	limiter *redis_rate.Limiter
	limit   redis_rate.Limit
	local   *auth.RequestLimiter
}

var _ auth.RateLimiter = (*RequestLimiter)(nil)

// NewRequestLimiter returns a RequestLimiter of perMinute requests a minute
// through c.
func NewRequestLimiter(c *Client, perMinute int) *RequestLimiter {
	return &RequestLimiter{c: c, limiter: redis_rate.NewLimiter(c.redis()), limit: redis_rate.PerMinute(perMinute),
		local: auth.NewRequestLimiter(perMinute, auth.MaxRateKeys)}
}

// Allow implements auth.RateLimiter.
func (l *RequestLimiter) Allow(ctx context.Context, key string) auth.RateResult {
	if !l.c.Up() {
		return l.local.Allow(ctx, key)
	}
	octx, cancel := op(ctx)
	defer cancel()
	res, err := l.limiter.Allow(octx, Prefix+"requests:"+key, l.limit)
	if err != nil {
		l.c.fail(err)
		return l.local.Allow(ctx, key)
	}
	out := auth.RateResult{Allowed: res.Allowed > 0, Quota: l.limit.Rate, Window: l.limit.Period,
		Remaining: res.Remaining, Reset: max(res.ResetAfter, 0)}
	if !out.Allowed {
		out.RetryAfter = max(res.RetryAfter, time.Millisecond)
	}
	return out
}

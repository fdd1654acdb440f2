package auth

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"
)

// RateLimiter counts the requests of each caller against a quota per window.
// RequestLimiter counts them in this process; internal/redis shares the count
// between instances.
type RateLimiter interface {
	// Allow counts one request for key and says whether it may run.
	Allow(ctx context.Context, key string) RateResult
}

// RateResult is what a RateLimiter decided about one request, in the terms of
// the RateLimit-Policy and RateLimit header fields.
type RateResult struct {
	Allowed bool
	// Quota is the number of requests allowed per Window.
	Quota  int
	Window time.Duration
	// Remaining is how many more requests may run at once.
	Remaining int
	// Reset is how long until the whole quota is available again.
	Reset time.Duration
	// RetryAfter, for a refused request, is how long until one more may run.
	RetryAfter time.Duration
}

// RateKey is the key a caller's requests are counted under: its API token's when
// it came with one, else its account's.
func RateKey(c *Caller) string {
	if c.ByAPIToken() {
		return "token:" + strconv.FormatInt(c.APITokenID, 10)
	}
	return "account:" + strconv.FormatInt(c.AccountID, 10)
}

// MaxRateKeys is how many callers a RequestLimiter is usually made to keep count
// of (a few MiB).
const MaxRateKeys = 50_000

// RequestLimiter is the RateLimiter of one process: a token bucket per key of
// PerMinute requests, refilled evenly over a minute, in the least-recently-used
// map of the failed-login limits (at most MaxEntries keys; a bucket that has
// filled up again is dropped as it is met).
type RequestLimiter struct {
	mu        sync.Mutex
	perMinute int
	b         *buckets
	// Now returns the current time; tests replace it. It defaults to time.Now.
	Now func() time.Time
}

// NewRequestLimiter returns a RequestLimiter of perMinute requests a minute per
// key, keeping at most maxEntries keys.
func NewRequestLimiter(perMinute, maxEntries int) *RequestLimiter {
	every := time.Minute / time.Duration(max(perMinute, 1))
	return &RequestLimiter{perMinute: perMinute,
		b: newBuckets(Bucket{Burst: perMinute, Every: every}, max(maxEntries, 1)), Now: time.Now}
}

// Allow implements RateLimiter.
func (l *RequestLimiter) Allow(_ context.Context, key string) RateResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	k := bucketKey("request", key)
	res := RateResult{Quota: l.perMinute, Window: time.Minute}
	if wait := l.b.wait(k, now); wait > 0 {
		res.RetryAfter = wait
		res.Reset = l.b.untilFull(k)
		return res
	}
	l.b.take(k, now)
	res.Allowed = true
	res.Remaining = l.b.remaining(k)
	res.Reset = l.b.untilFull(k)
	return res
}

// remaining returns the whole attempts left in the bucket of key, which take or
// wait has just brought up to date.
func (bs *buckets) remaining(key string) int {
	e, ok := bs.byKey[key]
	if !ok {
		return bs.limit.Burst
	}
	return int(math.Floor(e.Value.(*bucket).tokens))
}

// untilFull returns how long until the bucket of key, just brought up to date,
// is full again.
func (bs *buckets) untilFull(key string) time.Duration {
	e, ok := bs.byKey[key]
	if !ok {
		return 0
	}
	missing := float64(bs.limit.Burst) - e.Value.(*bucket).tokens
	return time.Duration(missing * float64(bs.limit.Every))
}

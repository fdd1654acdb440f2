package server

import (
	"math"
	"net/http"
	"strconv"

	"linkapi/internal/auth"
)

// RatePolicy names the one quota policy in the RateLimit-Policy and RateLimit
// header fields.
const RatePolicy = "default"

// limitRate counts each request with a caller (set by authenticate) against its
// quota in l, per API token or per account, and tells the caller where it
// stands with the RateLimit-Policy and RateLimit header fields of the IETF draft
// (draft-ietf-httpapi-ratelimit-headers, structured-field form):
//
//	RateLimit-Policy: "default";q=600;w=60
//	RateLimit: "default";r=599;t=1
//
// (q the quota per window of w seconds, r the requests left, t the seconds
// until the quota is whole again). Past the quota it answers 429 with
// Retry-After and RATE_LIMITED carrying extensions.retryAfter. Requests without
// a caller pass untouched; a nil l limits nothing.
func limitRate(l auth.RateLimiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth.FromContext(r.Context())
		if c == nil {
			next.ServeHTTP(w, r)
			return
		}
		res := l.Allow(r.Context(), auth.RateKey(c))
		h := w.Header()
		h.Set("RateLimit-Policy", strconv.Quote(RatePolicy)+";q="+strconv.Itoa(res.Quota)+
			";w="+strconv.FormatInt(int64(math.Ceil(res.Window.Seconds())), 10))
		h.Set("RateLimit", strconv.Quote(RatePolicy)+";r="+strconv.Itoa(max(res.Remaining, 0))+
			";t="+strconv.FormatInt(int64(math.Ceil(res.Reset.Seconds())), 10))
		if !res.Allowed {
			retry := max(1, int64(math.Ceil(res.RetryAfter.Seconds())))
			h.Set("Retry-After", strconv.FormatInt(retry, 10))
			writeGraphQLErrorWith(w, r, http.StatusTooManyRequests,
				"too many requests; try again in "+strconv.FormatInt(retry, 10)+" seconds",
				map[string]any{"code": "RATE_LIMITED", "retryAfter": retry})
			return
		}
		next.ServeHTTP(w, r)
	})
}

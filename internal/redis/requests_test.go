package redis

import (
	"context"
	"testing"
	"time"

	"linkapi/internal/redis/redistest"
)

// TestRequestsSharedBetweenInstances spends a quota of 4 a minute through two
// limiters on one Redis: the fifth request is refused on either, with the
// seconds until the next and until the quota is whole; another key is not
// affected; with Redis down each counts on its own.
func TestRequestsSharedBetweenInstances(t *testing.T) {
	srv := redistest.Start(t)
	c1, _ := open(t, srv)
	c2, _ := open(t, srv)
	l1, l2 := NewRequestLimiter(c1, 4), NewRequestLimiter(c2, 4)
	ctx := context.Background()
	for i, want := range []int{3, 2, 1, 0} {
		r := []*RequestLimiter{l1, l2}[i%2].Allow(ctx, "account:1")
		if !r.Allowed || r.Remaining != want || r.Quota != 4 || r.Window != time.Minute {
			t.Fatalf("request %d: got %+v, want allowed with %d left of 4 a minute", i+1, r, want)
		}
	}
	for i, l := range []*RequestLimiter{l1, l2} {
		r := l.Allow(ctx, "account:1")
		if r.Allowed || r.RetryAfter < 10*time.Second || r.RetryAfter > 15*time.Second || r.Reset < 55*time.Second {
			t.Fatalf("fifth request through %d: got %+v, want refused, retry in about 15s, reset in about 1m", i+1, r)
		}
	}
	if r := l2.Allow(ctx, "account:2"); !r.Allowed || r.Remaining != 3 {
		t.Fatalf("another account: got %+v", r)
	}

	srv.Stop()
	for i := range 4 {
		if r := l1.Allow(ctx, "account:1"); !r.Allowed {
			t.Fatalf("with Redis down, request %d through 1: got %+v, want allowed by its own count", i+1, r)
		}
	}
	if r := l1.Allow(ctx, "account:1"); r.Allowed {
		t.Fatal("with Redis down, fifth request through 1 allowed: its own count does not limit")
	}
	if c1.Up() {
		t.Fatal("client up with Redis down")
	}
}

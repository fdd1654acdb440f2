package auth

import (
	"context"
	"testing"
	"time"
)

// TestRequestLimiter counts a quota of 3 a minute on a clock of its own: three
// requests pass with 2, 1 and 0 left, the fourth waits 20 s, a key of its own is
// unaffected, and 20 s later one more passes.
func TestRequestLimiter(t *testing.T) {
	c := &clock{now: testNow}
	l := NewRequestLimiter(3, 10)
	l.Now = c.Now
	ctx := context.Background()
	for i, want := range []int{2, 1, 0} {
		r := l.Allow(ctx, "account:1")
		if !r.Allowed || r.Remaining != want || r.Quota != 3 || r.Window != time.Minute {
			t.Fatalf("request %d: got %+v, want allowed with %d left of 3 a minute", i+1, r, want)
		}
		if wantReset := time.Duration(3-want) * 20 * time.Second; r.Reset != wantReset {
			t.Errorf("request %d: reset %s, want %s", i+1, r.Reset, wantReset)
		}
	}
	r := l.Allow(ctx, "account:1")
	if r.Allowed || r.RetryAfter != 20*time.Second || r.Remaining != 0 || r.Reset != time.Minute {
		t.Fatalf("fourth request: got %+v, want refused, retry after 20s, reset 1m", r)
	}
	if r := l.Allow(ctx, "token:1"); !r.Allowed || r.Remaining != 2 {
		t.Fatalf("another key: got %+v, want allowed with 2 left", r)
	}
	c.Advance(20 * time.Second)
	if r := l.Allow(ctx, "account:1"); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("20s later: got %+v, want allowed with 0 left", r)
	}
	if r := l.Allow(ctx, "account:1"); r.Allowed {
		t.Fatalf("and right after: got %+v, want refused", r)
	}
}

// TestRateKey checks that an API token is counted apart from its account.
func TestRateKey(t *testing.T) {
	if got := RateKey(&Caller{AccountID: 7}); got != "account:7" {
		t.Errorf("login token: got %q", got)
	}
	if got := RateKey(&Caller{AccountID: 7, APITokenID: 9}); got != "token:9" {
		t.Errorf("API token: got %q", got)
	}
}

package main

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"linkapi/internal/store/storetest"
)

var rateHeader = regexp.MustCompile(`^"default";r=(\d+);t=(\d+)$`)

// rateOf returns the remaining requests and reset seconds of r's RateLimit
// header, checking its RateLimit-Policy against quota a minute.
func rateOf(t *testing.T, r *gqlResponse, quota int) (remaining, reset int) {
	t.Helper()
	if got, want := r.Header.Get("RateLimit-Policy"), `"default";q=`+strconv.Itoa(quota)+`;w=60`; got != want {
		t.Fatalf("RateLimit-Policy: got %q, want %q", got, want)
	}
	m := rateHeader.FindStringSubmatch(r.Header.Get("RateLimit"))
	if m == nil {
		t.Fatalf("RateLimit: got %q, want \"default\";r=N;t=N", r.Header.Get("RateLimit"))
	}
	remaining, _ = strconv.Atoi(m[1])
	reset, _ = strconv.Atoi(m[2])
	return remaining, reset
}

// checkRateLimited checks that r is the refusal of a caller past its quota.
func checkRateLimited(t *testing.T, r *gqlResponse, quota int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests || r.Code() != "RATE_LIMITED" {
		t.Fatalf("past the quota: got %d %q, want 429 RATE_LIMITED: %s", r.Status, r.Code(), r.Raw)
	}
	ra, _ := r.Errors[0].Extensions["retryAfter"].(float64)
	if ra < 1 || ra > 60 {
		t.Errorf("retryAfter = %v, want 1 to 60 seconds", r.Errors[0].Extensions["retryAfter"])
	}
	if h := r.Header.Get("Retry-After"); h != strconv.Itoa(int(ra)) {
		t.Errorf("Retry-After %q, want %v", h, ra)
	}
	if rem, _ := rateOf(t, r, quota); rem != 0 {
		t.Errorf("RateLimit r=%d on a refusal, want 0", rem)
	}
	if r.Data != nil {
		t.Errorf("a refused request has data: %s", r.Raw)
	}
}

// TestRateLimitPerCaller runs one instance with LINKAPI_RATE_LIMIT=5: an
// account's sixth request in the minute is refused with RATE_LIMITED, the
// headers count down, another account and the same account's API token have
// quotas of their own, and anonymous requests carry no headers.
func TestRateLimitPerCaller(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := startServerEnv(t, url, nil, map[string]string{"LINKAPI_RATE_LIMIT": "5"})
		s.createAccount(t, "ann@example.com", "ann-password-1", "account:write", "links:write")
		s.createAccount(t, "bob@example.com", "bob-password-1", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password-1")
		bob := s.login(t, "bob@example.com", "bob-password-1")
		d := s.ok(t, ann, `mutation { createApiToken(name: "script", scopes: ["links:write"]) { token } }`, nil)
		apiToken := str(t, d, "createApiToken", "token")
		for i, want := range []int{3, 2, 1, 0} { // the createApiToken above was the first
			r := s.do(t, ann, meQuery, nil)
			if r.Code() != "" {
				t.Fatalf("request %d: %s", i+2, r.Raw)
			}
			if rem, reset := rateOf(t, r, 5); rem != want || reset < 1 || reset > 60 {
				t.Fatalf("request %d: r=%d t=%d, want r=%d and t within a minute", i+2, rem, reset, want)
			}
		}
		checkRateLimited(t, s.do(t, ann, meQuery, nil), 5)
		checkRateLimited(t, s.do(t, ann, `mutation { createLink(input: {url: "https://example.com"}) { id } }`, nil), 5)
		if r := s.do(t, bob, meQuery, nil); r.Code() != "" {
			t.Fatalf("bob, within his own quota: %s", r.Raw)
		}
		if r := s.do(t, apiToken, `{ links { totalCount } }`, nil); r.Code() != "" {
			t.Fatalf("ann's API token, within its own quota: %s", r.Raw)
		} else if rem, _ := rateOf(t, r, 5); rem != 4 {
			t.Errorf("ann's API token: r=%d, want 4", rem)
		}
		if n := queryInt(t, openDB(t, url).SQL(), "SELECT COUNT(*) FROM links"); n != 0 {
			t.Errorf("a refused createLink created %d links", n)
		}
		r := s.do(t, "", `{ __typename }`, nil)
		if r.Header.Get("RateLimit") != "" || r.Header.Get("RateLimit-Policy") != "" {
			t.Errorf("an anonymous request got RateLimit headers: %v", r.Header)
		}
	})
}

// TestRateLimitRefusesBadValue checks LINKAPI_RATE_LIMIT's validation.
func TestRateLimitRefusesBadValue(t *testing.T) {
	for _, v := range []string{"-1", "ten", "1.5"} {
		_, err := runServeExpectingFailure(t, map[string]string{
			"LINKAPI_DATABASE_URL": storetest.SQLiteURL(t), "LINKAPI_RATE_LIMIT": v,
		})
		if want := "LINKAPI_RATE_LIMIT: "; err == nil || !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(err.Error()) {
			t.Errorf("LINKAPI_RATE_LIMIT=%s: got %v, want an error naming it", v, err)
		}
	}
}

// TestRedisSharesRateLimits spreads an account's requests over two instances
// with LINKAPI_RATE_LIMIT=6: the seventh is refused on both. With Redis down
// each instance counts on its own and nothing answers 500; with Redis back the
// count is shared again.
func TestRedisSharesRateLimits(t *testing.T) {
	t.Parallel() // its own database and Redis
	p := startPair(t, map[string]string{"LINKAPI_RATE_LIMIT": "6"})
	p.a.createAccount(t, "ann@example.com", "ann-password-1", "account:read")
	p.a.createAccount(t, "bob@example.com", "bob-password-1", "account:read")
	p.a.createAccount(t, "cy@example.com", "cy-password-12", "account:read")
	ann := p.a.login(t, "ann@example.com", "ann-password-1")
	bob := p.b.login(t, "bob@example.com", "bob-password-1")
	cy := p.b.login(t, "cy@example.com", "cy-password-12")
	servers := []*testServer{p.a, p.b}
	for i := range 6 {
		r := servers[i%2].do(t, ann, meQuery, nil)
		if r.Code() != "" {
			t.Fatalf("request %d: %s", i+1, r.Raw)
		}
		if rem, _ := rateOf(t, r, 6); rem != 5-i {
			t.Fatalf("request %d: r=%d, want %d (counted across both instances)", i+1, rem, 5-i)
		}
	}
	checkRateLimited(t, p.a.do(t, ann, meQuery, nil), 6)
	checkRateLimited(t, p.b.do(t, ann, meQuery, nil), 6)

	p.redis.Stop()
	for i := range 6 {
		if r := p.a.do(t, bob, meQuery, nil); r.Status >= 500 || r.Code() != "" {
			t.Fatalf("with Redis down, bob's request %d on a: %d %s", i+1, r.Status, r.Raw)
		}
	}
	checkRateLimited(t, p.a.do(t, bob, meQuery, nil), 6)
	if got := fallbackGauge(t, p.a); got != "1" {
		t.Errorf("linkapi_redis_fallback = %s with Redis down, want 1", got)
	}

	p.redis.Restart()
	waitUntil(t, "a shares again", func() bool { return fallbackGauge(t, p.a) == "0" })
	waitUntil(t, "b shares again", func() bool { return fallbackGauge(t, p.b) == "0" })
	for i := range 6 {
		if r := servers[i%2].do(t, cy, meQuery, nil); r.Code() != "" {
			t.Fatalf("after the outage, cy's request %d: %s", i+1, r.Raw)
		}
	}
	checkRateLimited(t, p.b.do(t, cy, meQuery, nil), 6)
}

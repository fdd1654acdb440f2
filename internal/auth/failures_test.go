package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/linkapi"
)

// clock is a settable time for a FailureLimiter.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// limitedAuthenticator is newTestAuthenticator with a FailureLimiter of limits on
// a clock of its own.
func limitedAuthenticator(t *testing.T, limits FailureLimits) (*Authenticator, *fakeStore, *clock) {
	t.Helper()
	a, store := newTestAuthenticator(t)
	c := &clock{now: testNow}
	l := NewFailureLimiter(limits)
	l.Now = c.Now
	a.Failures = l
	return a, store, c
}

// from returns a context of a request from client address addr.
func from(addr string) context.Context {
	return WithClientAddr(context.Background(), addr)
}

// loginCode logs in and returns the error code, "" for success.
func loginCode(t *testing.T, a *Authenticator, ctx context.Context, email, password string) string {
	t.Helper()
	_, err := a.Login(ctx, email, password, nil)
	return linkapi.ErrorCode(err)
}

func wantLogin(t *testing.T, a *Authenticator, ctx context.Context, email, password, want string) {
	t.Helper()
	if got := loginCode(t, a, ctx, email, password); got != want {
		t.Fatalf("Login(%s from %q) code = %q, want %q", email, ClientAddr(ctx), got, want)
	}
}

// TestFailedLoginsLimitedPerAccount checks that failures against one email, from
// any number of addresses, run out, that the answer is then RATE_LIMITED with a
// retry-after even for the right password, and that one try comes back after
// Every.
func TestFailedLoginsLimitedPerAccount(t *testing.T) {
	a, _, clk := limitedAuthenticator(t, FailureLimits{
		PerAccount: Bucket{Burst: 3, Every: 30 * time.Second},
		MaxEntries: 100,
	})
	for i := range 3 {
		wantLogin(t, a, from(fmt.Sprintf("192.0.2.%d", i+1)), "ann@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
	}
	_, err := a.Login(from("198.51.100.7"), "ann@example.com", testPassword, nil)
	if got := linkapi.ErrorCode(err); got != linkapi.ERATELIMITED {
		t.Fatalf("right password after the burst: code = %q, want RATE_LIMITED", got)
	}
	if got := linkapi.RetryAfter(err); got != 30*time.Second {
		t.Errorf("RetryAfter = %v, want 30s", got)
	}
	if msg := linkapi.ErrorMessage(err); !strings.Contains(msg, "30 seconds") {
		t.Errorf("message %q lacks the retry-after hint", msg)
	}
	// Case and spaces do not make another account.
	wantLogin(t, a, from("198.51.100.8"), "  ANN@example.com ", testPassword, linkapi.ERATELIMITED)

	clk.Advance(20 * time.Second)
	_, err = a.Login(context.Background(), "ann@example.com", testPassword, nil)
	if got := linkapi.RetryAfter(err); got != 10*time.Second {
		t.Errorf("RetryAfter 20s later = %v, want 10s", got)
	}
	// The victim waits at most Every for a try once the guessing stops.
	clk.Advance(10 * time.Second)
	wantLogin(t, a, from("198.51.100.7"), "ann@example.com", testPassword, "")
	// Another email is not affected by ann's bucket.
	wantLogin(t, a, from("192.0.2.1"), "bob@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
}

// TestOnlyFailuresSpend checks that right passwords and errors other than a wrong
// password leave the allowance alone.
func TestOnlyFailuresSpend(t *testing.T) {
	a, store, _ := limitedAuthenticator(t, FailureLimits{
		PerAccount: Bucket{Burst: 3, Every: time.Hour},
		PerAddr:    Bucket{Burst: 3, Every: time.Hour},
		MaxEntries: 100,
	})
	ctx := from("192.0.2.1")
	wantLogin(t, a, ctx, "ann@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
	wantLogin(t, a, ctx, "ann@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
	for range 5 {
		wantLogin(t, a, ctx, "ann@example.com", testPassword, "")
	}
	if _, err := a.Login(ctx, "ann@example.com", testPassword, []string{AdminWrite}); linkapi.ErrorCode(err) != linkapi.EFORBIDDEN {
		t.Fatalf("scope not held: %v, want FORBIDDEN", err)
	}
	store.err = errors.New("database down")
	for range 5 {
		wantLogin(t, a, ctx, "ann@example.com", "wrong password", linkapi.EINTERNAL)
	}
	store.err = nil
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	a.Hashing = NewLimiter(1, time.Second)
	a.Hashing.slots <- struct{}{} // every slot busy: the check cannot start
	if _, err := a.Login(canceled, "ann@example.com", "wrong password", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled login: %v, want context.Canceled", err)
	}
	<-a.Hashing.slots
	a.Hashing = nil
	// Two failures spent; the third is still allowed, the fourth is not.
	wantLogin(t, a, ctx, "ann@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
	wantLogin(t, a, ctx, "ann@example.com", testPassword, linkapi.ERATELIMITED)
}

// TestFailedLoginsLimitedPerAddress checks that failures from one client
// address run out across emails, that another address is unaffected, and that
// an IPv6 client is one /64.
func TestFailedLoginsLimitedPerAddress(t *testing.T) {
	a, _, clk := limitedAuthenticator(t, FailureLimits{
		PerAccount: Bucket{Burst: 100, Every: time.Second},
		PerAddr:    Bucket{Burst: 3, Every: 5 * time.Second},
		MaxEntries: 100,
	})
	for i := range 3 {
		wantLogin(t, a, from("203.0.113.9"), fmt.Sprintf("user%d@example.com", i), "wrong password", linkapi.EUNAUTHENTICATED)
	}
	_, err := a.Login(from("203.0.113.9"), "ann@example.com", testPassword, nil)
	if linkapi.ErrorCode(err) != linkapi.ERATELIMITED || linkapi.RetryAfter(err) != 5*time.Second {
		t.Fatalf("4th login from the address: %v (retry after %v), want RATE_LIMITED after 5s", err, linkapi.RetryAfter(err))
	}
	wantLogin(t, a, from("203.0.113.10"), "ann@example.com", testPassword, "")
	// No address (the middleware not wired, or a CLI) limits by account only.
	wantLogin(t, a, context.Background(), "ann@example.com", testPassword, "")
	clk.Advance(5 * time.Second)
	wantLogin(t, a, from("203.0.113.9"), "ann@example.com", testPassword, "")

	for i := range 3 {
		wantLogin(t, a, from(fmt.Sprintf("2001:db8:1:2::%x", i+1)), "ann@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
	}
	wantLogin(t, a, from("2001:db8:1:2:ffff::1"), "ann@example.com", testPassword, linkapi.ERATELIMITED)
	wantLogin(t, a, from("2001:db8:1:3::1"), "ann@example.com", testPassword, "")
	// An IPv4-mapped IPv6 address is its IPv4 address.
	for range 3 {
		wantLogin(t, a, from("198.51.100.1"), "ann@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
	}
	wantLogin(t, a, from("::ffff:198.51.100.1"), "ann@example.com", testPassword, linkapi.ERATELIMITED)
}

// TestRateLimitedLooksTheSameForUnknownEmails checks that the limit does not tell
// whether an email has an account.
func TestRateLimitedLooksTheSameForUnknownEmails(t *testing.T) {
	a, _, _ := limitedAuthenticator(t, FailureLimits{PerAccount: Bucket{Burst: 2, Every: time.Minute}, MaxEntries: 100})
	var errs []error
	for _, email := range []string{"ann@example.com", "nobody@example.com"} {
		for range 2 {
			wantLogin(t, a, context.Background(), email, "wrong password", linkapi.EUNAUTHENTICATED)
		}
		_, err := a.Login(context.Background(), email, "wrong password", nil)
		errs = append(errs, err)
	}
	if fmt.Sprintf("%#v", errs[0]) != fmt.Sprintf("%#v", errs[1]) {
		t.Errorf("known email: %#v, unknown email: %#v; want the same", errs[0], errs[1])
	}
}

// TestFailureLimiterDefault checks that an Authenticator without Failures limits
// by DefaultFailureLimits.
func TestFailureLimiterDefault(t *testing.T) {
	a, _ := newTestAuthenticator(t)
	d := DefaultFailureLimits()
	if d.PerAccount.Burst < 1 || d.PerAccount.Every > time.Minute || d.PerAddr.Burst < d.PerAccount.Burst || d.MaxEntries < 1000 {
		t.Fatalf("DefaultFailureLimits = %+v: not a sensible default", d)
	}
	for range d.PerAccount.Burst {
		wantLogin(t, a, context.Background(), "ann@example.com", "wrong password", linkapi.EUNAUTHENTICATED)
	}
	wantLogin(t, a, context.Background(), "ann@example.com", testPassword, linkapi.ERATELIMITED)
}

// TestFailureLimiterConcurrent checks that attempts running at once cannot
// overrun a bucket: each takes its try before its password is checked.
func TestFailureLimiterConcurrent(t *testing.T) {
	l := NewFailureLimiter(FailureLimits{PerAccount: Bucket{Burst: 3, Every: time.Hour}, MaxEntries: 10})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 50 {
		wg.Go(func() {
			if done, _, ok := l.Begin("ann@example.com", ""); ok {
				defer done(true)
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 3 {
		t.Errorf("%d of 50 concurrent attempts allowed, want 3", allowed)
	}
}

// TestFailureLimiterMemoryBounded checks that the buckets kept never pass
// MaxEntries, however many emails and addresses fail, and that buckets that have
// filled up again are let go.
func TestFailureLimiterMemoryBounded(t *testing.T) {
	clk := &clock{now: testNow}
	l := NewFailureLimiter(FailureLimits{
		PerAccount: Bucket{Burst: 2, Every: time.Second},
		PerAddr:    Bucket{Burst: 2, Every: time.Second},
		MaxEntries: 100,
	})
	l.Now = clk.Now
	for i := range 10_000 {
		email := fmt.Sprintf("user%d@example.com%s", i, strings.Repeat("x", i%500))
		if done, _, ok := l.Begin(email, fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)); ok {
			done(true)
		}
		if accounts, addrs := l.Len(); accounts > 100 || addrs > 100 {
			t.Fatalf("after %d failures: %d account and %d address buckets, want at most 100", i+1, accounts, addrs)
		}
	}
	// Once every bucket has refilled, new attempts sweep the old ones away.
	clk.Advance(time.Minute)
	for i := range 200 {
		if done, _, ok := l.Begin(fmt.Sprintf("late%d@example.com", i), ""); ok {
			done(false)
		}
	}
	if accounts, addrs := l.Len(); accounts > 0 || addrs > 100 {
		t.Errorf("after refilling: %d account and %d address buckets, want 0 account buckets", accounts, addrs)
	}
	// A success gives its try back and drops the bucket it filled.
	done, _, _ := l.Begin("ann@example.com", "192.0.2.1")
	done(false)
	if accounts, _ := l.Len(); accounts != 0 {
		t.Errorf("after one success: %d account buckets, want 0", accounts)
	}
}

// TestFailureLimitsOff checks that a Bucket with Burst 0 limits nothing.
func TestFailureLimitsOff(t *testing.T) {
	l := NewFailureLimiter(FailureLimits{})
	for range 1000 {
		done, _, ok := l.Begin("ann@example.com", "192.0.2.1")
		if !ok {
			t.Fatal("a limiter without limits refused an attempt")
		}
		done(true)
	}
	var nilLimiter *FailureLimiter
	if _, _, ok := nilLimiter.Begin("ann@example.com", ""); !ok {
		t.Error("a nil limiter refused an attempt")
	}
}

// TestHashingLimiterRetryAfter checks that a login refused because every hashing
// slot stays busy is RATE_LIMITED with a retry-after.
func TestHashingLimiterRetryAfter(t *testing.T) {
	l := NewLimiter(1, 10*time.Millisecond)
	l.slots <- struct{}{}
	err := l.Do(context.Background(), func() {})
	if linkapi.ErrorCode(err) != linkapi.ERATELIMITED || linkapi.RetryAfter(err) < time.Second {
		t.Errorf("Do with every slot busy = %v (retry after %v), want RATE_LIMITED with a retry-after", err, linkapi.RetryAfter(err))
	}
}

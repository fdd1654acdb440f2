package redis

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/redis/redistest"
)

// logBuffer is a log safe for the Client's goroutines to write.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// open connects a Client to srv for the test, with its log.
func open(t *testing.T, srv *redistest.Server) (*Client, *logBuffer) {
	t.Helper()
	log := &logBuffer{}
	c, err := Open(context.Background(), srv.URL, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !c.Up() {
		t.Fatalf("client is down on a running server; log:\n%s", log)
	}
	return c, log
}

// waitFor polls cond every 10ms for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hourly allows burst failures per account and then one an hour, so that no
// refill happens during a test; addresses are limited more loosely.
func hourly(burst int) auth.FailureLimits {
	return auth.FailureLimits{
		PerAccount: auth.Bucket{Burst: burst, Every: time.Hour},
		PerAddr:    auth.Bucket{Burst: 100, Every: time.Hour},
		MaxEntries: 100,
	}
}

// fail spends one attempt of l as a wrong password, reporting whether it was let in.
func fail(l auth.FailureGuard, email, addr string) (bool, time.Duration) {
	done, wait, ok := l.Attempt(context.Background(), email, addr)
	if ok {
		done(true)
	}
	return ok, wait
}

// TestFailuresSharedBetweenInstances checks that two limiters on one Redis,
// as two instances have, share one allowance: failures spread across both are
// refused once their sum reaches the burst.
func TestFailuresSharedBetweenInstances(t *testing.T) {
	srv := redistest.Start(t)
	c1, _ := open(t, srv)
	c2, _ := open(t, srv)
	l1, l2 := NewFailureLimiter(c1, hourly(10)), NewFailureLimiter(c2, hourly(10))
	for i := range 10 {
		l := []*FailureLimiter{l1, l2}[i%2]
		if ok, _ := fail(l, "ann@example.com", "192.0.2.1"); !ok {
			t.Fatalf("failure %d refused, want allowed", i+1)
		}
	}
	for i, l := range []*FailureLimiter{l1, l2} {
		ok, wait := fail(l, "ann@example.com", "192.0.2.1")
		if ok {
			t.Fatalf("11th failure through instance %d allowed, want refused", i+1)
		}
		if wait < 59*time.Minute || wait > time.Hour {
			t.Errorf("instance %d: retry after %s, want about an hour", i+1, wait)
		}
	}
	// Another email is not affected.
	if ok, _ := fail(l2, "bob@example.com", "192.0.2.1"); !ok {
		t.Error("bob's first failure refused")
	}
}

// TestCorrectLoginsSpendNothing checks that attempts that end well give their
// share back in Redis, including the refund to a bucket that one attempt had
// just left full, which redis_rate's negative AllowN would lose.
func TestCorrectLoginsSpendNothing(t *testing.T) {
	srv := redistest.Start(t)
	c, _ := open(t, srv)
	l := NewFailureLimiter(c, hourly(3))
	key := rateKeyPrefix + failureKey("account", "ann@example.com")

	done, _, ok := l.Attempt(context.Background(), "ann@example.com", "")
	if !ok {
		t.Fatal("first attempt refused")
	}
	if n, _ := srv.Do("EXISTS", key); strings.TrimSpace(n) != ":1" {
		t.Fatalf("EXISTS %s during the attempt: got %q, want :1", key, n)
	}
	done(false)
	if n, _ := srv.Do("EXISTS", key); strings.TrimSpace(n) != ":0" {
		t.Fatalf("EXISTS after a good login: got %q, want :0 (the bucket is full again)", n)
	}

	for range 2 {
		fail(l, "ann@example.com", "")
	}
	for range 20 {
		done, _, ok := l.Attempt(context.Background(), "ann@example.com", "")
		if !ok {
			t.Fatal("a correct login was refused after 2 failures of 3")
		}
		done(false)
	}
	if ok, _ := fail(l, "ann@example.com", ""); !ok {
		t.Fatal("third failure refused after 20 correct logins")
	}
	if ok, _ := fail(l, "ann@example.com", ""); ok {
		t.Fatal("fourth failure allowed, want refused")
	}
}

// TestFailuresAddressBucketRefusedGivesAccountBack checks that an attempt the
// address bucket refuses takes nothing from the account's.
func TestFailuresAddressBucketRefusedGivesAccountBack(t *testing.T) {
	srv := redistest.Start(t)
	c, _ := open(t, srv)
	limits := hourly(3)
	limits.PerAddr = auth.Bucket{Burst: 2, Every: time.Hour}
	l := NewFailureLimiter(c, limits)
	other := NewFailureLimiter(c, limits) // another instance, whose local buckets saw nothing
	fail(l, "x@example.com", "192.0.2.9")
	fail(l, "y@example.com", "192.0.2.9")
	if ok, _ := fail(other, "ann@example.com", "192.0.2.9"); ok {
		t.Fatal("third failure from one address allowed, want refused")
	}
	for i := range 3 {
		if ok, _ := fail(other, "ann@example.com", fmt.Sprintf("198.51.100.%d", i+1)); !ok {
			t.Fatalf("ann's failure %d from another address refused: the refused attempt spent her allowance", i+1)
		}
	}
	if ok, _ := fail(other, "ann@example.com", "198.51.100.9"); ok {
		t.Error("ann's fourth failure allowed, want refused")
	}
}

// TestFailuresFallBackWhileRedisIsDown stops Redis: attempts go on against the
// local buckets, which still limit, the gauge says so, and once Redis is back
// the shared buckets count again.
func TestFailuresFallBackWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	c, log := open(t, srv)
	l := NewFailureLimiter(c, hourly(4))
	other, _ := open(t, srv)
	lo := NewFailureLimiter(other, hourly(4))

	fail(l, "ann@example.com", "")
	srv.Stop()
	for i := range 3 {
		if ok, _ := fail(l, "ann@example.com", ""); !ok {
			t.Fatalf("failure %d with Redis down refused, want allowed by the local buckets", i+2)
		}
	}
	if c.Up() {
		t.Fatal("client up after a failed command")
	}
	if ok, _ := fail(l, "ann@example.com", ""); ok {
		t.Fatal("fifth failure with Redis down allowed: the local buckets do not limit")
	}
	if n := strings.Count(log.String(), "redis stopped answering"); n != 1 {
		t.Errorf("log says redis stopped answering %d times, want once:\n%s", n, log)
	}
	if got := gauge(t, c); got != 1 {
		t.Errorf("linkapi_redis_fallback = %v while down, want 1", got)
	}

	srv.Restart() // empty: the shared count starts over
	waitFor(t, "client up again", c.Up)
	waitFor(t, "other client up again", other.Up)
	if got := gauge(t, c); got != 0 {
		t.Errorf("linkapi_redis_fallback = %v after recovery, want 0", got)
	}
	if !strings.Contains(log.String(), "redis answers again") {
		t.Errorf("log does not say redis answers again:\n%s", log)
	}
	for i := range 4 {
		if ok, _ := fail(lo, "bob@example.com", ""); !ok {
			t.Fatalf("bob's failure %d refused", i+1)
		}
	}
	if ok, _ := fail(l, "bob@example.com", ""); ok {
		t.Fatal("bob's fifth failure, through the other instance, allowed: not shared after recovery")
	}
}

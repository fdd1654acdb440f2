package auth

import (
	"context"
	"testing"
	"time"

	"linkapi/internal/linkapi"
)

func TestLimiterRefusesWhenFullAndRecovers(t *testing.T) {
	l := NewLimiter(1, 20*time.Millisecond)
	release, started := make(chan struct{}), make(chan struct{})
	go l.Do(context.Background(), func() { close(started); <-release })
	<-started

	ran := false
	err := l.Do(context.Background(), func() { ran = true })
	if got := linkapi.ErrorCode(err); got != linkapi.ERATELIMITED || ran {
		t.Fatalf("with the slot taken: got %q, ran=%v; want RATE_LIMITED, not run", got, ran)
	}
	close(release)
	if err := l.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("after release: got %v, ran=%v; want it to run", err, ran)
	}
}

func TestLimiterGivesUpWithTheRequest(t *testing.T) {
	l := NewLimiter(1, time.Hour)
	release, started := make(chan struct{}), make(chan struct{})
	defer close(release)
	go l.Do(context.Background(), func() { close(started); <-release })
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Do(ctx, func() {}); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestLoginIsRateLimitedWhenHashingIsBusy(t *testing.T) {
	a, _ := newTestAuthenticator(t)
	a.Hashing = NewLimiter(1, 20*time.Millisecond)
	release, started := make(chan struct{}), make(chan struct{})
	go a.Hashing.Do(context.Background(), func() { close(started); <-release })
	<-started
	defer close(release)
	for _, email := range []string{"ann@example.com", "nobody@example.com"} {
		_, err := a.Login(context.Background(), email, testPassword, nil)
		if got := linkapi.ErrorCode(err); got != linkapi.ERATELIMITED {
			t.Errorf("%s: got %q, want RATE_LIMITED", email, got)
		}
	}
}

// TestConcurrentGoodLoginsSpendNoAllowance runs more correct logins at once from
// one address than its failure allowance: queued logins must not hold shares of
// it, so all of them succeed.
func TestConcurrentGoodLoginsSpendNoAllowance(t *testing.T) {
	a, _ := newTestAuthenticator(t)
	a.Hashing = NewLimiter(2, time.Minute)
	a.Failures = NewFailureLimiter(FailureLimits{
		PerAccount: Bucket{Burst: 3, Every: time.Hour},
		PerAddr:    Bucket{Burst: 3, Every: time.Hour},
		MaxEntries: 100,
	})
	ctx := WithClientAddr(context.Background(), "192.0.2.1")
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := a.Login(ctx, "ann@example.com", testPassword, nil)
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Errorf("a correct login: got %v (%s), want a token", err, linkapi.ErrorCode(err))
		}
	}
}

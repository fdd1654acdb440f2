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

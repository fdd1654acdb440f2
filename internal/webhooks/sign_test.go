package webhooks

import (
	"strings"
	"testing"
	"time"
)

// TestSignMatchesTheSpecificationsVector signs the example of the Standard
// Webhooks specification and its reference libraries.
func TestSignMatchesTheSpecificationsVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

func TestSignRefusesABadSecret(t *testing.T) {
	for _, s := range []string{"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!"} {
		if _, err := Sign(s, "msg_1", time.Unix(1, 0), nil); err == nil {
			t.Errorf("Sign with secret %q: no error", s)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if !strings.HasPrefix(a, "whsec_") || a == b || len(a) != len("whsec_")+32 {
		t.Errorf("secrets %q and %q: want two different whsec_ and 32 base64 characters", a, b)
	}
	if _, err := Sign(a, "msg_1", time.Unix(1, 0), nil); err != nil {
		t.Errorf("signing with a new secret: %v", err)
	}
}

// TestDelay doubles the backoff up to its cap; jitter keeps each wait between
// half of it and all of it.
func TestDelay(t *testing.T) {
	w := NewWorker(nil, Config{Backoff: time.Second, MaxBackoff: 10 * time.Second})
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 40: 10 * time.Second} {
		if got := w.Delay(n); got != want {
			t.Errorf("Delay(%d) = %s, want %s", n, got, want)
		}
	}
	for i := 0; i < 1000; i++ {
		if j := jitter(time.Second); j < time.Second/2 || j > time.Second {
			t.Fatalf("jitter(1s) = %s, want between 500ms and 1s", j)
		}
	}
}

package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"linkapi/internal/linkapi"
	"linkapi/internal/safehttp"
)

// Outbox is what the worker needs of the store.
type Outbox interface {
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*linkapi.OutboundDelivery, error)
	RecordAttempt(ctx context.Context, id int64, a linkapi.DeliveryAttempt) error
	ReleaseDelivery(ctx context.Context, id int64, at time.Time) error
	PruneDeliveries(ctx context.Context, now time.Time) (int64, error)
}

// Defaults of a Worker.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 8
	DefaultBackoff     = 30 * time.Second
	DefaultMaxBackoff  = 6 * time.Hour
	DefaultPoll        = time.Second
	DefaultConcurrency = 8
	// leaseMargin is how long past an attempt's timeout a delivery stays taken,
	// for the attempt's outcome to be written.
	leaseMargin = 30 * time.Second
	// maxResponse is how much of a receiver's answer is read.
	maxResponse = 64 << 10
	pruneEvery  = time.Hour
)

// Config configures a Worker; zero fields take the defaults.
type Config struct {
	// Net configures the guarded client. Production leaves it zero.
	Net safehttp.Options
	// Timeout bounds each attempt, from dialling to the end of the answer.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of a delivery, the first included.
	MaxAttempts int
	// Backoff is the delay after the first failed attempt; each next one
	// doubles it, up to MaxBackoff, and each is jittered: a random delay
	// between half of it and all of it.
	Backoff, MaxBackoff time.Duration
	// Poll is how often the outbox is read while it has nothing due.
	Poll time.Duration
	// Concurrency is how many deliveries are sent at once: a slow receiver
	// holds one of them, at most Timeout per attempt.
	Concurrency int
	// Now is the clock deliveries are timed by; nil means time.Now.
	Now func() time.Time
	// Logger logs failed attempts; nil discards them.
	Logger *slog.Logger
}

// Worker sends the outbox's deliveries.
type Worker struct {
	outbox Outbox
	cfg    Config
	client *http.Client
	// recordFor is how long a failed write of an attempt is tried again.
	recordFor time.Duration
}

// NewWorker returns a worker on outbox.
func NewWorker(outbox Outbox, cfg Config) *Worker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client := safehttp.NewClient(cfg.Net)
	// A redirect is not followed: a receiver answers where it was registered,
	// and a POST redirected by 301 or 302 would lose its body. It counts as a
	// failed attempt with its status.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Worker{outbox: outbox, cfg: cfg, client: client, recordFor: leaseMargin / 2}
}

// Delay returns the wait after failed attempt n (1 for the first), before
// jitter: Backoff doubled n-1 times, at most MaxBackoff.
func (w *Worker) Delay(n int) time.Duration {
	d := w.cfg.Backoff
	for i := 1; i < n && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}

// jitter returns a random duration between d/2 and d.
func jitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d-d/2)
}

// workerKey marks the contexts of a worker's statements.
type workerKey struct{}

// InWorker reports whether ctx is a worker's: its statements read and write the
// outbox on their own schedule, not for any request (tests that count a
// request's statements leave them out).
func InWorker(ctx context.Context) bool { return ctx.Value(workerKey{}) != nil }

// Run sends deliveries until ctx ends, then waits for the attempts under way,
// which ctx's end cancels: a cancelled attempt is given back to the outbox,
// due at once, without counting as an attempt, so that the next start (of this
// instance or another) sends it. It returns nil once stopped.
func (w *Worker) Run(ctx context.Context) error {
	ctx = context.WithValue(ctx, workerKey{}, true)
	slots := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	lastPrune := time.Time{}
	for ctx.Err() == nil {
		now := w.cfg.Now()
		if now.Sub(lastPrune) >= pruneEvery {
			if _, err := w.outbox.PruneDeliveries(ctx, now); err != nil && ctx.Err() == nil {
				w.cfg.Logger.Warn("webhooks: pruning the delivery log", "error", err)
			}
			lastPrune = now
		}
		free := cap(slots) - len(slots)
		var due []*linkapi.OutboundDelivery
		if free > 0 {
			var err error
			due, err = w.outbox.ClaimDeliveries(ctx, now, w.cfg.Timeout+leaseMargin, free)
			if err != nil && ctx.Err() == nil {
				w.cfg.Logger.Warn("webhooks: reading the outbox", "error", err)
			}
		}
		for _, d := range due {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				w.deliver(ctx, d)
			}()
		}
		if len(due) > 0 && len(due) == free {
			continue // more may be due: read again as slots free up
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.cfg.Poll):
		}
	}
	return nil
}

// deliver makes one attempt of d and records it.
func (w *Worker) deliver(ctx context.Context, d *linkapi.OutboundDelivery) {
	at := w.cfg.Now()
	status, err := w.send(ctx, d, at)
	if ctx.Err() != nil {
		// Stopped mid-attempt: whatever the receiver saw, the event is sent
		// again after the restart (at least once).
		if err := w.outbox.ReleaseDelivery(context.WithoutCancel(ctx), d.ID, at); err != nil {
			w.cfg.Logger.Warn("webhooks: giving back a delivery", "delivery", d.ID, "error", err)
		}
		return
	}
	a := linkapi.DeliveryAttempt{At: at, Status: status}
	switch {
	case err == nil && status >= 200 && status < 300:
		a.Delivered = true
	default:
		a.Error = describe(status, err, w.cfg.Timeout)
		n := d.Attempts + 1
		// A refused address is not tried again: it is the receiver's
		// configuration, and a retry would only knock again.
		if n < w.cfg.MaxAttempts && !errors.Is(err, safehttp.ErrRefused) {
			next := w.cfg.Now().Add(jitter(w.Delay(n)))
			a.Retry = &next
		}
		w.cfg.Logger.Info("webhooks: attempt failed", "delivery", d.ID, "webhook", d.WebhookID,
			"attempt", n, "status", status, "error", a.Error, "retry", a.Retry != nil)
	}
	w.record(ctx, d.ID, a)
}

// Recording an attempt that failed is tried again, after recordRetry doubled
// each time up to recordRetryMax, for up to half of leaseMargin: the outcome
// not written, the delivery would be sent again once its lease ends, although
// the receiver may have accepted it.
const (
	recordRetry    = 50 * time.Millisecond
	recordRetryMax = 2 * time.Second
)

// record writes attempt a of delivery id, trying again while the lease lasts.
// The worker's end does not stop it, only its waits: the receiver has seen the
// attempt.
func (w *Worker) record(ctx context.Context, id int64, a linkapi.DeliveryAttempt) {
	deadline := time.Now().Add(w.recordFor)
	wait := recordRetry
	for n := 1; ; n++ {
		err := w.outbox.RecordAttempt(context.WithoutCancel(ctx), id, a)
		if err == nil {
			return
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			w.cfg.Logger.Warn("webhooks: recording an attempt; the delivery is sent again once its lease ends",
				"delivery", id, "tries", n, "error", err)
			return
		}
		w.cfg.Logger.Info("webhooks: recording an attempt failed; trying again", "delivery", id, "try", n, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, recordRetryMax)
	}
}

// send posts d, signed at at, and returns the receiver's status.
func (w *Worker) send(ctx context.Context, d *linkapi.OutboundDelivery, at time.Time) (int, error) {
	sig, err := Sign(d.Secret, d.MessageID, at, d.Payload)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytesReader(d.Payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", d.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	res, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	// The answer counts once it has been read: a receiver that answers
	// headers and then stalls times out like one that never answers.
	if _, err := io.Copy(io.Discard, io.LimitReader(res.Body, maxResponse)); err != nil {
		return res.StatusCode, err
	}
	return res.StatusCode, nil
}

// describe says why an attempt failed, for the delivery log.
func describe(status int, err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", timeout)
	case err != nil:
		return err.Error()
	case status >= 300 && status < 400:
		return fmt.Sprintf("HTTP %d: redirects are not followed", status)
	default:
		return fmt.Sprintf("HTTP %d", status)
	}
}

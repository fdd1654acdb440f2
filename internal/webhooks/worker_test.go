package webhooks

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/linkapi"
)

// failingOutbox fails every RecordAttempt after the first fails of them,
// counting the tries.
type failingOutbox struct {
	Outbox
	mu    sync.Mutex
	tries int
	fails int
	got   []linkapi.DeliveryAttempt
}

func (o *failingOutbox) RecordAttempt(_ context.Context, _ int64, a linkapi.DeliveryAttempt) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tries++
	if o.fails < 0 || o.tries <= o.fails {
		return errors.New("Error 1213: Deadlock found when trying to get lock")
	}
	o.got = append(o.got, a)
	return nil
}

// TestRecordTriesAgain: a write of an attempt's outcome that fails is tried
// again until it succeeds, and given up, with a warning, once the time for it
// has passed, so that the lease still covers the tries.
func TestRecordTriesAgain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fails     int
		wantSaved bool
		stopped   bool
	}{
		{"succeeds on the third try", 2, true, false},
		{"never succeeds", -1, false, false},
		{"worker stopped", -1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			o := &failingOutbox{fails: tc.fails}
			w := NewWorker(o, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			w.recordFor = 300 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			if tc.stopped {
				cancel() // a stopped worker tries once and leaves the rest to the lease
			}
			defer cancel()
			w.record(ctx, 7, linkapi.DeliveryAttempt{At: time.Now(), Status: 200, Delivered: true})
			if tc.wantSaved {
				if o.tries != 3 || len(o.got) != 1 || !o.got[0].Delivered {
					t.Errorf("%d tries, recorded %+v; want the attempt recorded on the third try", o.tries, o.got)
				}
				if strings.Contains(log.String(), "level=WARN") {
					t.Errorf("warned although the attempt was recorded:\n%s", log.String())
				}
				return
			}
			if tc.stopped && o.tries != 1 || !tc.stopped && o.tries < 2 || len(o.got) != 0 {
				t.Errorf("%d tries, recorded %+v; want nothing recorded, after one try if stopped, several if not", o.tries, o.got)
			}
			if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "sent again once its lease ends") {
				t.Errorf("no warning that the delivery is sent again:\n%s", log.String())
			}
		})
	}
}

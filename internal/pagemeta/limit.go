package pagemeta

import (
	"context"
	"errors"
	"sync"
)

// ErrBusy is returned by a Limit fetcher when a fetch would take its caller, or
// the server, past the number of fetches allowed in flight at once.
var ErrBusy = errors.New("pagemeta: too many pages are being fetched at once")

// Default limits of fetches in flight.
const (
	DefaultPerCaller = 2
	DefaultTotal     = 16
)

// Limits bound the fetches in flight: PerCaller for one caller (one key), Total
// for the whole server. A value below 1 takes its default.
type Limits struct {
	PerCaller, Total int
}

// Limit returns a Fetcher that fetches through f at most l.PerCaller pages at
// once for each key (key(ctx) names the caller) and l.Total in all, and answers
// ErrBusy at once, without a request, past either: a caller that asks for many
// pages in parallel cannot make the server fan out, nor hold its requests in a
// queue.
func Limit(f Fetcher, l Limits, key func(context.Context) string) Fetcher {
	if l.PerCaller < 1 {
		l.PerCaller = DefaultPerCaller
	}
	if l.Total < 1 {
		l.Total = DefaultTotal
	}
	return &limited{next: f, limits: l, key: key, inFlight: map[string]int{}}
}

type limited struct {
	next   Fetcher
	limits Limits
	key    func(context.Context) string

	mu       sync.Mutex
	total    int
	inFlight map[string]int
}

func (l *limited) Fetch(ctx context.Context, url string) (Page, error) {
	k := l.key(ctx)
	if !l.acquire(k) {
		return Page{}, ErrBusy
	}
	defer l.release(k)
	return l.next.Fetch(ctx, url)
}

func (l *limited) acquire(k string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.limits.Total || l.inFlight[k] >= l.limits.PerCaller {
		return false
	}
	l.total++
	l.inFlight[k]++
	return true
}

func (l *limited) release(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.inFlight[k]--; l.inFlight[k] == 0 {
		delete(l.inFlight, k)
	}
}

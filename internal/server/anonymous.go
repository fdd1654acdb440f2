package server

import (
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"linkapi/internal/auth"
)

// AnonymousLimits bound the GraphQL requests without a bearer token that run at
// once. Such a request can reach only login and introspection, but it pays for
// parsing and validation like any other, so without a bound one client address,
// or a crowd of them, could keep every core busy. A request past a bound waits up
// to Wait for a slot and is then refused with 429 and RATE_LIMITED.
type AnonymousLimits struct {
	// Total bounds the anonymous requests in flight across every address; 0 or
	// less means no bound.
	Total int
	// PerAddr bounds those of one client address (an IPv6 client by its /64, as
	// auth.AddrGroup groups them); 0 or less means no bound.
	PerAddr int
	// Wait is how long a request may wait for a slot before it is refused.
	Wait time.Duration
}

// DefaultAnonymousLimits leaves at least half the CPUs to authenticated work:
// anonymous requests may run on one CPU in two (at least one request), one client
// address on half of those (at least one), and a request waits at most a second
// for its turn.
func DefaultAnonymousLimits() AnonymousLimits {
	total := max(1, runtime.GOMAXPROCS(0)/2)
	return AnonymousLimits{Total: total, PerAddr: max(1, total/2), Wait: time.Second}
}

// anonLimiter enforces AnonymousLimits. It counts requests in flight in total
// and by address group; a group is kept only while it has a request in flight,
// so the map holds no more entries than there are requests in flight (at most
// Total), however many addresses call.
// Waiting requests are not in the map; at most maxWaiting of them wait at once,
// and the rest are refused at once.
type anonLimiter struct {
	limits     AnonymousLimits
	maxWaiting int

	mu       sync.Mutex
	inFlight int
	byGroup  map[string]int
	waiting  int
	// freed is closed, and replaced, whenever a slot is released, waking the
	// waiting requests to try again.
	freed chan struct{}
}

// waitersPerSlot bounds the requests waiting for a slot, per slot of Total, so
// that a release wakes a bounded crowd.
const waitersPerSlot = 8

func newAnonLimiter(l AnonymousLimits) *anonLimiter {
	maxWaiting := 64
	if l.Total > 0 {
		maxWaiting = waitersPerSlot * l.Total
	}
	return &anonLimiter{limits: l, maxWaiting: maxWaiting, byGroup: map[string]int{}, freed: make(chan struct{})}
}

// off reports whether the limits bound nothing.
func (l *anonLimiter) off() bool { return l.limits.Total <= 0 && l.limits.PerAddr <= 0 }

// tryTake takes a slot for group if both bounds allow one; l.mu must be held.
func (l *anonLimiter) tryTake(group string) bool {
	if l.limits.Total > 0 && l.inFlight >= l.limits.Total {
		return false
	}
	if l.limits.PerAddr > 0 && l.byGroup[group] >= l.limits.PerAddr {
		return false
	}
	l.inFlight++
	l.byGroup[group]++
	return true
}

func (l *anonLimiter) release(group string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if l.byGroup[group]--; l.byGroup[group] <= 0 {
		delete(l.byGroup, group)
	}
	close(l.freed)
	l.freed = make(chan struct{})
}

// acquire takes a slot for group, waiting up to the limits' Wait for one, and
// returns its release; ok is false when no slot freed up in time, or when the
// request's client went away (done closed) while it waited.
func (l *anonLimiter) acquire(done <-chan struct{}, group string) (release func(), ok bool) {
	var timer *time.Timer
	l.mu.Lock()
	for {
		if l.tryTake(group) {
			l.mu.Unlock()
			return func() { l.release(group) }, true
		}
		if l.limits.Wait <= 0 || (timer == nil && l.waiting >= l.maxWaiting) {
			l.mu.Unlock()
			return nil, false
		}
		if timer == nil {
			timer = time.NewTimer(l.limits.Wait)
			defer timer.Stop()
			l.waiting++
			defer func() {
				l.mu.Lock()
				l.waiting--
				l.mu.Unlock()
			}()
		}
		freed := l.freed
		l.mu.Unlock()
		select {
		case <-freed:
		case <-timer.C:
			return nil, false
		case <-done:
			return nil, false
		}
		l.mu.Lock()
	}
}

// retryAfter is the Retry-After of a refusal, in whole seconds, at least one.
func (l *anonLimiter) retryAfter() int64 {
	return max(1, int64(math.Ceil(l.limits.Wait.Seconds())))
}

// len returns the number of address groups kept, for tests.
func (l *anonLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byGroup)
}

// limitAnonymous runs a request without a caller (authenticate has let it through
// without a token) in a slot of l, and refuses it with 429, Retry-After and
// RATE_LIMITED when none frees up in time. Requests with a caller pass untouched.
// The slot is held until next returns: a request whose client hangs up keeps it
// until its work stops, so that hanging up cannot escape the bound.
func limitAnonymous(l *anonLimiter, next http.Handler) http.Handler {
	if l.off() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.FromContext(r.Context()) != nil {
			next.ServeHTTP(w, r)
			return
		}
		release, ok := l.acquire(r.Context().Done(), auth.AddrGroup(auth.ClientAddr(r.Context())))
		if !ok {
			tooManyAnonymous(w, r, l.retryAfter())
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

func tooManyAnonymous(w http.ResponseWriter, r *http.Request, retryAfter int64) {
	w.Header().Set("Retry-After", strconv.FormatInt(retryAfter, 10))
	writeGraphQLErrorWith(w, r, http.StatusTooManyRequests,
		"too many requests without a token at once; try again shortly, or send a bearer token",
		map[string]any{"code": "RATE_LIMITED", "retryAfter": retryAfter})
}

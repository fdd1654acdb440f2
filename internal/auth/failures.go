package auth

import (
	"container/list"
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// Bucket is a token bucket of failed logins: Burst failures at once, and one
// more each Every after that. A Bucket with Burst 0 or less limits nothing.
type Bucket struct {
	Burst int
	Every time.Duration
}

func (b Bucket) off() bool { return b.Burst <= 0 || b.Every <= 0 }

// FailureLimits are the limits on failed logins a FailureLimiter enforces.
type FailureLimits struct {
	// PerAccount limits failures against one email address, whoever tries, so
	// that a password cannot be guessed quickly from many addresses. Its Every
	// is the longest a victim of such guessing waits for one more try once the
	// guessing stops.
	PerAccount Bucket
	// PerAddr limits failures from one client address (an IPv6 client by its
	// /64), across every email, against credential stuffing.
	PerAddr Bucket
	// MaxEntries bounds the buckets kept of each kind; past it the least
	// recently used is forgotten. Buckets that have filled up again are dropped
	// as they are met, so the bound is reached only under attack.
	MaxEntries int
}

// DefaultFailureLimits allows 10 failed logins per account and then one every 30
// seconds, 50 per client address and then one every 5 seconds, and keeps at most
// 50,000 buckets of each kind (a few MiB).
func DefaultFailureLimits() FailureLimits {
	return FailureLimits{
		PerAccount: Bucket{Burst: 10, Every: 30 * time.Second},
		PerAddr:    Bucket{Burst: 50, Every: 5 * time.Second},
		MaxEntries: 50_000,
	}
}

// FailureGuard spends and gives back failed-login attempts. FailureLimiter keeps
// them in this process; internal/redis shares them between instances.
type FailureGuard interface {
	// Attempt takes one attempt for account (a normalised email) and addr (a
	// client address, or "" for none), as FailureLimiter.Begin does.
	Attempt(ctx context.Context, account, addr string) (done func(failed bool), retryAfter time.Duration, ok bool)
}

// FailureLimiter limits failed logins per account and per client address with
// token buckets. Only failures spend: Begin takes an attempt up front, so that
// concurrent guesses cannot overrun the bucket, and the attempt is given back
// unless the password turns out wrong.
type FailureLimiter struct {
	mu       sync.Mutex
	accounts *buckets
	addrs    *buckets

	// Now returns the current time; tests replace it. It defaults to time.Now.
	Now func() time.Time
}

// NewFailureLimiter returns a FailureLimiter enforcing limits.
func NewFailureLimiter(limits FailureLimits) *FailureLimiter {
	n := max(limits.MaxEntries, 1)
	return &FailureLimiter{
		accounts: newBuckets(limits.PerAccount, n),
		addrs:    newBuckets(limits.PerAddr, n),
		Now:      time.Now,
	}
}

func (l *FailureLimiter) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// Begin takes one attempt from the bucket of account (a normalised email) and
// from that of addr (a client address, or "" for none). When either is empty it
// takes nothing and returns ok false and how long until both hold an attempt
// again. Otherwise the caller must call done exactly once, with failed true when
// the password was wrong: a failure keeps the attempt spent, anything else gives
// it back.
func (l *FailureLimiter) Begin(account, addr string) (done func(failed bool), retryAfter time.Duration, ok bool) {
	if l == nil {
		return func(bool) {}, 0, true
	}
	accKey := bucketKey("account", account)
	addrKey := ""
	if addr != "" {
		addrKey = bucketKey("addr", AddrGroup(addr))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := l.accounts.wait(accKey, now)
	if addrKey != "" {
		wait = max(wait, l.addrs.wait(addrKey, now))
	}
	if wait > 0 {
		return nil, wait, false
	}
	l.accounts.take(accKey, now)
	if addrKey != "" {
		l.addrs.take(addrKey, now)
	}
	return func(failed bool) {
		if failed {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		now := l.now()
		l.accounts.give(accKey, now)
		if addrKey != "" {
			l.addrs.give(addrKey, now)
		}
	}, 0, true
}

// Attempt is Begin, as a FailureGuard.
func (l *FailureLimiter) Attempt(_ context.Context, account, addr string) (done func(failed bool), retryAfter time.Duration, ok bool) {
	return l.Begin(account, addr)
}

// Len returns the number of account and address buckets kept, for tests.
func (l *FailureLimiter) Len() (accounts, addrs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accounts.byKey), len(l.addrs.byKey)
}

// bucketKey hashes a key, so that every bucket costs the same memory however long
// the email or address a client sent.
func bucketKey(kind, s string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + s))
	return string(sum[:16])
}

// buckets is a map of token buckets by key with least-recently-used eviction.
// A key without a bucket has a full one.
type buckets struct {
	limit Bucket
	max   int
	byKey map[string]*list.Element // of *bucket
	lru   *list.List               // front: most recently used
}

type bucket struct {
	key    string
	tokens float64   // attempts left at the time at
	at     time.Time // when tokens was last brought up to date
}

func newBuckets(limit Bucket, n int) *buckets {
	return &buckets{limit: limit, max: n, byKey: map[string]*list.Element{}, lru: list.New()}
}

// refill brings b up to date at now and reports whether it is full again.
func (bs *buckets) refill(b *bucket, now time.Time) bool {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens += float64(elapsed) / float64(bs.limit.Every)
		b.at = now
	}
	if b.tokens >= float64(bs.limit.Burst) {
		b.tokens = float64(bs.limit.Burst)
		return true
	}
	return false
}

// wait returns how long until the bucket of key holds one attempt, 0 if it does.
func (bs *buckets) wait(key string, now time.Time) time.Duration {
	if bs.limit.off() {
		return 0
	}
	e, ok := bs.byKey[key]
	if !ok {
		return 0
	}
	b := e.Value.(*bucket)
	if bs.refill(b, now) {
		bs.remove(e)
		return 0
	}
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(bs.limit.Every))
}

// take spends one attempt of the bucket of key, making the bucket if need be.
func (bs *buckets) take(key string, now time.Time) {
	if bs.limit.off() {
		return
	}
	e, ok := bs.byKey[key]
	if !ok {
		bs.sweep(now)
		for len(bs.byKey) >= bs.max {
			bs.remove(bs.lru.Back())
		}
		e = bs.lru.PushFront(&bucket{key: key, tokens: float64(bs.limit.Burst), at: now})
		bs.byKey[key] = e
	}
	b := e.Value.(*bucket)
	bs.refill(b, now)
	b.tokens--
	bs.lru.MoveToFront(e)
}

// give returns one attempt to the bucket of key, dropping it once full.
func (bs *buckets) give(key string, now time.Time) {
	if bs.limit.off() {
		return
	}
	e, ok := bs.byKey[key]
	if !ok {
		return // forgotten, so full already
	}
	b := e.Value.(*bucket)
	b.tokens++
	if bs.refill(b, now) {
		bs.remove(e)
	}
}

// sweep drops full buckets from the least recently used end, a few at a time.
func (bs *buckets) sweep(now time.Time) {
	for range 4 {
		e := bs.lru.Back()
		if e == nil || !bs.refill(e.Value.(*bucket), now) {
			return
		}
		bs.remove(e)
	}
}

func (bs *buckets) remove(e *list.Element) {
	bs.lru.Remove(e)
	delete(bs.byKey, e.Value.(*bucket).key)
}

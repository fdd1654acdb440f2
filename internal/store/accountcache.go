package store

import (
	"context"
	"sync"
	"time"

	"linkapi/internal/linkapi"
)

// AccountCacheTTL is how long the account read for a token is reused. Every
// authenticated request reads its account (for its current scopes, its password
// change time, and whether it still exists); linkbench measured `me` at 1.8x the
// throughput with one second of reuse. Changes made through this process drop the
// entry at once, and so do those of other instances told through AccountEvents;
// a change made elsewhere (the CLI, an instance without them) is seen within
// AccountCacheTTL.
const AccountCacheTTL = time.Second

// maxCachedAccounts bounds the cache; past it, it starts over.
const maxCachedAccounts = 10000

// accountCache keeps accounts read for authentication for a short while.
type accountCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[int64]cachedAccount
	// gen counts changes; a read that began before a change is not cached, or
	// it could put back what forget just dropped.
	gen uint64
}

// generation returns the change count, to pass to put.
func (c *accountCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

type cachedAccount struct {
	account *linkapi.Account
	expires time.Time
}

func (c *accountCache) get(id int64, now time.Time) *linkapi.Account {
	if c.ttl <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok && now.Before(e.expires) {
		return e.account
	}
	return nil
}

// put keeps a, read when the change count was gen, unless something changed since.
func (c *accountCache) put(a *linkapi.Account, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedAccounts {
		c.entries = make(map[int64]cachedAccount)
	}
	c.entries[a.ID] = cachedAccount{account: a, expires: now.Add(c.ttl)}
}

// AccountEvents carries the changes to accounts between instances, so that a
// scope change, a password change, an ended session or a deletion made through
// one instance ends the cached account on all of them.
type AccountEvents interface {
	// Changed tells the other instances that account id changed; it is called
	// once the change is committed, and must not block for long.
	Changed(ctx context.Context, id int64)
	// Listening reports whether the changes other instances make are being
	// heard. While it is false the store reuses no cached account, reading it
	// on every request instead, so a missed message can never keep a stale one.
	Listening() bool
}

// forgetAccount drops account id from the cache after a change to it, here and,
// through the AccountEvents, on every other instance.
func (s *Store) forgetAccount(ctx context.Context, id int64) {
	s.accounts.forget(id)
	if s.events != nil {
		s.events.Changed(ctx, id)
	}
}

// ForgetCachedAccount drops account id from this instance's cache, for a change
// another instance made.
func (s *Store) ForgetCachedAccount(id int64) { s.accounts.forget(id) }

// FlushCachedAccounts empties this instance's cache, when changes made
// elsewhere may have been missed.
func (s *Store) FlushCachedAccounts() { s.accounts.flush() }

// flush drops every account.
func (c *accountCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = nil
}

// forget drops an account, after a change to it.
func (c *accountCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}

package store

import (
	"context"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestAccountCache checks what the cache of accounts read for tokens may and may
// not hide: changes through the same store show at once, changes from elsewhere
// once the entry expires, and a zero TTL reads every time.
func TestAccountCache(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		const ttl = 200 * time.Millisecond
		clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s := NewWithAccountCache(db, ttl, WithClock(func() time.Time { return clock }))
		other := NewWithAccountCache(db, 0) // another process, say the CLI
		sys := auth.NewContext(context.Background(), auth.System())
		a, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		scopes := func(st *Store) string {
			t.Helper()
			got, err := st.FindAccountForToken(context.Background(), a.ID)
			if err != nil {
				return linkapi.ErrorCode(err)
			}
			return got.Scopes[0]
		}
		if got := scopes(s); got != auth.LinksWrite {
			t.Fatalf("first read: got %q", got)
		}
		// Through this store: seen at once.
		if _, err := s.SetAccountScopes(sys, a.ID, []string{auth.TagsRead}); err != nil {
			t.Fatal(err)
		}
		if got := scopes(s); got != auth.TagsRead {
			t.Errorf("after SetAccountScopes here: got %q, want tags:read", got)
		}
		// From elsewhere: hidden at most ttl.
		if _, err := other.SetAccountScopes(sys, a.ID, []string{auth.LinksRead}); err != nil {
			t.Fatal(err)
		}
		if got := scopes(other); got != auth.LinksRead {
			t.Errorf("a store without a cache: got %q, want links:read", got)
		}
		clock = clock.Add(ttl - time.Nanosecond)
		if got := scopes(s); got != auth.TagsRead {
			t.Errorf("just before the TTL: got %q, want the cached tags:read", got)
		}
		clock = clock.Add(time.Nanosecond)
		if got := scopes(s); got != auth.LinksRead {
			t.Errorf("after the TTL: got %q, want links:read", got)
		}
		// Deleting through this store ends the account at once.
		if err := s.DeleteAccount(sys, a.ID); err != nil {
			t.Fatal(err)
		}
		if got := scopes(s); got != linkapi.ENOTFOUND {
			t.Errorf("after DeleteAccount here: got %q, want NOT_FOUND", got)
		}
	})
}

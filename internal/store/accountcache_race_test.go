package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestAccountCacheReadRacingAChange pauses a token's account read until after
// SetAccountScopes has committed and dropped the entry: the read's old row must
// not be cached, or the old scopes would pass for the whole TTL.
func TestAccountCacheReadRacingAChange(t *testing.T) {
	db := dbtOpen(t, storetest.SQLiteURL(t))
	s := NewWithAccountCache(db, time.Hour) // long TTL to make the staleness obvious
	sys := auth.NewContext(context.Background(), auth.System())
	a, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1", Scopes: []string{auth.AdminWrite}})
	if err != nil {
		t.Fatal(err)
	}
	paused, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	db.orm.Callback().Query().After("gorm:query").Register("test:pause", func(tx *gorm.DB) {
		if tx.Statement.Table == "accounts" && tx.Statement.Context.Value(pauseKey{}) != nil {
			once.Do(func() { close(paused); <-resume })
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.FindAccountForToken(context.WithValue(context.Background(), pauseKey{}, 1), a.ID)
	}()
	<-paused
	if _, err := s.SetAccountScopes(sys, a.ID, []string{}); err != nil {
		t.Fatal(err)
	}
	close(resume)
	<-done
	got, _ := s.FindAccountForToken(context.Background(), a.ID)
	if len(got.Scopes) != 0 {
		t.Errorf("stale: account still has %v for the cache TTL", got.Scopes)
	}
}

type pauseKey struct{}

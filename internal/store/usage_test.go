package store

import (
	"testing"

	"gorm.io/gorm"

	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestUsageLocksFindNothingGone reads the counters of an account that exists and
// a link that exists, and answers NOT_FOUND for ones deleted after a write found
// them, as when another request deletes them first.
func TestUsageLocksFindNothingGone(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		account := dbtAccount(t, db, "ann@example.com")
		link := dbtLink(t, db, account, "https://example.com/")
		as := func(tx *gorm.DB, account int64) tenant { return tenant{db: tx, account: account} }
		err := db.orm.Transaction(func(tx *gorm.DB) error {
			u, err := s.lockUsage(as(tx, account))
			if err != nil {
				return err
			}
			if u.Usage != (linkapi.Usage{}) {
				t.Errorf("usage of an account the store never wrote to: got %+v, want zero", u.Usage)
			}
			_, err = lockLink(as(tx, account), link)
			return err
		})
		if err != nil {
			t.Fatalf("locking what exists: %v", err)
		}
		for name, lock := range map[string]func(tx *gorm.DB) error{
			"a deleted account": func(tx *gorm.DB) error { _, err := s.lockUsage(as(tx, account+1)); return err },
			"a deleted link": func(tx *gorm.DB) error {
				_, err := lockLink(as(tx, account), link+1)
				return err
			},
			"another's link": func(tx *gorm.DB) error {
				_, err := lockLink(as(tx, account+1), link)
				return err
			},
		} {
			if got := linkapi.ErrorCode(db.orm.Transaction(lock)); got != linkapi.ENOTFOUND {
				t.Errorf("locking %s: got %q, want NOT_FOUND", name, got)
			}
		}
	})
}

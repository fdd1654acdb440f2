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
		link := &linkRow{ID: dbtLink(t, db, account, "https://example.com/"), AccountID: account}
		err := db.orm.Transaction(func(tx *gorm.DB) error {
			u, err := s.lockUsage(tx, account)
			if err != nil {
				return err
			}
			if u.Usage != (linkapi.Usage{}) {
				t.Errorf("usage of an account the store never wrote to: got %+v, want zero", u.Usage)
			}
			_, err = lockLink(tx, link)
			return err
		})
		if err != nil {
			t.Fatalf("locking what exists: %v", err)
		}
		for name, lock := range map[string]func(tx *gorm.DB) error{
			"a deleted account": func(tx *gorm.DB) error { _, err := s.lockUsage(tx, account+1); return err },
			"a deleted link": func(tx *gorm.DB) error {
				_, err := lockLink(tx, &linkRow{ID: link.ID + 1, AccountID: account})
				return err
			},
			"another's link": func(tx *gorm.DB) error {
				_, err := lockLink(tx, &linkRow{ID: link.ID, AccountID: account + 1})
				return err
			},
		} {
			if got := linkapi.ErrorCode(db.orm.Transaction(lock)); got != linkapi.ENOTFOUND {
				t.Errorf("locking %s: got %q, want NOT_FOUND", name, got)
			}
		}
	})
}

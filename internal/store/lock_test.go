package store

import (
	"errors"
	"testing"

	"gorm.io/gorm"

	"linkapi/internal/store/storetest"
)

// TestLockRow locks a link that exists, and finds none to lock for one that was
// deleted, which the callers answer NOT_FOUND.
func TestLockRow(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		ann := dbtAccount(t, db, "ann@example.com")
		link := dbtLink(t, db, ann, "https://example.com/")
		err := db.orm.Transaction(func(tx *gorm.DB) error { return lockRow(tenant{db: tx, account: ann}, &linkRow{}, link) })
		if err != nil {
			t.Fatalf("locking a link: %v", err)
		}
		err = db.orm.Transaction(func(tx *gorm.DB) error { return lockRow(tenant{db: tx, account: ann}, &linkRow{}, link+1) })
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			t.Fatalf("locking a missing link: got %v, want gorm.ErrRecordNotFound", err)
		}
	})
}

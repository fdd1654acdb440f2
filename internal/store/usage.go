package store

import (
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"linkapi/internal/linkapi"
)

// usage is an account's counters of what it stores (accounts.link_count and
// text_bytes), read with the account row locked until tx ends. Every write that
// adds, changes or deletes a link locks them first and changes them in its own
// transaction, so they stay exact under concurrent writes and one row read tells
// whether a write fits the quota.
type usage struct {
	tx    tenant
	quota linkapi.Quota
	linkapi.Usage
}

// lockUsage locks the row of tx's account and reads its counters, as lockRow
// does: on MySQL with SELECT ... FOR UPDATE, on SQLite by the write lock the
// transaction took when it began. NOT_FOUND when the account is gone.
func (s *Store) lockUsage(tx tenant) (*usage, error) {
	var row struct{ LinkCount, TextBytes int }
	err := tx.table(&accountRow{}).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Select("accounts.link_count, accounts.text_bytes").Take(&row).Error
	if err != nil {
		return nil, translate(err, "account")
	}
	return &usage{tx: tx, quota: s.quota, Usage: linkapi.Usage{Links: row.LinkCount, TextBytes: row.TextBytes}}, nil
}

// add records links and bytes more (or, negative, fewer) in the account, or
// returns BAD_USER_INPUT, and records nothing, when that would pass its quota.
func (u *usage) add(links, bytes int) error {
	if err := u.quota.Admit(u.Usage, links, bytes); err != nil {
		return err
	}
	if links == 0 && bytes == 0 {
		return nil
	}
	err := u.tx.table(&accountRow{}).UpdateColumns(map[string]any{
		"link_count": gorm.Expr("link_count + ?", links),
		"text_bytes": gorm.Expr("text_bytes + ?", bytes),
	}).Error
	if err != nil {
		return err
	}
	u.Links += links
	u.TextBytes += bytes
	return nil
}

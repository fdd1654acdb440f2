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
	tx      *gorm.DB
	account int64
	quota   linkapi.Quota
	linkapi.Usage
}

// lockUsage locks the account row and reads its counters, as lockRow does: on
// MySQL with SELECT ... FOR UPDATE, on SQLite by the write lock the transaction
// took when it began. NOT_FOUND when the account is gone.
func (s *Store) lockUsage(tx *gorm.DB, account int64) (*usage, error) {
	var row struct{ LinkCount, TextBytes int }
	err := tx.Table(accountRow{}.TableName()).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Select("link_count, text_bytes").Where("id = ?", account).Take(&row).Error
	if err != nil {
		return nil, translate(err, "account")
	}
	return &usage{tx: tx, account: account, quota: s.quota, Usage: linkapi.Usage{Links: row.LinkCount, TextBytes: row.TextBytes}}, nil
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
	err := u.tx.Table(accountRow{}.TableName()).Where("id = ?", u.account).UpdateColumns(map[string]any{
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

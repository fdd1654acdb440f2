package store

// The change feed
//
// Every write of a link or a tag records what it did in the changes table with
// recordChanges, in its own transaction, so that a change and its feed row
// commit or roll back together. An account's changes are numbered by seq, 1, 2,
// 3, ..., in commit order, with no gaps: recordChanges takes the next numbers by
// incrementing accounts.change_seq, and every write transaction of an account
// holds that account's row locked from its first statement (lockUsage or
// lockAccount) until it ends, so the account's next writer can only take its
// numbers after this one has committed or, rolling back, given them back. Taking
// the lock first everywhere also keeps an account's writers from deadlocking on
// each other's rows. (An AUTO_INCREMENT id would not do: it is taken at insert
// time, and a transaction that took a smaller id can commit after one that took
// a larger one, so a reader could pass a change that has not yet appeared.)
//
// An administrator reading every account's changes at once reads them in the
// order of changes.id instead. Within each account that is still commit order,
// the account's writers taking turns; across accounts on MySQL it is the order
// the rows were inserted, and a change of one account can commit after a later
// numbered change of another was read. On SQLite, whose writers take turns on
// the whole database, it is commit order across accounts too.

import (
	"context"
	"time"

	"gorm.io/gorm"

	"linkapi/internal/linkapi"
)

// changeRow is the changes table.
type changeRow struct {
	ID         int64
	AccountID  int64
	Seq        int64
	Kind       string
	ObjectType string
	ObjectID   int64
	At         time.Time
}

func (changeRow) TableName() string         { return "changes" }
func (changeRow) ownerColumn() string       { return "account_id" }
func (r *changeRow) setOwner(account int64) { r.AccountID = account }

// change is what a write records of one object it created, updated or deleted.
type change struct {
	kind       linkapi.ChangeKind
	objectType string
	id         int64
}

func linkChange(kind linkapi.ChangeKind, id int64) change {
	return change{kind, linkapi.ObjectLink, id}
}
func tagChange(kind linkapi.ChangeKind, id int64) change { return change{kind, linkapi.ObjectTag, id} }

// changeBatch is how many feed rows go in one INSERT.
const changeBatch = 500

// recordChanges writes the feed rows of cs, in order, in tx, which must have
// locked its account's row first (lockUsage or lockAccount). It is the one place
// every write of a link or a tag records itself, and so the place to enqueue
// anything else that must happen if, and only if, the write commits: it also
// enqueues the webhook deliveries of the changes (enqueueEvents).
func recordChanges(tx tenant, at time.Time, cs ...change) error {
	if len(cs) == 0 {
		return nil
	}
	if tx.every {
		return linkapi.Errorf(linkapi.EINTERNAL, "store: changes recorded through a tenant of no one account")
	}
	err := tx.table(&accountRow{}).UpdateColumn("change_seq", gorm.Expr("change_seq + ?", len(cs))).Error
	if err != nil {
		return err
	}
	var last int64
	if err := tx.table(&accountRow{}).Select("accounts.change_seq").Scan(&last).Error; err != nil {
		return err
	}
	at = at.UTC().Truncate(time.Microsecond)
	rows := make([]changeRow, len(cs))
	for i, c := range cs {
		rows[i] = changeRow{Seq: last - int64(len(cs)) + 1 + int64(i), Kind: string(c.kind), ObjectType: c.objectType, ObjectID: c.id, At: at}
	}
	if err := create(tx, rows, changeBatch); err != nil {
		return err
	}
	return enqueueEvents(tx, at, cs, rows)
}

// lockAccount locks the row of tx's account until tx ends, as lockUsage does, for
// the writes that do not change the usage counters.
func lockAccount(tx tenant) error {
	return translate(lockRow(tx, &accountRow{}, tx.account), "account")
}

// feedTenant is the tenant of a change feed and its column of order: seq for one
// account's feed, id for an administrator's feed of every account.
func (s *Store) feedTenant(ctx context.Context, accountID *int64) (tenant, int64, string, error) {
	tn, err := s.listTenant(ctx, accountID)
	if err != nil {
		return tenant{}, 0, "", err
	}
	if tn.every {
		return tn, 0, "changes.id", nil
	}
	return tn, tn.account, "changes.seq", nil
}

// FindChanges returns a page of the change feed: the caller's own account's
// changes in commit order, the named account's for an administrator, or, for an
// administrator who names none, every account's in the order of their ids (see
// the top of this file). FORBIDDEN, NOT_FOUND, BAD_USER_INPUT for a position of
// another feed or past the newest change, CURSOR_EXPIRED when changes after
// filter.After have been pruned.
func (s *Store) FindChanges(ctx context.Context, filter linkapi.ChangeFilter) (*linkapi.ChangeList, error) {
	tn, feed, column, err := s.feedTenant(ctx, filter.AccountID)
	if err != nil {
		return nil, err
	}
	after := linkapi.ChangePosition{Account: feed}
	if filter.After != nil {
		if filter.After.Account != feed {
			return nil, linkapi.Errorf(linkapi.EINVALID, "after is a cursor of another feed")
		}
		after = *filter.After
	}
	var rows []changeRow
	err = tn.table(&changeRow{}).Where(column+" > ?", after.Seq).Order(column).Limit(filter.First + 1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	// A gap between a cursor and the first change kept means that changes in
	// between were pruned, or, in the feed of every account, perhaps only that
	// ids were skipped; checkExpiry tells which. Without a cursor the feed is
	// read from the oldest change kept.
	if filter.After != nil && (len(rows) == 0 || position(feed, &rows[0]) > after.Seq+1) {
		if err := s.checkExpiry(tn, feed, after.Seq); err != nil {
			return nil, err
		}
	}
	rows, more := trimPage(rows, filter.First)
	out := &linkapi.ChangeList{Changes: make([]*linkapi.Change, len(rows)), HasNextPage: more, End: after}
	for i := range rows {
		out.Changes[i] = rows[i].domain(feed)
		out.End = out.Changes[i].Position
	}
	return out, nil
}

// position is the place of row in feed: its seq in an account's feed, its id in
// the feed of every account.
func position(feed int64, row *changeRow) int64 {
	if feed == 0 {
		return row.ID
	}
	return row.Seq
}

func (r *changeRow) domain(feed int64) *linkapi.Change {
	return &linkapi.Change{
		Kind: linkapi.ChangeKind(r.Kind), ObjectType: r.ObjectType, ObjectID: r.ObjectID, AccountID: r.AccountID,
		At: r.At.UTC(), Position: linkapi.ChangePosition{Account: feed, Seq: position(feed, r)},
	}
}

var errCursorExpired = linkapi.Errorf(linkapi.ECURSOREXPIRED,
	"after points before changes that were pruned (the feed keeps %s): read the links again and take a new cursor", linkapi.ChangeRetention)

// checkExpiry returns CURSOR_EXPIRED when changes after position p of feed have
// been pruned. An account's changes are numbered without gaps, so that is so
// exactly when the oldest kept comes later than p+1, or when none is kept and
// p is older than the newest number taken. The feed of every account is
// numbered by id, with gaps where a transaction rolled back; PruneChanges always
// keeps the newest row of it, so that a cursor before the oldest row kept is
// known to have been pruned past.
func (s *Store) checkExpiry(tn tenant, feed, p int64) error {
	column := "changes.seq"
	if feed == 0 {
		column = "changes.id"
	}
	var oldest *int64
	if err := tn.table(&changeRow{}).Select("MIN(" + column + ")").Scan(&oldest).Error; err != nil {
		return err
	}
	if oldest != nil {
		if *oldest > p+1 {
			return errCursorExpired
		}
		return nil
	}
	if feed == 0 {
		return nil
	}
	newest, err := s.latestSeq(tn)
	if err != nil {
		return err
	}
	switch {
	case p < newest:
		return errCursorExpired
	case p > newest:
		return linkapi.Errorf(linkapi.EINVALID, "after points past the newest change")
	}
	return nil
}

func (s *Store) latestSeq(tn tenant) (int64, error) {
	var seq int64
	err := tn.table(&accountRow{}).Select("accounts.change_seq").Scan(&seq).Error
	return seq, err
}

// LatestChange returns the position of the newest change of the feed FindChanges
// reads for accountID: reading after it lists only what is recorded from now on.
// FORBIDDEN or NOT_FOUND as FindChanges.
func (s *Store) LatestChange(ctx context.Context, accountID *int64) (linkapi.ChangePosition, error) {
	tn, feed, _, err := s.feedTenant(ctx, accountID)
	if err != nil {
		return linkapi.ChangePosition{}, err
	}
	if feed != 0 {
		seq, err := s.latestSeq(tn)
		return linkapi.ChangePosition{Account: feed, Seq: seq}, err
	}
	var id int64
	err = tn.table(&changeRow{}).Select("COALESCE(MAX(changes.id), 0)").Scan(&id).Error
	return linkapi.ChangePosition{Seq: id}, err
}

// PruneChanges deletes the changes recorded more than linkapi.ChangeRetention
// ago, of every account, but always keeps the newest row of the feed (see
// checkExpiry). It returns how many it deleted.
func (s *Store) PruneChanges(ctx context.Context) (int64, error) {
	const reason = "pruning old changes: the retention is the same for every account"
	var newest int64
	if err := s.unscoped(ctx, reason).Model(&changeRow{}).Select("COALESCE(MAX(id), 0)").Scan(&newest).Error; err != nil {
		return 0, err
	}
	horizon := s.now().UTC().Add(-linkapi.ChangeRetention)
	res := s.unscoped(ctx, reason).Where("at < ? AND id < ?", horizon, newest).Delete(&changeRow{})
	return res.RowsAffected, res.Error
}

// FindLinksByIDs returns, keyed by id, those of the links of ids the caller may
// read, with one statement.
func (s *Store) FindLinksByIDs(ctx context.Context, ids []int64) (map[int64]*linkapi.Link, error) {
	return findByIDs(s, ctx, &linkRow{}, ids, func(r *linkRow) (int64, *linkapi.Link) { return r.ID, r.domain() })
}

// FindTagsByIDs returns, keyed by id, those of the tags of ids the caller may
// read, with one statement.
func (s *Store) FindTagsByIDs(ctx context.Context, ids []int64) (map[int64]*linkapi.Tag, error) {
	return findByIDs(s, ctx, &tagRow{}, ids, func(r *tagRow) (int64, *linkapi.Tag) { return r.ID, r.domain() })
}

func findByIDs[R any, P interface {
	*R
	table
}, D any](s *Store, ctx context.Context, model P, ids []int64, domain func(*R) (int64, D)) (map[int64]D, error) {
	out := make(map[int64]D, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	tx, _, err := s.owned(ctx, reading, model)
	if err != nil {
		return nil, err
	}
	var rows []R
	if err := tx.Where(model.TableName()+".id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	for i := range rows {
		id, d := domain(&rows[i])
		out[id] = d
	}
	return out, nil
}

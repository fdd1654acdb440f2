package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm/clause"

	"linkapi/internal/linkapi"
)

// Bulk writes: each item succeeds or fails on its own, and the items of one
// account are written in one transaction with a number of statements that does
// not grow with the items (it grows with the tags they carry, 500 pairs a
// statement). An administrator's items of several accounts take one transaction
// each.

// bulkBatch is how many rows a bulk write puts in one INSERT.
const bulkBatch = 500

// bulkResult gathers the answer of a bulk write.
type bulkResult struct{ linkapi.BulkResult }

func newBulkResult(n int) *bulkResult {
	return &bulkResult{linkapi.BulkResult{Links: make([]*linkapi.Link, n), Errors: []linkapi.BulkItemError{}}}
}

// fail records err as item i's answer. An error that is not the domain's is
// not an item's own: fail returns it, and the write returns it whole.
func (b *bulkResult) fail(i int, err error) error {
	var e *linkapi.Error
	if !errors.As(err, &e) || e.Code == linkapi.EINTERNAL {
		return err
	}
	b.Errors = append(b.Errors, linkapi.BulkItemError{Index: i, Err: e})
	return nil
}

// done returns the answer with its errors in the order of their items.
func (b *bulkResult) done() *linkapi.BulkResult {
	slices.SortFunc(b.Errors, func(x, y linkapi.BulkItemError) int { return x.Index - y.Index })
	return &b.BulkResult
}

func checkBatch(n int) error {
	if n == 0 || n > linkapi.MaxBulkItems {
		return linkapi.Errorf(linkapi.EINVALID, "a bulk write holds 1 to %d items, not %d", linkapi.MaxBulkItems, n)
	}
	return nil
}

// bulkItem is one item of a bulk write, at index i of the request.
type bulkItem struct {
	i     int
	id    int64
	row   linkRow
	names []string
}

// accountGroups keeps items by account, accounts in the order they first came.
type accountGroups struct {
	order []int64
	items map[int64][]bulkItem
}

func (g *accountGroups) add(account int64, it bulkItem) {
	if g.items == nil {
		g.items = map[int64][]bulkItem{}
	}
	if _, ok := g.items[account]; !ok {
		g.order = append(g.order, account)
	}
	g.items[account] = append(g.items[account], it)
}

// each runs fn in a transaction of each account, with that account's items.
// A transaction run again (see inTransaction) starts from the answers res held
// before its first attempt.
func (s *Store) each(ctx context.Context, g *accountGroups, res *bulkResult, fn func(tx tenant, items []bulkItem) error) error {
	for _, account := range g.order {
		items := g.items[account]
		mark := len(res.Errors)
		err := s.transact(ctx, writing, account, func(tx tenant) error {
			res.Errors = res.Errors[:mark]
			for _, it := range items {
				res.Links[it.i] = nil
			}
			return fn(tx, items)
		})
		if err != nil {
			return translate(err, "link")
		}
	}
	return nil
}

// CreateLinks saves links as CreateLink would, each on its own: an item with a
// bad URL, text or tag, another account's AccountID, or no room left in its
// account's quota fails alone (BAD_USER_INPUT, FORBIDDEN, NOT_FOUND).
func (s *Store) CreateLinks(ctx context.Context, ins []linkapi.LinkCreate) (*linkapi.BulkResult, error) {
	if err := checkBatch(len(ins)); err != nil {
		return nil, err
	}
	res := newBulkResult(len(ins))
	var groups accountGroups
	checked := map[int64]error{} // an administrator's named accounts, each checked once
	now := s.now()
	for i, in := range ins {
		account, names, err := s.createTarget(ctx, in, checked)
		if err != nil {
			if err := res.fail(i, err); err != nil {
				return nil, err
			}
			continue
		}
		row := linkRow{URL: in.URL, Title: emptyToNil(in.Title), Description: emptyToNil(in.Description), Notes: emptyToNil(in.Notes),
			Unread: in.Unread, Archived: in.Archived, Favorite: in.Favorite, CreatedAt: now, UpdatedAt: now}
		groups.add(account, bulkItem{i: i, row: row, names: names})
	}
	err := s.each(ctx, &groups, res, func(tx tenant, items []bulkItem) error {
		return s.createLinksIn(tx, now, items, res)
	})
	if err != nil {
		return nil, err
	}
	return res.done(), nil
}

// createTarget checks a link to create as CreateLink would before it writes,
// and returns the account it goes in and its tag names.
func (s *Store) createTarget(ctx context.Context, in linkapi.LinkCreate, checked map[int64]error) (int64, []string, error) {
	names, err := validateLinkCreate(in)
	if err != nil {
		return 0, nil, err
	}
	if in.AccountID == nil {
		account, err := s.targetAccount(ctx, writing, nil)
		return account, names, err
	}
	err, ok := checked[*in.AccountID]
	if !ok {
		_, err = s.targetAccount(ctx, writing, in.AccountID)
		checked[*in.AccountID] = err
	}
	return *in.AccountID, names, err
}

// validateLinkCreate checks what CreateLink checks before it writes, and
// returns the link's tag names.
func validateLinkCreate(in linkapi.LinkCreate) ([]string, error) {
	if err := validateLink(&in.URL, in.Title, in.Description, in.Notes); err != nil {
		return nil, err
	}
	names, err := linkapi.NormalizeTagNames(in.Tags)
	if err != nil {
		return nil, err
	}
	if len(names) > linkapi.MaxTagsPerLink {
		return nil, linkapi.Errorf(linkapi.EINVALID, "a link carries at most %d tags", linkapi.MaxTagsPerLink)
	}
	return names, nil
}

// createLinksIn saves the items of tx's account that fit its quota, in order.
func (s *Store) createLinksIn(tx tenant, now time.Time, items []bulkItem, res *bulkResult) error {
	u, err := s.lockUsage(tx)
	if err != nil {
		return err
	}
	existing, err := linksByURL(tx, items)
	if err != nil {
		return err
	}
	room := u.Usage
	var rows []linkRow
	var kept []bulkItem
	bytes := 0
	for _, it := range items {
		if err := duplicateItem(existing, it); err != nil {
			if err := res.fail(it.i, err); err != nil {
				return err
			}
			continue
		}
		b := it.row.textBytes()
		if err := u.quota.Admit(room, 1, b); err != nil {
			if err := res.fail(it.i, err); err != nil {
				return err
			}
			continue
		}
		existing[linkapi.URLKey(it.row.URL)] = 0
		room.Links++
		room.TextBytes += b
		bytes += b
		rows = append(rows, it.row)
		kept = append(kept, it)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := u.add(len(rows), bytes); err != nil {
		return err
	}
	if err := create(tx, rows, bulkBatch); err != nil {
		return err
	}
	if err := newestIDs(tx, rows); err != nil {
		return err
	}
	var names []string
	for _, it := range kept {
		names = append(names, it.names...)
	}
	tags, made, err := tagsByName(tx, names, now)
	if err != nil {
		return err
	}
	var pairs []linkTagRow
	changes := make([]change, 0, len(made)+len(rows))
	for _, t := range made {
		changes = append(changes, tagChange(linkapi.ChangeCreated, t))
	}
	for k, it := range kept {
		for _, n := range it.names {
			pairs = append(pairs, linkTagRow{LinkID: rows[k].ID, TagID: tags[n], CreatedAt: now})
		}
		rows[k].AccountID = tx.account
		res.Links[it.i] = rows[k].domain()
		changes = append(changes, linkChange(linkapi.ChangeCreated, rows[k].ID))
	}
	if err := create(tx, pairs, bulkBatch); err != nil {
		return err
	}
	return recordChanges(tx, now, changes...)
}

// linksByURL maps the URL keys of items that tx's account already has a link
// for to that link's id (the lowest, as CreateLink names), in one statement.
func linksByURL(tx tenant, items []bulkItem) (map[string]int64, error) {
	keys := make([]string, 0, len(items))
	for _, it := range items {
		keys = append(keys, linkapi.URLKey(it.row.URL))
	}
	var found []linkRow
	err := tx.table(&linkRow{}).Select("links.id", "links.url_hash").
		Where("links.url_hash IN ?", distinctStrings(keys)).Order("links.id").Find(&found).Error
	if err != nil {
		return nil, err
	}
	ids := make(map[string]int64, len(found))
	for _, r := range found {
		if r.URLHash == nil {
			continue
		}
		if _, seen := ids[*r.URLHash]; !seen {
			ids[*r.URLHash] = r.ID
		}
	}
	return ids, nil
}

// duplicateItem refuses an item whose URL the account already has, as
// CreateLink does, or that an earlier admitted item of the batch saves.
func duplicateItem(existing map[string]int64, it bulkItem) error {
	id, dup := existing[linkapi.URLKey(it.row.URL)]
	if !dup {
		return nil
	}
	if id == 0 {
		return linkapi.Errorf(linkapi.ECONFLICT, "an earlier item of this batch saves a link to this URL")
	}
	e := linkapi.Errorf(linkapi.ECONFLICT, "the account already has a link to this URL (link %d)", id)
	e.ExistingLinkID = id
	return e
}

// newestIDs sets the ids of rows, just inserted in tx's account in one
// statement, from the account's newest links: tx holds the account's row locked,
// as every insert of a link does, so no other link of the account came in
// between, and one INSERT numbers its rows in increasing order. (The ids gorm
// reads back on MySQL assume consecutive numbers, which MySQL's interleaved
// auto-increment mode, Galera's, does not promise.)
func newestIDs(tx tenant, rows []linkRow) error {
	var ids []int64
	err := tx.table(&linkRow{}).Order("links.id DESC").Limit(len(rows)).Pluck("links.id", &ids).Error
	if err != nil {
		return err
	}
	if len(ids) != len(rows) {
		return linkapi.Errorf(linkapi.EINTERNAL, "store: read back %d ids of %d links inserted", len(ids), len(rows))
	}
	for k := range rows {
		rows[k].ID = ids[len(ids)-1-k]
	}
	return nil
}

// tagsByName returns the ids of the tags of tx's account called names, creating
// those missing; made lists the ids of the ones it created.
func tagsByName(tx tenant, names []string, now time.Time) (ids map[string]int64, made []int64, err error) {
	ids = map[string]int64{}
	names = distinctStrings(names)
	if len(names) == 0 {
		return ids, nil, nil
	}
	var found []tagRow
	if err := tx.table(&tagRow{}).Where("tags.name IN ?", names).Find(&found).Error; err != nil {
		return nil, nil, err
	}
	for _, t := range found {
		ids[t.Name] = t.ID
	}
	var missing []tagRow
	for _, n := range names {
		if _, ok := ids[n]; !ok {
			missing = append(missing, tagRow{Name: n, CreatedAt: now})
		}
	}
	if len(missing) == 0 {
		return ids, nil, nil
	}
	if err := create(tx, missing, bulkBatch); err != nil {
		return nil, nil, err
	}
	if err := readIDs(tx, &tagRow{}, "name", missing, func(r tagRow) string { return r.Name }, ids); err != nil {
		return nil, nil, err
	}
	for _, t := range missing {
		made = append(made, ids[t.Name])
	}
	return ids, made, nil
}

func distinctStrings(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// bulkTargets groups the links of ids by account, reading them with one
// statement: an id that is not positive, not found or another account's fails
// its item with NOT_FOUND, and an id repeated fails each place after its first
// with BAD_USER_INPUT, so that no link is written twice by one request.
func (s *Store) bulkTargets(ctx context.Context, ids []int64, res *bulkResult) (*accountGroups, error) {
	first := make(map[int64]int, len(ids))
	var lookup []int64
	for i, id := range ids {
		if id <= 0 {
			_ = res.fail(i, linkapi.Errorf(linkapi.ENOTFOUND, "link not found"))
			continue
		}
		if j, ok := first[id]; ok {
			_ = res.fail(i, linkapi.Errorf(linkapi.EINVALID, "link %d is item %d already", id, j))
			continue
		}
		first[id] = i
		lookup = append(lookup, id)
	}
	var found []linkRow
	if len(lookup) > 0 {
		tx, _, err := s.owned(ctx, writing, &linkRow{})
		if err != nil {
			return nil, err
		}
		if err := tx.Select("links.id, links.account_id").Where("links.id IN ?", lookup).Find(&found).Error; err != nil {
			return nil, err
		}
	}
	owner := make(map[int64]int64, len(found))
	for _, r := range found {
		owner[r.ID] = r.AccountID
	}
	var g accountGroups
	for _, id := range lookup {
		if account, ok := owner[id]; ok {
			g.add(account, bulkItem{i: first[id], id: id})
		} else {
			_ = res.fail(first[id], linkapi.Errorf(linkapi.ENOTFOUND, "link not found"))
		}
	}
	return &g, nil
}

// lockLinks reads again, locked until tx ends, the links of items; the items
// whose link is gone since bulkTargets read it fail with NOT_FOUND. It returns
// the items left, each with its row.
func lockLinks(tx tenant, items []bulkItem, res *bulkResult) ([]bulkItem, error) {
	ids := make([]int64, len(items))
	for k, it := range items {
		ids[k] = it.id
	}
	var rows []linkRow
	err := tx.table(&linkRow{}).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Where("links.id IN ?", ids).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]linkRow, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	kept := items[:0:0]
	for _, it := range items {
		if r, ok := byID[it.id]; ok {
			it.row = r
			kept = append(kept, it)
		} else if err := res.fail(it.i, linkapi.Errorf(linkapi.ENOTFOUND, "link not found")); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// UpdateLinks applies patch to each of the links of ids. A link that would
// carry more than MaxTagsPerLink tags fails alone (BAD_USER_INPUT), as do ids
// (see bulkTargets). BAD_USER_INPUT for a patch that changes nothing, names a
// bad tag, or names one tag both to add and to remove.
func (s *Store) UpdateLinks(ctx context.Context, ids []int64, patch linkapi.LinkPatch) (*linkapi.BulkResult, error) {
	if err := checkBatch(len(ids)); err != nil {
		return nil, err
	}
	add, err := linkapi.NormalizeTagNames(patch.AddTags)
	if err != nil {
		return nil, err
	}
	remove, err := linkapi.NormalizeTagNames(patch.RemoveTags)
	if err != nil {
		return nil, err
	}
	switch {
	case len(add) == 0 && len(remove) == 0 && !patch.SetsState():
		return nil, linkapi.Errorf(linkapi.EINVALID, "the patch changes nothing")
	case len(add) > linkapi.MaxTagsPerLink:
		return nil, linkapi.Errorf(linkapi.EINVALID, "a link carries at most %d tags", linkapi.MaxTagsPerLink)
	}
	for _, n := range add {
		if slices.Contains(remove, n) {
			return nil, linkapi.Errorf(linkapi.EINVALID, "the patch both adds and removes the tag %q", n)
		}
	}
	res := newBulkResult(len(ids))
	groups, err := s.bulkTargets(ctx, ids, res)
	if err != nil {
		return nil, err
	}
	err = s.each(ctx, groups, res, func(tx tenant, items []bulkItem) error {
		return s.updateLinksIn(tx, items, add, remove, patch, res)
	})
	if err != nil {
		return nil, err
	}
	return res.done(), nil
}

func (s *Store) updateLinksIn(tx tenant, items []bulkItem, add, remove []string, patch linkapi.LinkPatch, res *bulkResult) error {
	if err := lockAccount(tx); err != nil {
		return err
	}
	items, err := lockLinks(tx, items, res)
	if err != nil || len(items) == 0 {
		return err
	}
	now := s.now()
	addIDs, made, err := tagsByName(tx, add, now)
	if err != nil {
		return err
	}
	var removeIDs []int64
	if len(remove) > 0 {
		if err := tx.table(&tagRow{}).Where("tags.name IN ?", remove).Pluck("tags.id", &removeIDs).Error; err != nil {
			return err
		}
	}
	ids := make([]int64, len(items))
	for k, it := range items {
		ids[k] = it.id
	}
	// Count, with the links locked, the tags each keeps besides those the patch
	// adds or removes, so that no link passes MaxTagsPerLink.
	kept := items
	if len(add) > 0 {
		touched := slices.Clone(removeIDs)
		for _, id := range addIDs {
			touched = append(touched, id)
		}
		var counts []struct {
			LinkID int64
			N      int
		}
		err := tx.table(&linkTagRow{}).Select("link_tags.link_id, COUNT(*) AS n").
			Where("link_tags.link_id IN ? AND link_tags.tag_id NOT IN ?", ids, touched).
			Group("link_tags.link_id").Scan(&counts).Error
		if err != nil {
			return err
		}
		others := make(map[int64]int, len(counts))
		for _, c := range counts {
			others[c.LinkID] = c.N
		}
		kept = items[:0:0]
		for _, it := range items {
			if others[it.id]+len(add) > linkapi.MaxTagsPerLink {
				err := res.fail(it.i, linkapi.Errorf(linkapi.EINVALID, "a link carries at most %d tags", linkapi.MaxTagsPerLink))
				if err != nil {
					return err
				}
				continue
			}
			kept = append(kept, it)
		}
		var pairs []linkTagRow
		for _, it := range kept {
			for _, n := range add {
				pairs = append(pairs, linkTagRow{LinkID: it.id, TagID: addIDs[n], CreatedAt: now})
			}
		}
		if err := create(tx, pairs, bulkBatch, clause.OnConflict{DoNothing: true}); err != nil {
			return err
		}
	}
	if len(kept) == 0 {
		return nil
	}
	keptIDs := make([]int64, len(kept))
	for k, it := range kept {
		keptIDs[k] = it.id
	}
	if len(removeIDs) > 0 {
		err := tx.table(&linkTagRow{}).Where("link_tags.link_id IN ? AND link_tags.tag_id IN ?", keptIDs, removeIDs).
			Delete(&linkTagRow{}).Error
		if err != nil {
			return err
		}
	}
	if patch.SetsState() {
		if err := setState(tx, kept, keptIDs, patch, now); err != nil {
			return err
		}
	}
	changes := make([]change, 0, len(made)+len(kept))
	for _, t := range made {
		changes = append(changes, tagChange(linkapi.ChangeCreated, t))
	}
	for _, it := range kept {
		res.Links[it.i] = it.row.domain()
		changes = append(changes, linkChange(linkapi.ChangeUpdated, it.id))
	}
	return recordChanges(tx, now, changes...)
}

// setState applies the patch's state to the links of ids (kept's, locked) in one
// statement, and to kept's rows as answered.
func setState(tx tenant, kept []bulkItem, ids []int64, patch linkapi.LinkPatch, now time.Time) error {
	set := map[string]any{"updated_at": now}
	for col, v := range map[string]*bool{"unread": patch.Unread, "archived": patch.Archived, "favorite": patch.Favorite} {
		if v != nil {
			set[col] = *v
		}
	}
	if err := tx.table(&linkRow{}).Where("links.id IN ?", ids).Updates(set).Error; err != nil {
		return err
	}
	for k := range kept {
		r := &kept[k].row
		r.UpdatedAt = now
		if patch.Unread != nil {
			r.Unread = *patch.Unread
		}
		if patch.Archived != nil {
			r.Archived = *patch.Archived
		}
		if patch.Favorite != nil {
			r.Favorite = *patch.Favorite
		}
	}
	return nil
}

// DeleteLinks deletes each of the links of ids, answering each as it was, and
// gives their room back to their accounts' quotas. ids fail as in UpdateLinks.
func (s *Store) DeleteLinks(ctx context.Context, ids []int64) (*linkapi.BulkResult, error) {
	if err := checkBatch(len(ids)); err != nil {
		return nil, err
	}
	res := newBulkResult(len(ids))
	groups, err := s.bulkTargets(ctx, ids, res)
	if err != nil {
		return nil, err
	}
	err = s.each(ctx, groups, res, func(tx tenant, items []bulkItem) error {
		u, err := s.lockUsage(tx)
		if err != nil {
			return err
		}
		items, err = lockLinks(tx, items, res)
		if err != nil || len(items) == 0 {
			return err
		}
		ids := make([]int64, len(items))
		bytes := 0
		changes := make([]change, len(items))
		for k, it := range items {
			ids[k] = it.id
			bytes += it.row.textBytes()
			changes[k] = linkChange(linkapi.ChangeDeleted, it.id)
			res.Links[it.i] = it.row.domain()
		}
		if err := tx.table(&linkRow{}).Where("links.id IN ?", ids).Delete(&linkRow{}).Error; err != nil {
			return err
		}
		if err := u.add(-len(items), -bytes); err != nil {
			return err
		}
		return recordChanges(tx, s.now(), changes...)
	})
	if err != nil {
		return nil, err
	}
	return res.done(), nil
}

package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"linkapi/internal/linkapi"
)

// FindLinkByID returns the link, or NOT_FOUND when it is missing or another account's.
func (s *Store) FindLinkByID(ctx context.Context, id int64) (*linkapi.Link, error) {
	row, err := s.findLink(ctx, reading, id)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// FindLinkToWrite returns the link when the caller may change it; NOT_FOUND
// when it is missing, or another account's and the caller lacks admin:write.
func (s *Store) FindLinkToWrite(ctx context.Context, id int64) (*linkapi.Link, error) {
	row, err := s.findLink(ctx, writing, id)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (s *Store) findLink(ctx context.Context, a access, id int64) (*linkRow, error) {
	tx, _, err := s.owned(ctx, a, &linkRow{})
	if err != nil {
		return nil, err
	}
	var row linkRow
	if err := tx.Where("links.id = ?", id).Take(&row).Error; err != nil {
		return nil, translate(err, "link")
	}
	return &row, nil
}

// FindLinkByURL returns the caller's own link whose URL normalises as url does
// (see linkapi.NormalizeURL), the first saved when there are several; NOT_FOUND
// when the caller has none, BAD_USER_INPUT for a URL that is not http or https.
// An administrator's links of other accounts are not looked at.
func (s *Store) FindLinkByURL(ctx context.Context, url string) (*linkapi.Link, error) {
	if _, err := linkapi.NormalizeURL(url); err != nil {
		return nil, err
	}
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	tn, err := s.as(ctx, reading, c.AccountID)
	if err != nil {
		return nil, err
	}
	row, err := linkByURL(tn, url, 0)
	if err != nil || row == nil {
		return nil, translate(errOrNotFound(err), "link")
	}
	return row.domain(), nil
}

// linkByURL returns the tenant's first saved link whose URL normalises as url
// does, other than the link except; nil when there is none.
func linkByURL(tn tenant, url string, except int64) (*linkRow, error) {
	var rows []linkRow
	tx := tn.table(&linkRow{}).Where("links.url_hash = ?", linkapi.URLKey(url))
	if except != 0 {
		tx = tx.Where("links.id <> ?", except)
	}
	if err := tx.Order("links.id").Limit(1).Find(&rows).Error; err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// errOrNotFound returns err, or gorm.ErrRecordNotFound when it is nil.
func errOrNotFound(err error) error {
	if err == nil {
		return gorm.ErrRecordNotFound
	}
	return err
}

// linkSelect begins the read of the links filter selects (but not paging),
// selecting columns, through the tenant filter of the listed account;
// BAD_USER_INPUT for a search longer than MaxSearchLength or a bad list of tag
// names.
func (s *Store) linkSelect(ctx context.Context, filter linkapi.LinkFilter, columns string) (*selectSQL, error) {
	names, err := linkFilterNames(filter)
	if err != nil {
		return nil, err
	}
	tn, err := s.listTenant(ctx, filter.AccountID)
	if err != nil {
		return nil, err
	}
	q := tn.selectFrom(&linkRow{}, columns, "")
	if filter.TagID != nil {
		q.in("links.id", false, tn.selectFrom(&linkTagRow{}, "link_tags.link_id", "").where("link_tags.tag_id = ?", *filter.TagID))
	}
	tagged := func(names []string) *selectSQL {
		return inList(tn.selectFrom(&linkTagRow{}, "link_tags.link_id", "JOIN tags ON tags.id = link_tags.tag_id"), "tags.name", names)
	}
	for _, name := range names[0] {
		q.in("links.id", false, tagged([]string{name}))
	}
	if len(names[1]) > 0 {
		q.in("links.id", false, tagged(names[1]))
	}
	if len(names[2]) > 0 {
		q.in("links.id", true, tagged(names[2]))
	}
	for _, f := range []struct {
		column string
		v      *bool
	}{{"links.unread = ?", filter.Unread}, {"links.archived = ?", filter.Archived}, {"links.favorite = ?", filter.Favorite}} {
		if f.v != nil {
			q.where(f.column, *f.v)
		}
	}
	if filter.UpdatedSince != nil {
		q.where("links.updated_at >= ?", filter.UpdatedSince.UTC())
	}
	if filter.Search != nil && *filter.Search != "" {
		p := likePattern(*filter.Search)
		q.where("(links.url LIKE ? ESCAPE '!' OR links.title LIKE ? ESCAPE '!')", p, p)
	}
	return q, nil
}

// linkFilterNames checks filter's search and returns its tag names normalised:
// those every link must carry (Tags and TagName), those it must carry one of, and
// those it must carry none of.
func linkFilterNames(filter linkapi.LinkFilter) ([3][]string, error) {
	var names [3][]string
	if err := linkapi.ValidateText("search", filter.Search, linkapi.MaxSearchLength); err != nil {
		return names, err
	}
	all := filter.Tags
	if filter.TagName != nil {
		all = append([]string{*filter.TagName}, all...)
	}
	for i, list := range [3][]string{all, filter.AnyTags, filter.ExcludeTags} {
		n, err := filterTagNames(list)
		if err != nil {
			return names, err
		}
		names[i] = n
	}
	return names, nil
}

// filterTagNames normalises a filter's tag names; BAD_USER_INPUT for a bad name
// or more than MaxFilterTags.
func filterTagNames(in []string) ([]string, error) {
	names, err := linkapi.NormalizeTagNames(in)
	if err != nil {
		return nil, err
	}
	if len(names) > linkapi.MaxFilterTags {
		return nil, linkapi.Errorf(linkapi.EINVALID, "a links filter names at most %d tags in each list", linkapi.MaxFilterTags)
	}
	return names, nil
}

// linkOrders are the sort column of each LinkOrder, and whether it descends.
var linkOrders = map[linkapi.LinkOrder]struct {
	column string
	desc   bool
}{
	linkapi.OrderCreatedDesc: {"links.created_at", true},
	linkapi.OrderCreatedAsc:  {"links.created_at", false},
	linkapi.OrderUpdatedDesc: {"links.updated_at", true},
	linkapi.OrderTitleAsc:    {"links.title", false},
}

// orderClause is the ORDER BY of order: its column, then id, in one direction.
func orderClause(order linkapi.LinkOrder) string {
	o := linkOrders[order.Or()]
	if o.desc {
		return o.column + " DESC, links.id DESC"
	}
	return o.column + ", links.id"
}

// afterCursor keeps the links of tx that come after c in c's order: a keyset
// condition on (column, id) that the (account_id, column, id) indexes serve.
// Titles sort NULL first, as both databases sort NULL.
func afterCursor(tx *gorm.DB, c linkapi.LinkCursor) *gorm.DB {
	if cond, args := cursorCondition(c); cond != "" {
		return tx.Where(cond, args...)
	}
	return tx
}

// afterCursorSQL is afterCursor for a hand-written read.
func afterCursorSQL(q *selectSQL, c linkapi.LinkCursor) {
	if cond, args := cursorCondition(c); cond != "" {
		q.where(cond, args...)
	}
}

// cursorCondition is the condition afterCursor adds, with its arguments; ""
// for no cursor.
func cursorCondition(c linkapi.LinkCursor) (string, []any) {
	if c.ID == 0 {
		return "", nil
	}
	o := linkOrders[c.Order.Or()]
	op := ">"
	if o.desc {
		op = "<"
	}
	switch {
	case c.Order == linkapi.OrderTitleAsc && c.NoTitle:
		return "(links.title IS NOT NULL OR links.id > ?)", []any{c.ID}
	case c.Order == linkapi.OrderTitleAsc:
		return "(links.title > ? OR (links.title = ? AND links.id > ?))", []any{c.Title, c.Title, c.ID}
	}
	at := c.At.UTC()
	return "(" + o.column + " " + op + " ? OR (" + o.column + " = ? AND links.id " + op + " ?))", []any{at, at, c.ID}
}

// checkCursor returns BAD_USER_INPUT when p resumes a list made in another order.
func checkCursor(p linkapi.LinkPage, order linkapi.LinkOrder) error {
	if p.After.ID != 0 && p.After.Order.Or() != order.Or() {
		return linkapi.Errorf(linkapi.EINVALID, "after is a cursor of links in %s order, not %s", p.After.Order.Or(), order.Or())
	}
	if _, ok := linkOrders[order.Or()]; !ok {
		return linkapi.Errorf(linkapi.EINVALID, "unknown order %q", order)
	}
	return nil
}

// FindLinks returns a page of links in filter.Order, each filled as far as
// filter.Fields asks: a page selects only the columns of those. FORBIDDEN when
// filter.AccountID names another account and the caller is not an
// administrator; BAD_USER_INPUT for a cursor of another order or a bad filter.
func (s *Store) FindLinks(ctx context.Context, filter linkapi.LinkFilter) (*linkapi.LinkList, error) {
	if err := checkCursor(filter.LinkPage, filter.Order); err != nil {
		return nil, err
	}
	fields := filter.Fields
	if fields == 0 {
		fields = linkapi.AllLinkFields
	}
	if !filter.NoCursors {
		fields |= linkapi.OrderField(filter.Order)
	}
	fields &= linkapi.AllLinkFields
	q, err := s.linkSelect(ctx, filter, s.reads.linkColumnsOf(fields))
	if err != nil {
		return nil, err
	}
	afterCursorSQL(q, filter.After)
	rows, err := s.query(ctx, q.orderBy(orderClause(filter.Order), filter.First+1))
	if err != nil {
		return nil, err
	}
	links, err := scanLinks(rows, filter.First+1, fields)
	if err != nil {
		return nil, err
	}
	links, more := trimPage(links, filter.First)
	return &linkapi.LinkList{Links: links, HasNextPage: more}, nil
}

// CountLinks counts the links FindLinks would list, across every page.
func (s *Store) CountLinks(ctx context.Context, filter linkapi.LinkFilter) (int, error) {
	q, err := s.linkSelect(ctx, filter, "COUNT(*)")
	if err != nil {
		return 0, err
	}
	rows, err := s.query(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		err = rows.Scan(intScan{&n})
	}
	if err == nil {
		err = rows.Err()
	}
	return int(n), err
}

func validateLink(url *string, title, description, notes *string) error {
	if url != nil {
		if err := linkapi.ValidateURL(*url); err != nil {
			return err
		}
	}
	if err := linkapi.ValidateText("title", title, linkapi.MaxTitleLength); err != nil {
		return err
	}
	if err := linkapi.ValidateText("notes", notes, linkapi.MaxNotesLength); err != nil {
		return err
	}
	return linkapi.ValidateText("description", description, linkapi.MaxDescriptionLength)
}

// refuseDuplicate returns CONFLICT, naming the link, when the tenant has a link
// other than except whose URL normalises as url does. Run in a transaction that
// holds lockUsage, it sees every link written before it: writers of one account
// take turns on that lock.
func refuseDuplicate(tx tenant, url string, except int64) error {
	dup, err := linkByURL(tx, url, except)
	if err != nil || dup == nil {
		return err
	}
	e := linkapi.Errorf(linkapi.ECONFLICT, "the account already has a link to this URL")
	e.ExistingLinkID = dup.ID
	return e
}

// CreateLink saves a link in the caller's account (or, for an administrator, the
// named one), creating missing tags by name. BAD_USER_INPUT, FORBIDDEN or NOT_FOUND;
// BAD_USER_INPUT too when the account's quota has no room for the link; CONFLICT,
// with the ExistingLinkID, when the account has a link whose URL normalises the same.
func (s *Store) CreateLink(ctx context.Context, in linkapi.LinkCreate) (*linkapi.Link, error) {
	names, err := validateLinkCreate(in)
	if err != nil {
		return nil, err
	}
	accountID, err := s.targetAccount(ctx, writing, in.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	row := linkRow{URL: in.URL, Title: in.Title, Description: in.Description, Notes: emptyToNil(in.Notes),
		Unread: in.Unread, Archived: in.Archived, Favorite: in.Favorite, CreatedAt: now, UpdatedAt: now,
		FaviconURL: emptyToNil(in.FaviconURL), PreviewImageURL: emptyToNil(in.PreviewImageURL)}
	err = s.transact(ctx, writing, accountID, func(tx tenant) error {
		row.ID = 0 // an attempt before this one may have numbered it
		u, err := s.lockUsage(tx)
		if err != nil {
			return err
		}
		if err := refuseDuplicate(tx, in.URL, 0); err != nil {
			return err
		}
		if err := u.add(1, row.textBytes()); err != nil {
			return err
		}
		if err := createOne(tx, &row); err != nil {
			return err
		}
		var changes []change // the tags it makes, then the link
		for _, name := range names {
			tag, made, err := findOrCreateTag(tx, name, now)
			if err != nil {
				return err
			}
			if made {
				changes = append(changes, tagChange(linkapi.ChangeCreated, tag.ID))
			}
			if _, err := pair(tx, row.ID, tag.ID, now); err != nil {
				return err
			}
		}
		return recordChanges(tx, now, append(changes, linkChange(linkapi.ChangeCreated, row.ID))...)
	})
	if err != nil {
		return nil, translate(err, "link")
	}
	return row.domain(), nil
}

// CheckLinkCreate returns what CreateLink would refuse in with before it writes
// (BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, or CONFLICT with the ExistingLinkID),
// writing nothing. The duplicate check reads without a lock; CreateLink makes it
// again under one.
func (s *Store) CheckLinkCreate(ctx context.Context, in linkapi.LinkCreate) error {
	if _, err := validateLinkCreate(in); err != nil {
		return err
	}
	accountID, err := s.targetAccount(ctx, writing, in.AccountID)
	if err != nil {
		return err
	}
	tn, err := s.as(ctx, writing, accountID)
	if err != nil {
		return err
	}
	return translate(refuseDuplicate(tn, in.URL, 0), "link")
}

// SetLinkMetadata stores a page's metadata on the link: each field m gives
// replaces the link's. NOT_FOUND; CONFLICT when the link's URL is no longer url;
// BAD_USER_INPUT when the longer text would take the account past its quota.
func (s *Store) SetLinkMetadata(ctx context.Context, id int64, url string, m linkapi.PageMetadata) (*linkapi.Link, error) {
	if err := validateLink(nil, m.Title, m.Description, nil); err != nil {
		return nil, err
	}
	row, err := s.changeLink(ctx, id, func(tx tenant, u *usage, row *linkRow) error {
		if row.URL != url {
			return linkapi.Errorf(linkapi.ECONFLICT, "the link's URL changed while its page was read; refresh it again")
		}
		before := row.textBytes()
		for _, f := range []struct{ dst, v **string }{
			{&row.Title, &m.Title}, {&row.Description, &m.Description},
			{&row.FaviconURL, &m.FaviconURL}, {&row.PreviewImageURL, &m.PreviewImageURL},
		} {
			if v := emptyToNil(*f.v); v != nil {
				*f.dst = v
			}
		}
		row.UpdatedAt = s.now()
		if err := u.add(0, row.textBytes()-before); err != nil {
			return err
		}
		if err := tx.table(row).Select("title", "description", "favicon_url", "preview_image_url", "updated_at").
			Updates(row).Error; err != nil {
			return err
		}
		return recordChanges(tx, row.UpdatedAt, linkChange(linkapi.ChangeUpdated, row.ID))
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// changeLink runs fn on a link the caller may write, in a transaction of its
// account that holds the account's usage row and the link's row locked, and
// returns the row as fn left it. NOT_FOUND; fn's errors, translated.
func (s *Store) changeLink(ctx context.Context, id int64, fn func(tx tenant, u *usage, row *linkRow) error) (*linkRow, error) {
	found, err := s.findLink(ctx, writing, id)
	if err != nil {
		return nil, err
	}
	var row *linkRow
	err = s.transact(ctx, writing, found.AccountID, func(tx tenant) error {
		u, err := s.lockUsage(tx)
		if err != nil {
			return err
		}
		if row, err = lockLink(tx, found.ID); err != nil {
			return err
		}
		return fn(tx, u, row)
	})
	if err != nil {
		return nil, translate(err, "link")
	}
	return row, nil
}

// findOrCreateTag returns the tenant's tag called name, creating it when missing;
// made says whether it did.
func findOrCreateTag(tx tenant, name string, now time.Time) (tag *tagRow, made bool, err error) {
	tag = &tagRow{}
	if err := tx.table(&tagRow{}).Where("tags.name = ?", name).Limit(1).Find(tag).Error; err != nil {
		return nil, false, err
	}
	if tag.ID != 0 {
		return tag, false, nil
	}
	tag = &tagRow{Name: name, CreatedAt: now}
	if err := createOne(tx, tag); err != nil {
		return nil, false, err
	}
	return tag, true, nil
}

// pair joins a link and a tag of the tenant's account; joining them again is not
// an error, and added says whether they were not joined before.
func pair(tx tenant, linkID, tagID int64, now time.Time) (added bool, err error) {
	n, err := insertOne(tx, &linkTagRow{LinkID: linkID, TagID: tagID, CreatedAt: now}, clause.OnConflict{DoNothing: true})
	return n > 0, err
}

// UpdateLink changes the given fields of a link; given tags replace its tags,
// creating those missing by name. NOT_FOUND or BAD_USER_INPUT, the latter also
// when longer text would take the account past its quota; CONFLICT, with the
// ExistingLinkID, for a URL another of the account's links has.
func (s *Store) UpdateLink(ctx context.Context, id int64, upd linkapi.LinkUpdate) (*linkapi.Link, error) {
	if err := validateLink(upd.URL, upd.Title, upd.Description, upd.Notes); err != nil {
		return nil, err
	}
	var names []string
	if upd.Tags != nil {
		var err error
		if names, err = linkapi.NormalizeTagNames(upd.Tags); err != nil {
			return nil, err
		}
		if len(names) > linkapi.MaxTagsPerLink {
			return nil, linkapi.Errorf(linkapi.EINVALID, "a link carries at most %d tags", linkapi.MaxTagsPerLink)
		}
	}
	row, err := s.changeLink(ctx, id, func(tx tenant, u *usage, row *linkRow) error {
		before := row.textBytes()
		if upd.URL != nil {
			if err := refuseDuplicate(tx, *upd.URL, row.ID); err != nil {
				return err
			}
			row.setURL(*upd.URL)
		}
		if upd.Title != nil {
			row.Title = emptyToNil(upd.Title)
		}
		if upd.Description != nil {
			row.Description = emptyToNil(upd.Description)
		}
		if upd.Notes != nil {
			row.Notes = emptyToNil(upd.Notes)
		}
		setBool(&row.Unread, upd.Unread)
		setBool(&row.Archived, upd.Archived)
		setBool(&row.Favorite, upd.Favorite)
		row.UpdatedAt = s.now()
		if err := u.add(0, row.textBytes()-before); err != nil {
			return err
		}
		var changes []change // the tags it makes, then the link
		if upd.Tags != nil {
			made, err := setTags(tx, row.ID, names, row.UpdatedAt)
			if err != nil {
				return err
			}
			for _, t := range made {
				changes = append(changes, tagChange(linkapi.ChangeCreated, t))
			}
		}
		if err := tx.table(row).Select("url", "url_hash", "title", "description", "notes", "unread", "archived", "favorite", "updated_at").
			Updates(row).Error; err != nil {
			return err
		}
		return recordChanges(tx, row.UpdatedAt, append(changes, linkChange(linkapi.ChangeUpdated, row.ID))...)
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// setTags makes names the whole set of tags of the tenant's link, locked by the
// caller: it creates the missing tags, takes off the link the tags not named and
// puts on it those it lacks, in a fixed number of statements whatever the names.
func setTags(tx tenant, linkID int64, names []string, now time.Time) (made []int64, err error) {
	ids, made, err := tagsByName(tx, names, now)
	if err != nil {
		return nil, err
	}
	var current []int64
	if err := tx.table(&linkTagRow{}).Where("link_tags.link_id = ?", linkID).Pluck("link_tags.tag_id", &current).Error; err != nil {
		return nil, err
	}
	keep := make(map[int64]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	var gone []int64
	has := make(map[int64]bool, len(current))
	for _, id := range current {
		has[id] = true
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		err := tx.table(&linkTagRow{}).Where("link_tags.link_id = ? AND link_tags.tag_id IN ?", linkID, gone).Delete(&linkTagRow{}).Error
		if err != nil {
			return nil, err
		}
	}
	var pairs []linkTagRow
	for _, n := range names {
		if !has[ids[n]] {
			pairs = append(pairs, linkTagRow{LinkID: linkID, TagID: ids[n], CreatedAt: now})
		}
	}
	return made, create(tx, pairs, importBatch)
}

// lockLink reads again, with its row locked until tx ends, a link found before
// tx began, so that a write sees the latest committed text. NOT_FOUND when it was
// deleted in between.
func lockLink(tx tenant, id int64) (*linkRow, error) {
	var row linkRow
	err := tx.table(&linkRow{}).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Where("links.id = ?", id).Take(&row).Error
	if err != nil {
		return nil, translate(err, "link")
	}
	return &row, nil
}

// setBool sets *dst to *v when v is given.
func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

// emptyToNil turns an explicit empty string into NULL, so that "" clears a field.
func emptyToNil(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

// DeleteLink deletes a link and its tag pairs, giving its room back to the
// account's quota. NOT_FOUND.
func (s *Store) DeleteLink(ctx context.Context, id int64) error {
	found, err := s.findLink(ctx, writing, id)
	if err != nil {
		return err
	}
	return s.transact(ctx, writing, found.AccountID, func(tx tenant) error {
		u, err := s.lockUsage(tx)
		if err != nil {
			return err
		}
		row, err := lockLink(tx, found.ID)
		if err != nil {
			return err
		}
		if err := tx.table(row).Delete(row).Error; err != nil {
			return err
		}
		if err := u.add(-1, -row.textBytes()); err != nil {
			return err
		}
		return recordChanges(tx, s.now(), linkChange(linkapi.ChangeDeleted, row.ID))
	})
}

// TagLink puts a tag on a link. NOT_FOUND when either is not the caller's;
// BAD_USER_INPUT when an administrator names a link and a tag of two accounts, or
// when the link already carries MaxTagsPerLink others: counted with the link
// locked, so that concurrent TagLinks cannot pass the cap together.
func (s *Store) TagLink(ctx context.Context, linkID, tagID int64) (*linkapi.Link, error) {
	link, tag, err := s.linkAndTag(ctx, linkID, tagID)
	if err != nil {
		return nil, err
	}
	err = s.transact(ctx, writing, link.AccountID, func(tx tenant) error {
		if err := lockAccount(tx); err != nil {
			return err
		}
		if err := lockRow(tx, &linkRow{}, link.ID); err != nil {
			return translate(err, "link")
		}
		var n int64
		err := tx.table(&linkTagRow{}).Where("link_tags.link_id = ? AND link_tags.tag_id <> ?", link.ID, tag.ID).Count(&n).Error
		if err != nil {
			return err
		}
		if n >= linkapi.MaxTagsPerLink {
			return linkapi.Errorf(linkapi.EINVALID, "a link carries at most %d tags", linkapi.MaxTagsPerLink)
		}
		now := s.now()
		added, err := pair(tx, link.ID, tag.ID, now)
		if err != nil || !added {
			return translate(err, "tag")
		}
		return recordChanges(tx, now, linkChange(linkapi.ChangeUpdated, link.ID))
	})
	if err != nil {
		return nil, err
	}
	return link.domain(), nil
}

// lockRow locks the row of model's table with the given id until tx ends, so that
// writers which count the rows under it and then add one take turns: on MySQL
// with SELECT ... FOR UPDATE; SQLite's transactions already take turns, as they
// take the write lock when they begin (see openSQLite). gorm.ErrRecordNotFound
// when the row is gone or not the tenant's.
func lockRow(tx tenant, model table, id int64) error {
	return tx.table(model).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Select(model.TableName()+".id").Where(model.TableName()+".id = ?", id).Take(model).Error
}

// UntagLink takes a tag off a link; taking off a tag the link lacks is not an error.
func (s *Store) UntagLink(ctx context.Context, linkID, tagID int64) (*linkapi.Link, error) {
	link, tag, err := s.linkAndTag(ctx, linkID, tagID)
	if err != nil {
		return nil, err
	}
	err = s.transact(ctx, writing, link.AccountID, func(tx tenant) error {
		if err := lockAccount(tx); err != nil {
			return err
		}
		res := tx.table(&linkTagRow{}).Where("link_tags.link_id = ? AND link_tags.tag_id = ?", link.ID, tag.ID).Delete(&linkTagRow{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return recordChanges(tx, s.now(), linkChange(linkapi.ChangeUpdated, link.ID))
	})
	if err != nil {
		return nil, err
	}
	return link.domain(), nil
}

// linkAndTag loads a link the caller may write and a tag it may read, of one account.
func (s *Store) linkAndTag(ctx context.Context, linkID, tagID int64) (*linkRow, *tagRow, error) {
	link, err := s.findLink(ctx, writing, linkID)
	if err != nil {
		return nil, nil, err
	}
	tag, err := s.findTag(ctx, reading, tagID)
	if err != nil {
		return nil, nil, err
	}
	if link.AccountID != tag.AccountID {
		return nil, nil, linkapi.Errorf(linkapi.EINVALID, "the link and the tag belong to different accounts")
	}
	return link, tag, nil
}

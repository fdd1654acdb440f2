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

// linkQuery applies filter (but not paging) to a tenant-confined links query;
// BAD_USER_INPUT for a search longer than MaxSearchLength.
func (s *Store) linkQuery(ctx context.Context, filter linkapi.LinkFilter) (*gorm.DB, error) {
	if err := linkapi.ValidateText("search", filter.Search, linkapi.MaxSearchLength); err != nil {
		return nil, err
	}
	tn, err := s.listTenant(ctx, filter.AccountID)
	if err != nil {
		return nil, err
	}
	tx := tn.table(&linkRow{})
	if filter.TagID != nil {
		tx = tx.Where("links.id IN (?)", tn.table(&linkTagRow{}).Select("link_tags.link_id").Where("link_tags.tag_id = ?", *filter.TagID))
	}
	if filter.TagName != nil {
		tx = tx.Where("links.id IN (?)", tn.table(&linkTagRow{}).
			Select("link_tags.link_id").
			Joins("JOIN tags ON tags.id = link_tags.tag_id").
			Where("tags.name = ?", *filter.TagName))
	}
	if filter.Search != nil && *filter.Search != "" {
		p := likePattern(*filter.Search)
		tx = tx.Where("(links.url LIKE ? ESCAPE '!' OR links.title LIKE ? ESCAPE '!')", p, p)
	}
	return tx, nil
}

// FindLinks returns a page of links, newest first. FORBIDDEN when filter.AccountID
// names another account and the caller is not an administrator.
func (s *Store) FindLinks(ctx context.Context, filter linkapi.LinkFilter) (*linkapi.LinkList, error) {
	tx, err := s.linkQuery(ctx, filter)
	if err != nil {
		return nil, err
	}
	rows, err := scanLinks(paged(tx, "links.id", filter.Page))
	if err != nil {
		return nil, err
	}
	rows, more := trimPage(rows, filter.First)
	return &linkapi.LinkList{Links: domains(rows, (*linkRow).domain), HasNextPage: more}, nil
}

// CountLinks counts the links FindLinks would list, across every page.
func (s *Store) CountLinks(ctx context.Context, filter linkapi.LinkFilter) (int, error) {
	tx, err := s.linkQuery(ctx, filter)
	if err != nil {
		return 0, err
	}
	var n int64
	err = tx.Count(&n).Error
	return int(n), err
}

func validateLink(url *string, title, description *string) error {
	if url != nil {
		if err := linkapi.ValidateURL(*url); err != nil {
			return err
		}
	}
	if err := linkapi.ValidateText("title", title, linkapi.MaxTitleLength); err != nil {
		return err
	}
	return linkapi.ValidateText("description", description, linkapi.MaxDescriptionLength)
}

// CreateLink saves a link in the caller's account (or, for an administrator, the
// named one), creating missing tags by name. BAD_USER_INPUT, FORBIDDEN or NOT_FOUND;
// BAD_USER_INPUT too when the account's quota has no room for the link.
func (s *Store) CreateLink(ctx context.Context, in linkapi.LinkCreate) (*linkapi.Link, error) {
	if err := validateLink(&in.URL, in.Title, in.Description); err != nil {
		return nil, err
	}
	names, err := linkapi.NormalizeTagNames(in.Tags)
	if err != nil {
		return nil, err
	}
	if len(names) > linkapi.MaxTagsPerLink {
		return nil, linkapi.Errorf(linkapi.EINVALID, "a link carries at most %d tags", linkapi.MaxTagsPerLink)
	}
	accountID, err := s.targetAccount(ctx, writing, in.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	row := linkRow{URL: in.URL, Title: in.Title, Description: in.Description, CreatedAt: now, UpdatedAt: now}
	err = s.transact(ctx, writing, accountID, func(tx tenant) error {
		u, err := s.lockUsage(tx)
		if err != nil {
			return err
		}
		if err := u.add(1, row.textBytes()); err != nil {
			return err
		}
		if err := createOne(tx, &row); err != nil {
			return err
		}
		for _, name := range names {
			tag, err := findOrCreateTag(tx, name, now)
			if err != nil {
				return err
			}
			if err := pair(tx, row.ID, tag.ID, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "link")
	}
	return row.domain(), nil
}

// findOrCreateTag returns the tenant's tag called name, creating it when missing.
func findOrCreateTag(tx tenant, name string, now time.Time) (*tagRow, error) {
	var tag tagRow
	err := tx.table(&tagRow{}).Where("tags.name = ?", name).Limit(1).Find(&tag).Error
	if err != nil {
		return nil, err
	}
	if tag.ID != 0 {
		return &tag, nil
	}
	tag = tagRow{Name: name, CreatedAt: now}
	if err := createOne(tx, &tag); err != nil {
		return nil, err
	}
	return &tag, nil
}

// pair joins a link and a tag of the tenant's account; joining them again is not
// an error.
func pair(tx tenant, linkID, tagID int64, now time.Time) error {
	return createOne(tx, &linkTagRow{LinkID: linkID, TagID: tagID, CreatedAt: now}, clause.OnConflict{DoNothing: true})
}

// UpdateLink changes the given fields of a link; given tags replace its tags,
// creating those missing by name. NOT_FOUND or BAD_USER_INPUT, the latter also
// when longer text would take the account past its quota.
func (s *Store) UpdateLink(ctx context.Context, id int64, upd linkapi.LinkUpdate) (*linkapi.Link, error) {
	if err := validateLink(upd.URL, upd.Title, upd.Description); err != nil {
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
		before := row.textBytes()
		if upd.URL != nil {
			row.URL = *upd.URL
		}
		if upd.Title != nil {
			row.Title = emptyToNil(upd.Title)
		}
		if upd.Description != nil {
			row.Description = emptyToNil(upd.Description)
		}
		row.UpdatedAt = s.now()
		if err := u.add(0, row.textBytes()-before); err != nil {
			return err
		}
		if upd.Tags != nil {
			if err := setTags(tx, row.ID, names, row.UpdatedAt); err != nil {
				return err
			}
		}
		return tx.table(row).Select("url", "title", "description", "updated_at").Updates(row).Error
	})
	if err != nil {
		return nil, translate(err, "link")
	}
	return row.domain(), nil
}

// setTags makes names the whole set of tags of the tenant's link, locked by the
// caller: it creates the missing tags, takes off the link the tags not named and
// puts on it those it lacks, in a fixed number of statements whatever the names.
func setTags(tx tenant, linkID int64, names []string, now time.Time) error {
	ids := make(map[string]int64, len(names))
	if len(names) > 0 {
		var found []tagRow
		if err := tx.table(&tagRow{}).Where("tags.name IN ?", names).Find(&found).Error; err != nil {
			return err
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
		if err := createTags(tx, missing, ids); err != nil {
			return err
		}
	}
	var current []int64
	if err := tx.table(&linkTagRow{}).Where("link_tags.link_id = ?", linkID).Pluck("link_tags.tag_id", &current).Error; err != nil {
		return err
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
			return err
		}
	}
	var pairs []linkTagRow
	for _, n := range names {
		if !has[ids[n]] {
			pairs = append(pairs, linkTagRow{LinkID: linkID, TagID: ids[n], CreatedAt: now})
		}
	}
	return create(tx, pairs, importBatch)
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
		return u.add(-1, -row.textBytes())
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
		return translate(pair(tx, link.ID, tag.ID, s.now()), "tag")
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
	tn, err := s.as(ctx, writing, link.AccountID)
	if err != nil {
		return nil, err
	}
	err = tn.table(&linkTagRow{}).Where("link_tags.link_id = ? AND link_tags.tag_id = ?", link.ID, tag.ID).Delete(&linkTagRow{}).Error
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

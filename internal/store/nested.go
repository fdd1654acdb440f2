package store

import (
	"context"
	"database/sql"
	"strings"

	"gorm.io/gorm"

	"linkapi/internal/linkapi"
)

// The reads in this file serve connections nested under a list (the links of
// every tag of a page, the links and tags of every account of a page): each
// reads one page or one count for many parents with one statement, so that a
// request costs the same number of statements however long its lists are. A page
// is the one FindLinks or FindTags would return for that parent alone, in the same
// order and with the same cursor: ROW_NUMBER() OVER (PARTITION BY parent ...)
// numbers each parent's rows in order (links newest first by created_at, tags
// by id), after the cursor, and the statement
// keeps First+1 of each (SQLite 3.25 and MariaDB 10.2 have window functions).
// Every read starts from Store.owned, so a parent of another account gets no
// rows: as with FindTagsByLinkIDs, it is absent from the answer (which is nil,
// and reads nothing, when no parents are given).

// FindLinksByTagIDs returns page p of the links carrying each of the given tags,
// keyed by tag id, as FindLinks with that TagID would list them; a tag with no
// links on the page, or one the caller may not read, is absent.
func (s *Store) FindLinksByTagIDs(ctx context.Context, tagIDs []int64, p linkapi.LinkPage) (map[int64]*linkapi.LinkList, error) {
	if err := checkCursor(p, linkapi.OrderCreatedDesc); err != nil {
		return nil, err
	}
	tn, _, err := s.tenantOf(ctx, reading)
	if err != nil || len(tagIDs) == 0 {
		return nil, err
	}
	tx := tn.table(&linkRow{}).Joins("JOIN link_tags ON link_tags.link_id = links.id").Where("link_tags.tag_id IN ?", tagIDs)
	return linkPages(tn, tx, "link_tags.tag_id", p)
}

// FindLinksByAccountIDs returns page p of the links of each of the given
// accounts, keyed by account id, as FindLinks with that AccountID would list them;
// an account with no links on the page, or one the caller may not read, is absent.
func (s *Store) FindLinksByAccountIDs(ctx context.Context, accountIDs []int64, p linkapi.LinkPage) (map[int64]*linkapi.LinkList, error) {
	if err := checkCursor(p, linkapi.OrderCreatedDesc); err != nil {
		return nil, err
	}
	tn, _, err := s.tenantOf(ctx, reading)
	if err != nil || len(accountIDs) == 0 {
		return nil, err
	}
	return linkPages(tn, tn.table(&linkRow{}).Where("links.account_id IN ?", accountIDs), "links.account_id", p)
}

// FindTagsByAccountIDs returns page p of the tags of each of the given accounts,
// each with its LinkCount, keyed by account id, as FindTags with that AccountID
// would list them; an account with no tags on the page, or one the caller may not
// read, is absent.
func (s *Store) FindTagsByAccountIDs(ctx context.Context, accountIDs []int64, p linkapi.Page) (map[int64]*linkapi.TagList, error) {
	tn, _, err := s.tenantOf(ctx, reading)
	if err != nil || len(accountIDs) == 0 {
		return nil, err
	}
	tx := tn.table(&tagRow{}).Where("tags.account_id IN ?", accountIDs)
	if p.After > 0 {
		tx = tx.Where("tags.id < ?", p.After)
	}
	pages := ranked(tn, tx, "tags.id, tags.account_id, tags.name, tags.created_at", "tags.account_id", "tags.id DESC", p.First).
		Select("id, account_id, name, created_at, parent_id, " +
			"(SELECT COUNT(*) FROM link_tags WHERE link_tags.tag_id = ranked.id) AS link_count")
	type rankedTag struct {
		tagRow
		parent, linkCount int64
	}
	rows, err := scanRows(pages, func(rows *sql.Rows, r *rankedTag) error {
		return rows.Scan(&r.ID, &r.AccountID, &r.Name, &r.CreatedAt, &r.parent, &r.linkCount)
	})
	if err != nil {
		return nil, err
	}
	out := map[int64]*linkapi.TagList{}
	for _, group := range byParent(rows, func(r *rankedTag) int64 { return r.parent }) {
		page, more := trimPage(group, p.First)
		tags := make([]*linkapi.Tag, len(page))
		for i := range page {
			tags[i] = page[i].domain()
			n := int(page[i].linkCount)
			tags[i].LinkCount = &n
		}
		out[group[0].parent] = &linkapi.TagList{Tags: tags, HasNextPage: more}
	}
	return out, nil
}

// CountLinksByAccountIDs returns the number of links of each of the given
// accounts, keyed by account id, with one statement; an account with none, or one
// the caller may not read, is absent.
func (s *Store) CountLinksByAccountIDs(ctx context.Context, accountIDs []int64) (map[int64]int, error) {
	tx, _, err := s.owned(ctx, reading, &linkRow{})
	if err != nil {
		return nil, err
	}
	return countBy(tx, "links.account_id", accountIDs)
}

// CountTagsByAccountIDs returns the number of tags of each of the given accounts,
// keyed by account id, with one statement; an account with none, or one the
// caller may not read, is absent.
func (s *Store) CountTagsByAccountIDs(ctx context.Context, accountIDs []int64) (map[int64]int, error) {
	tx, _, err := s.owned(ctx, reading, &tagRow{})
	if err != nil {
		return nil, err
	}
	return countBy(tx, "tags.account_id", accountIDs)
}

// linkPages reads page p of the links of tx, a links query of tn, for each value
// of the column parent.
func linkPages(tn tenant, tx *gorm.DB, parent string, p linkapi.LinkPage) (map[int64]*linkapi.LinkList, error) {
	type rankedLink struct {
		linkRow
		parent int64
	}
	pages := ranked(tn, afterCursor(tx, p.After), plainLinkColumns, parent, orderClause(linkapi.OrderCreatedDesc), p.First).
		Select(strings.ReplaceAll(plainLinkColumns, "links.", "") + ", parent_id")
	rows, err := scanRows(pages, func(rows *sql.Rows, r *rankedLink) error {
		return rows.Scan(linkFields(&r.linkRow, &r.parent)...)
	})
	if err != nil {
		return nil, err
	}
	out := map[int64]*linkapi.LinkList{}
	for _, group := range byParent(rows, func(r *rankedLink) int64 { return r.parent }) {
		page, more := trimPage(group, p.First)
		links := make([]*linkapi.Link, len(page))
		for i := range page {
			links[i] = page[i].domain()
		}
		out[group[0].parent] = &linkapi.LinkList{Links: links, HasNextPage: more}
	}
	return out, nil
}

// ranked selects columns and the column parent (as parent_id) of tx's rows, a
// query of tn already past the page's cursor, numbered in order within each
// parent, and keeps the first first+1 of each parent, ordered by parent and then
// in order. The caller selects from it, as ranked, the columns it reads.
func ranked(tn tenant, tx *gorm.DB, columns, parent, order string, first int) *gorm.DB {
	inner := tx.Select(columns + ", " + parent + " AS parent_id, " +
		"ROW_NUMBER() OVER (PARTITION BY " + parent + " ORDER BY " + order + ") AS row_rank")
	return tn.from(inner, "ranked").
		Where("row_rank <= ?", first+1).
		Order("parent_id, row_rank")
}

// byParent splits rows, ordered by parent, into one group per parent.
func byParent[R any](rows []R, parent func(*R) int64) [][]R {
	var groups [][]R
	for i := range rows {
		if i == 0 || parent(&rows[i]) != parent(&rows[i-1]) {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], rows[i])
	}
	return groups
}

// countBy counts the rows of tx for each of the given values of column.
func countBy(tx *gorm.DB, column string, ids []int64) (map[int64]int, error) {
	out := make(map[int64]int, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ParentID int64
		N        int
	}
	err := tx.Select(column+" AS parent_id, COUNT(*) AS n").
		Where(column+" IN ?", ids).
		Group(column).
		Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ParentID] = r.N
	}
	return out, nil
}

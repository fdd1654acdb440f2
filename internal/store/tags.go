package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"linkapi/internal/linkapi"
)

// FindTagByID returns the tag, or NOT_FOUND when it is missing or another account's.
func (s *Store) FindTagByID(ctx context.Context, id int64) (*linkapi.Tag, error) {
	row, err := s.findTag(ctx, reading, id)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (s *Store) findTag(ctx context.Context, a access, id int64) (*tagRow, error) {
	tx, _, err := s.owned(ctx, a, &tagRow{})
	if err != nil {
		return nil, err
	}
	var row tagRow
	if err := tx.Where("tags.id = ?", id).Take(&row).Error; err != nil {
		return nil, translate(err, "tag")
	}
	return &row, nil
}

func (s *Store) tagQuery(ctx context.Context, filter linkapi.TagFilter) (*gorm.DB, error) {
	tn, err := s.listTenant(ctx, filter.AccountID)
	if err != nil {
		return nil, err
	}
	tx := tn.table(&tagRow{})
	if filter.LinkID != nil {
		tx = tx.Where("tags.id IN (?)", tn.table(&linkTagRow{}).Select("link_tags.tag_id").Where("link_tags.link_id = ?", *filter.LinkID))
	}
	return tx, nil
}

// FindTags returns a page of tags, newest first. FORBIDDEN when filter.AccountID
// names another account and the caller is not an administrator.
func (s *Store) FindTags(ctx context.Context, filter linkapi.TagFilter) (*linkapi.TagList, error) {
	tx, err := s.tagQuery(ctx, filter)
	if err != nil {
		return nil, err
	}
	// Each tag comes with its number of links, counted on the (tag_id, link_id)
	// index, so that a list of tags with links { totalCount } costs one statement.
	// A pair joins a link and a tag of one account, so whoever sees the tag sees
	// all of those links.
	var rows []tagJoinRow
	err = paged(tx, "tags.id", filter.Page).
		Select("tags.*, (SELECT COUNT(*) FROM link_tags WHERE link_tags.tag_id = tags.id) AS link_count").
		Find(&rows).Error
	if err != nil {
		return nil, err
	}
	rows, more := trimPage(rows, filter.First)
	tags := make([]*linkapi.Tag, len(rows))
	for i := range rows {
		tags[i] = rows[i].domain()
		tags[i].LinkCount = &rows[i].LinkCount
	}
	return &linkapi.TagList{Tags: tags, HasNextPage: more}, nil
}

// CountTags counts the tags FindTags would list, across every page.
func (s *Store) CountTags(ctx context.Context, filter linkapi.TagFilter) (int, error) {
	tx, err := s.tagQuery(ctx, filter)
	if err != nil {
		return 0, err
	}
	var n int64
	err = tx.Count(&n).Error
	return int(n), err
}

// FindTagsByLinkIDs returns the tags on each of the given links, by name, keyed by
// link id; links the caller may not read get none.
func (s *Store) FindTagsByLinkIDs(ctx context.Context, linkIDs []int64, fields linkapi.TagFields) (map[int64][]*linkapi.Tag, error) {
	// The statement starts from the links' rows of link_tags (its primary key
	// begins with link_id) and reads each tag by its primary key: CROSS JOIN
	// keeps SQLite's planner to that order (MySQL takes it as an inner join and
	// plans alike), where it would otherwise walk every tag of the account and
	// probe link_tags for each tag and link, about three times the work on a
	// page of 100 links. The tag is the link tag's account's (the foreign key
	// holds both), so the tenant filter on link_tags confines both.
	//
	// The statement reads a row per tag, with the ids of its links listed by
	// group_concat: SQLite's driver makes three strings of each text value of a
	// row, and a page shares few tags among many of its links, so that a row per
	// tag of a link made most of the allocations of a page of links with their
	// tags on SQLite, and on MySQL, with its driver's work per row, half of them
	// (2239 → 1262 on a page of 100 links; mysqlurl raises the session's
	// group_concat_max_len, 1024 bytes by default on MySQL, for the lists). It
	// groups by the tag's id, not in the order of names, and the few tags are
	// put in that order here: SQLite sorting the rows by name was a fifth of the
	// statement (BenchmarkLinkPage). It reads the tag's time only when asked:
	// on SQLite its text was a seventh of the statement.
	tn, _, err := s.tenantOf(ctx, reading)
	if err != nil {
		return nil, err
	}
	withTime := fields&linkapi.TagCreatedAt != 0
	columns := s.reads.tagJoinColumns
	if withTime {
		columns = s.reads.tagTimeJoinColumns
	}
	q := inList(tn.selectFrom(&linkTagRow{}, columns,
		"CROSS JOIN tags ON tags.id = link_tags.tag_id AND tags.account_id = link_tags.account_id"), "link_tags.link_id", linkIDs)
	rows, err := s.query(ctx, q.groupBy("tags.id"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// Each tag is made once, its name read as raw bytes and its time parsed
	// only then, and the lists of all the links share one backing array.
	type pair struct {
		link int64
		tag  *linkapi.Tag
	}
	// group is a tag of a row, and the ids of its links in flat.
	type group struct {
		tag      *linkapi.Tag
		from, to int
	}
	var (
		id, account int64
		name, links sql.RawBytes
		created     any
		groups      []group
	)
	flat := make([]int64, 0, 3*len(linkIDs))
	dest := []any{intScan{&id}, intScan{&account}, &name}
	if withTime {
		dest = append(dest, rawTime{&created})
	}
	dest = append(dest, &links)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		tag := &linkapi.Tag{ID: id, AccountID: account, Name: string(name)}
		if withTime {
			if err := (timeScan{&tag.CreatedAt}).Scan(created); err != nil {
				return nil, err
			}
		}
		from := len(flat)
		for len(links) > 0 {
			i := bytes.IndexByte(links, ',')
			if i < 0 {
				i = len(links)
			}
			link, ok := parseInt(links[:i])
			if !ok {
				return nil, fmt.Errorf("store: cannot read %q as a list of link ids", links)
			}
			flat = append(flat, link)
			links = links[min(i+1, len(links)):]
		}
		groups = append(groups, group{tag, from, len(flat)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b group) int { return byNameThenID(a.tag, b.tag) })
	pairs := make([]pair, 0, len(flat))
	counts := make(map[int64]int, len(linkIDs))
	for _, g := range groups {
		for _, link := range flat[g.from:g.to] {
			pairs = append(pairs, pair{link, g.tag})
			counts[link]++
		}
	}
	backing := make([]*linkapi.Tag, len(pairs))
	out := make(map[int64][]*linkapi.Tag, len(counts))
	off := 0
	for _, p := range pairs {
		list, ok := out[p.link]
		if !ok {
			n := counts[p.link]
			list, off = backing[off:off:off+n], off+n
		}
		out[p.link] = append(list, p.tag)
	}
	return out, nil
}

// CountLinksByTagIDs returns the number of links carrying each of the given tags,
// keyed by tag id, with one statement; a tag with no links, or one the caller may
// not read, is absent.
func (s *Store) CountLinksByTagIDs(ctx context.Context, tagIDs []int64) (map[int64]int, error) {
	tx, _, err := s.owned(ctx, reading, &linkTagRow{})
	if err != nil {
		return nil, err
	}
	return countBy(tx, "link_tags.tag_id", tagIDs)
}

// CreateTag creates a tag. BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, or CONFLICT when the
// account already has a tag of that name.
func (s *Store) CreateTag(ctx context.Context, in linkapi.TagCreate) (*linkapi.Tag, error) {
	name, err := linkapi.NormalizeTagName(in.Name)
	if err != nil {
		return nil, err
	}
	accountID, err := s.targetAccount(ctx, writing, in.AccountID)
	if err != nil {
		return nil, err
	}
	row := tagRow{Name: name, CreatedAt: s.now()}
	err = s.transact(ctx, writing, accountID, func(tx tenant) error {
		row.ID = 0 // an attempt before this one may have numbered it
		if err := lockAccount(tx); err != nil {
			return err
		}
		if err := createOne(tx, &row); err != nil {
			return err
		}
		return recordChanges(tx, row.CreatedAt, tagChange(linkapi.ChangeCreated, row.ID))
	})
	if err != nil {
		return nil, translate(err, "tag")
	}
	return row.domain(), nil
}

// RenameTag renames a tag. NOT_FOUND, BAD_USER_INPUT or CONFLICT.
func (s *Store) RenameTag(ctx context.Context, id int64, name string) (*linkapi.Tag, error) {
	name, err := linkapi.NormalizeTagName(name)
	if err != nil {
		return nil, err
	}
	row, err := s.findTag(ctx, writing, id)
	if err != nil {
		return nil, err
	}
	err = s.transact(ctx, writing, row.AccountID, func(tx tenant) error {
		if err := lockAccount(tx); err != nil {
			return err
		}
		if err := lockRow(tx, &tagRow{}, row.ID); err != nil {
			return err // gone since it was read
		}
		if err := tx.table(row).Update("name", name).Error; err != nil {
			return err
		}
		return recordChanges(tx, s.now(), tagChange(linkapi.ChangeUpdated, row.ID))
	})
	if err != nil {
		return nil, translate(err, "tag")
	}
	row.Name = name
	return row.domain(), nil
}

// DeleteTag deletes a tag, taking it off its links. NOT_FOUND. The feed records
// the tag's deletion, not each of its links losing it: a client that keeps the
// tags of a link by id drops the id when the tag goes (see docs/sync.md).
func (s *Store) DeleteTag(ctx context.Context, id int64) error {
	row, err := s.findTag(ctx, writing, id)
	if err != nil {
		return err
	}
	return s.transact(ctx, writing, row.AccountID, func(tx tenant) error {
		if err := lockAccount(tx); err != nil {
			return err
		}
		if err := lockRow(tx, &tagRow{}, row.ID); err != nil {
			return translate(err, "tag")
		}
		if err := tx.table(row).Delete(row).Error; err != nil {
			return err
		}
		return recordChanges(tx, s.now(), tagChange(linkapi.ChangeDeleted, row.ID))
	})
}

// byNameThenID orders tags as ORDER BY tags.name, tags.id does: names compare
// bytewise under SQLite's BINARY collation and MySQL's utf8mb4_bin, the
// collations of tags.name.
func byNameThenID(a, b *linkapi.Tag) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

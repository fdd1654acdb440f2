package store

import (
	"context"
	"time"

	"linkapi/internal/linkapi"
)

// importBatch is how many rows go in one INSERT.
const importBatch = 500

// ImportLinks adds links in bulk in one transaction: existing URLs of the account
// and repeats within the import are skipped, invalid entries counted and left out,
// tags found or created by name. FORBIDDEN, NOT_FOUND or BAD_USER_INPUT; an import
// whose new links would take the account past its quota imports none of them
// (BAD_USER_INPUT).
func (s *Store) ImportLinks(ctx context.Context, accountID *int64, links []linkapi.LinkImport) (*linkapi.ImportResult, error) {
	return s.ImportAccount(ctx, accountID, linkapi.AccountImport{Links: links})
}

// ImportAccount is ImportLinks with tags of their own, kept with their dates
// whether or not a link carries them, and the links' UpdatedAt; with in.Strict,
// one invalid entry refuses the whole import before anything is written.
func (s *Store) ImportAccount(ctx context.Context, accountID *int64, in linkapi.AccountImport) (*linkapi.ImportResult, error) {
	links := in.Links
	if len(links) > linkapi.MaxImportLinks {
		return nil, linkapi.Errorf(linkapi.EINVALID, "an import holds at most %d links", linkapi.MaxImportLinks)
	}
	if len(in.Tags) > linkapi.MaxImportLinks {
		return nil, linkapi.Errorf(linkapi.EINVALID, "an import holds at most %d tags", linkapi.MaxImportLinks)
	}
	tagDates := make(map[string]time.Time, len(in.Tags))
	var ownTags []string
	for i, t := range in.Tags {
		name, err := linkapi.NormalizeTagName(t.Name)
		if err != nil {
			if in.Strict {
				return nil, linkapi.Errorf(linkapi.EINVALID, "tag %d (%q): %s", i+1, t.Name, linkapi.ErrorMessage(err))
			}
			continue
		}
		if _, ok := tagDates[name]; !ok {
			ownTags = append(ownTags, name)
		}
		tagDates[name] = t.CreatedAt
	}
	if in.Strict {
		for i, l := range links {
			if _, err := validateLinkCreate(l.LinkCreate); err != nil {
				return nil, linkapi.Errorf(linkapi.EINVALID, "link %d (%q): %s", i+1, l.URL, linkapi.ErrorMessage(err))
			}
		}
	}
	owner, err := s.targetAccount(ctx, writing, accountID)
	if err != nil {
		return nil, err
	}
	res := &linkapi.ImportResult{}
	err = s.transact(ctx, writing, owner, func(tx tenant) error {
		*res = linkapi.ImportResult{} // counted afresh by each attempt
		u, err := s.lockUsage(tx)
		if err != nil {
			return err
		}
		// A URL is the account's already when it normalises as a saved one does,
		// as createLink decides (there, CONFLICT; here, skipped).
		var keys []string
		if err := tx.table(&linkRow{}).Where("links.url_hash IS NOT NULL").Pluck("links.url_hash", &keys).Error; err != nil {
			return err
		}
		seen := make(map[string]bool, len(keys)+len(links))
		for _, k := range keys {
			seen[k] = true
		}
		var tags []tagRow
		if err := tx.table(&tagRow{}).Find(&tags).Error; err != nil {
			return err
		}
		tagIDs := make(map[string]int64, len(tags))
		for _, t := range tags {
			tagIDs[t.Name] = t.ID
		}

		now := s.now()
		var rows []linkRow
		var rowTags [][]string
		for _, in := range links {
			names := importTagNames(in.Tags)
			if validateLink(&in.URL, in.Title, in.Description, in.Notes) != nil {
				res.Invalid++
				continue
			}
			key := linkapi.URLKey(in.URL)
			if seen[key] {
				res.Skipped++
				continue
			}
			seen[key] = true
			created := pastOr(in.CreatedAt, now)
			updated := pastOr(in.UpdatedAt, now)
			if updated.Before(created) {
				updated = created
			}
			rows = append(rows, linkRow{URL: in.URL, Title: emptyToNil(in.Title),
				Description: emptyToNil(in.Description), Notes: emptyToNil(in.Notes),
				Unread: in.Unread, Archived: in.Archived, Favorite: in.Favorite, CreatedAt: created, UpdatedAt: updated})
			rowTags = append(rowTags, names)
		}
		var newTags []tagRow
		for _, n := range ownTags {
			if _, ok := tagIDs[n]; !ok {
				tagIDs[n] = 0
				newTags = append(newTags, tagRow{Name: n, CreatedAt: pastOr(tagDates[n], now)})
			}
		}
		if len(rows) == 0 && len(newTags) == 0 {
			return nil
		}
		bytes := 0
		for i := range rows {
			bytes += rows[i].textBytes()
		}
		if err := u.add(len(rows), bytes); err != nil {
			return err
		}
		if err := create(tx, rows, importBatch); err != nil {
			return err
		}
		// Read the new ids back by URL and name rather than trust that a multi-row
		// INSERT numbered its rows consecutively, which MySQL's interleaved
		// auto-increment mode does not promise.
		linkIDs := make(map[string]int64, len(rows))
		if err := readIDs(tx, &linkRow{}, "url", rows, func(r linkRow) string { return r.URL }, linkIDs); err != nil {
			return err
		}
		for _, names := range rowTags {
			for _, n := range names {
				if _, ok := tagIDs[n]; !ok {
					tagIDs[n] = 0
					newTags = append(newTags, tagRow{Name: n, CreatedAt: pastOr(tagDates[n], now)})
				}
			}
		}
		if err := createTags(tx, newTags, tagIDs); err != nil {
			return err
		}
		var pairs []linkTagRow
		for i, names := range rowTags {
			for _, n := range names {
				pairs = append(pairs, linkTagRow{LinkID: linkIDs[rows[i].URL], TagID: tagIDs[n], CreatedAt: now})
			}
		}
		if err := create(tx, pairs, importBatch); err != nil {
			return err
		}
		res.Imported, res.TagsMade = len(rows), len(newTags)
		changes := make([]change, 0, len(rows)+len(newTags))
		for _, t := range newTags {
			changes = append(changes, tagChange(linkapi.ChangeCreated, tagIDs[t.Name]))
		}
		for _, r := range rows {
			changes = append(changes, linkChange(linkapi.ChangeCreated, linkIDs[r.URL]))
		}
		return recordChanges(tx, now, changes...)
	})
	if err != nil {
		return nil, translate(err, "link")
	}
	return res, nil
}

// pastOr returns t in UTC to the microsecond when it is set and before now, and
// now otherwise: an import keeps dates, but none in the future.
func pastOr(t, now time.Time) time.Time {
	if t.IsZero() || !t.Before(now) {
		return now
	}
	return t.UTC().Truncate(time.Microsecond)
}

// createTags inserts the tags of rows into the tenant's account and adds their
// ids to ids, by name.
func createTags(tx tenant, rows []tagRow, ids map[string]int64) error {
	if len(rows) == 0 {
		return nil
	}
	if err := create(tx, rows, importBatch); err != nil {
		return err
	}
	return readIDs(tx, &tagRow{}, "name", rows, func(r tagRow) string { return r.Name }, ids)
}

// readIDs fills ids with the id of each row of the tenant's account, keyed by
// column, in batches. Where a key repeats (a concurrent writer's duplicate URL),
// the newest row wins.
func readIDs[R any](tx tenant, model table, column string, rows []R, key func(R) string, ids map[string]int64) error {
	for start := 0; start < len(rows); start += importBatch {
		end := min(start+importBatch, len(rows))
		keys := make([]string, 0, end-start)
		for _, r := range rows[start:end] {
			keys = append(keys, key(r))
		}
		var found []struct {
			ID  int64
			Key string
		}
		err := tx.table(model).Select("id, "+column+" AS `key`").
			Where(column+" IN ?", keys).
			Order("id").Find(&found).Error
		if err != nil {
			return err
		}
		for _, f := range found {
			ids[f.Key] = f.ID
		}
	}
	return nil
}

// importTagNames normalises and de-duplicates the tag names of one entry; a name
// that fails validation, or past the MaxTagsPerLink-th, is left out rather than
// costing the link.
func importTagNames(in []string) []string {
	names, _ := linkapi.NormalizeTagNames(in)
	return names[:min(len(names), linkapi.MaxTagsPerLink)]
}

// ExportSize returns the length of the text an export of the account would
// hold: its links' URLs, titles, descriptions and notes.
func (s *Store) ExportSize(ctx context.Context, accountID *int64) (int64, error) {
	owner, err := s.targetAccount(ctx, reading, accountID)
	if err != nil {
		return 0, err
	}
	tn, err := s.as(ctx, reading, owner)
	if err != nil {
		return 0, err
	}
	var size int64
	err = tn.table(&linkRow{}).
		Select("COALESCE(SUM(LENGTH(links.url) + COALESCE(LENGTH(links.title), 0) + COALESCE(LENGTH(links.description), 0) + COALESCE(LENGTH(links.notes), 0)), 0)").
		Scan(&size).Error
	return size, err
}

// ExportTags returns every tag of the account, by name.
func (s *Store) ExportTags(ctx context.Context, accountID *int64) ([]*linkapi.Tag, error) {
	owner, err := s.targetAccount(ctx, reading, accountID)
	if err != nil {
		return nil, err
	}
	tn, err := s.as(ctx, reading, owner)
	if err != nil {
		return nil, err
	}
	var rows []tagRow
	if err := tn.table(&tagRow{}).Order("tags.name").Find(&rows).Error; err != nil {
		return nil, err
	}
	return domains(rows, (*tagRow).domain), nil
}

// ExportLinks returns every link of the account, oldest first by created_at and
// then by id, as links(orderBy: CREATED_ASC) lists them, with the tags of each
// keyed by link id.
func (s *Store) ExportLinks(ctx context.Context, accountID *int64) ([]*linkapi.Link, map[int64][]*linkapi.Tag, error) {
	owner, err := s.targetAccount(ctx, reading, accountID)
	if err != nil {
		return nil, nil, err
	}
	tn, err := s.as(ctx, reading, owner)
	if err != nil {
		return nil, nil, err
	}
	var rows []linkRow
	if err := tn.table(&linkRow{}).Order(orderClause(linkapi.OrderCreatedAsc)).Find(&rows).Error; err != nil {
		return nil, nil, err
	}
	var pairs []tagJoinRow
	err = tn.table(&tagRow{}).Select("tags.*, link_tags.link_id AS link_id").
		Joins("JOIN link_tags ON link_tags.tag_id = tags.id").
		Order("tags.name").
		Find(&pairs).Error
	if err != nil {
		return nil, nil, err
	}
	tags := make(map[int64][]*linkapi.Tag)
	for i := range pairs {
		tags[pairs[i].LinkID] = append(tags[pairs[i].LinkID], pairs[i].domain())
	}
	return domains(rows, (*linkRow).domain), tags, nil
}

package store

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The two hottest reads, a page of links and the tags of a page of links, name
// their columns and scan their rows by hand: gorm's reflective Scan was about 15%
// of the CPU profile of links(first: 20) { nodes { tags { name } } } in linkbench,
// and scanning by hand cut that request's allocations from about 5,330 to 4,870.

// linkColumns are the columns scanLinks reads, in order.
const linkColumns = "links.id, links.account_id, links.url, links.title, links.description, links.notes, " +
	"links.unread, links.archived, links.favorite, links.favicon_url, links.preview_image_url, links.created_at, links.updated_at"

// linkFields are the fields of r that linkColumns fill, in order, followed by more.
func linkFields(r *linkRow, more ...any) []any {
	return append([]any{&r.ID, &r.AccountID, &r.URL, &r.Title, &r.Description, &r.Notes,
		&r.Unread, &r.Archived, &r.Favorite, &r.FaviconURL, &r.PreviewImageURL, timeScan{&r.CreatedAt}, timeScan{&r.UpdatedAt}}, more...)
}

// scanLinks runs tx, which selects linkColumns, and reads its rows.
func scanLinks(tx *gorm.DB) ([]linkRow, error) {
	return scanRows(tx.Select(timesAsText(tx, linkColumns)), func(rows *sql.Rows, r *linkRow) error {
		return rows.Scan(linkFields(r)...)
	})
}

// tagJoinColumns are the columns FindTagsByLinkIDs reads, in order.
const tagJoinColumns = "tags.id, tags.account_id, tags.name, tags.created_at, link_tags.link_id"

// On SQLite the driver turns each DATETIME column into a time.Time itself, and
// first tries, and fails, the layout of time.Time.String: three allocations
// thrown away per value, about a third of the allocations of a page of links
// with their tags. The two hot reads select their times as text there
// (timesAsText) and parse them with timeScan, trying the driver's own layouts in
// the order they are written. MySQL's driver gives a time.Time, which timeScan
// takes as it is.

// timesAsText returns columns with each created_at and updated_at cast to TEXT
// when tx is on SQLite, and as they are otherwise.
func timesAsText(tx *gorm.DB, columns string) string {
	if tx.Dialector.Name() != "sqlite" {
		return columns
	}
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		if strings.HasSuffix(c, ".created_at") || strings.HasSuffix(c, ".updated_at") {
			cols[i] = "CAST(" + c + " AS TEXT)"
		}
	}
	return strings.Join(cols, ", ")
}

// sqliteTimeLayouts are the layouts glebarez/go-sqlite reads DATETIME text in,
// the one it writes first, then that of time.Time.String.
var sqliteTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// timeScan scans a time column into t: a time.Time as it is, or text as the
// SQLite driver would have read it.
type timeScan struct{ t *time.Time }

func (s timeScan) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*s.t = v
		return nil
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	}
	return fmt.Errorf("store: cannot read %T as a time", src)
}

func (s timeScan) parse(v string) error {
	text := strings.TrimSuffix(v, "Z")
	for _, layout := range sqliteTimeLayouts {
		if t, err := time.ParseInLocation(layout, text, time.UTC); err == nil {
			*s.t = t
			return nil
		}
	}
	if m := strings.Index(v, " m="); m > 0 {
		v = v[:m]
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("store: cannot read %q as a time", v)
	}
	*s.t = t
	return nil
}

func scanRows[R any](tx *gorm.DB, scan func(*sql.Rows, *R) error) ([]R, error) {
	rows, err := tx.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []R
	for rows.Next() {
		var r R
		if err := scan(rows, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

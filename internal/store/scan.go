package store

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"linkapi/internal/linkapi"
)

// The reads of lists name their columns and scan their rows by hand: gorm's
// reflective Scan was about 15% of the CPU profile of
// links(first: 20) { nodes { tags { name } } } in linkbench. Each column is read
// through a scanner of its own that takes what either driver gives, without the
// reflection and the strings database/sql makes to convert it.

// linkColumns are the columns scanLink reads, in order; a * marks a text column.
const linkColumns = "links.id, links.account_id, *links.url, *links.title, *links.description, *links.notes, " +
	"links.unread, links.archived, links.favorite, *links.favicon_url, *links.preview_image_url, *links.created_at, *links.updated_at"

// tagColumns are the columns of a tag FindTagsByLinkIDs reads, in order, before
// its time when asked for and the list of its links' ids.
const tagColumns = "tags.id, tags.account_id, *tags.name"

// accountColumns are the columns scanAccount reads, in order.
const accountColumns = "accounts.id, *accounts.email, *accounts.password_hash, *accounts.scopes, " +
	"*accounts.password_changed_at, *accounts.created_at, *accounts.updated_at"

// On SQLite the driver looks up the declared type of each text value it reads
// (a string made for each value, to tell DATETIME columns, which it turns into
// times itself: first trying, and failing, the layout of time.Time.String,
// three allocations thrown away per value). A column selected as an expression
// has no declared type: dialectColumns casts each text column to TEXT there, a
// cast SQLite does not even run on a value that is text already, and timeScan
// reads the times as the driver would have. MySQL's driver gives a time.Time,
// which timeScan takes as it is.

// dialectColumns returns columns, its text columns (marked *) cast to TEXT on
// SQLite and as they are otherwise.
func dialectColumns(dialect, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		if name, ok := strings.CutPrefix(c, "*"); ok {
			if dialect == DialectSQLite {
				name = "CAST(" + name + " AS TEXT)"
			}
			cols[i] = name
		}
	}
	return strings.Join(cols, ", ")
}

// sqliteTimeLayouts are the layouts modernc.org/sqlite reads DATETIME text in,
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
		*s.t = v.UTC()
		return nil
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	}
	return fmt.Errorf("store: cannot read %T as a time", src)
}

func (s timeScan) parse(v string) error {
	if t, ok := parseUTC(v); ok {
		*s.t = t
		return nil
	}
	text := strings.TrimSuffix(v, "Z")
	for _, layout := range sqliteTimeLayouts {
		if t, err := time.ParseInLocation(layout, text, time.UTC); err == nil {
			*s.t = t.UTC()
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
	*s.t = t.UTC()
	return nil
}

// parseUTC reads the layout the SQLite driver writes every time in, for a time
// in UTC: 2006-01-02 15:04:05, up to nine digits of fraction after a point, and
// +00:00. It is time.Parse's answer for that layout, in a tenth of the time;
// false for anything else, which the layouts then read.
func parseUTC(v string) (time.Time, bool) {
	if len(v) < 25 || v[4] != '-' || v[7] != '-' || v[10] != ' ' || v[13] != ':' || v[16] != ':' ||
		!strings.HasSuffix(v, "+00:00") {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	year, ok1 := num(v[0:4])
	month, ok2 := num(v[5:7])
	day, ok3 := num(v[8:10])
	hour, ok4 := num(v[11:13])
	min, ok5 := num(v[14:16])
	sec, ok6 := num(v[17:19])
	frac := v[19 : len(v)-6]
	nsec := 0
	if frac != "" {
		digits := frac[1:]
		if frac[0] != '.' || digits == "" || len(digits) > 9 {
			return time.Time{}, false
		}
		n, ok := num(digits)
		if !ok {
			return time.Time{}, false
		}
		for range 9 - len(digits) {
			n *= 10
		}
		nsec = n
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April and the like, which time.Parse refuses
		return time.Time{}, false
	}
	return t, true
}

// rawTime keeps a time column's value as the driver gave it, to be read with
// timeScan only when it is needed.
type rawTime struct{ v *any }

func (s rawTime) Scan(src any) error {
	*s.v = src
	return nil
}

// intScan scans an integer column: an int64 as SQLite's driver and MySQL's
// prepared statements give it, or the digits of MySQL's text protocol, without
// the reflection and the string database/sql makes for those.
type intScan struct{ p *int64 }

func (s intScan) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*s.p = v
		return nil
	case []byte:
		n, ok := parseInt(v)
		if ok {
			*s.p = n
			return nil
		}
	}
	return fmt.Errorf("store: cannot read %T %v as an integer", src, src)
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// boolScan scans a boolean column, stored as an integer on both databases.
type boolScan struct{ p *bool }

func (s boolScan) Scan(src any) error {
	var n int64
	if err := (intScan{&n}).Scan(src); err != nil {
		return err
	}
	*s.p = n != 0
	return nil
}

// strScan scans a text column that is never NULL.
type strScan struct{ p *string }

func (s strScan) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*s.p = v
		return nil
	case []byte:
		*s.p = string(v)
		return nil
	}
	return fmt.Errorf("store: cannot read %T as text", src)
}

// optScan scans a text column that may be NULL, as nil.
type optScan struct{ p **string }

func (s optScan) Scan(src any) error {
	if src == nil {
		*s.p = nil
		return nil
	}
	var v string
	if err := (strScan{&v}).Scan(src); err != nil {
		return err
	}
	*s.p = &v
	return nil
}

// linkFieldColumns are, for each field of a linkapi.LinkFields, the columns
// that fill it (a * marks a text column) and their destinations in a Link; in
// the order of linkColumns, after links.id and links.account_id.
var linkFieldColumns = [...]struct {
	field   linkapi.LinkFields
	columns string
	dest    func(l *linkapi.Link) []any
}{
	{linkapi.LinkURL, "*links.url", func(l *linkapi.Link) []any { return []any{strScan{&l.URL}} }},
	{linkapi.LinkTitle, "*links.title", func(l *linkapi.Link) []any { return []any{optScan{&l.Title}} }},
	{linkapi.LinkDescription, "*links.description", func(l *linkapi.Link) []any { return []any{optScan{&l.Description}} }},
	{linkapi.LinkNotes, "*links.notes", func(l *linkapi.Link) []any { return []any{optScan{&l.Notes}} }},
	{linkapi.LinkFlags, "links.unread, links.archived, links.favorite", func(l *linkapi.Link) []any {
		return []any{boolScan{&l.Unread}, boolScan{&l.Archived}, boolScan{&l.Favorite}}
	}},
	{linkapi.LinkFaviconURL, "*links.favicon_url", func(l *linkapi.Link) []any { return []any{optScan{&l.FaviconURL}} }},
	{linkapi.LinkPreviewImageURL, "*links.preview_image_url", func(l *linkapi.Link) []any { return []any{optScan{&l.PreviewImageURL}} }},
	{linkapi.LinkCreatedAt, "*links.created_at", func(l *linkapi.Link) []any { return []any{timeScan{&l.CreatedAt}} }},
	{linkapi.LinkUpdatedAt, "*links.updated_at", func(l *linkapi.Link) []any { return []any{timeScan{&l.UpdatedAt}} }},
}

// linkFieldsColumns returns the columns that fill fields (linkColumns for
// every field), marked as linkColumns are.
func linkFieldsColumns(fields linkapi.LinkFields) string {
	cols := "links.id, links.account_id"
	for _, c := range linkFieldColumns {
		if fields&c.field != 0 {
			cols += ", " + c.columns
		}
	}
	return cols
}

// linkScanner reads rows that select the columns of fields, as
// linkFieldsColumns names them, into links, one after another.
type linkScanner struct {
	l    linkapi.Link
	dest []any
}

func newLinkScanner(fields linkapi.LinkFields) *linkScanner {
	s := &linkScanner{}
	l := &s.l
	s.dest = make([]any, 2, 15)
	s.dest[0], s.dest[1] = intScan{&l.ID}, intScan{&l.AccountID}
	for _, c := range linkFieldColumns {
		if fields&c.field != 0 {
			s.dest = append(s.dest, c.dest(l)...)
		}
	}
	return s
}

// scan reads the current row, extended by more destinations.
func (s *linkScanner) scan(rows *sql.Rows, more ...any) (linkapi.Link, error) {
	s.l = linkapi.Link{}
	dest := s.dest
	if len(more) > 0 {
		dest = append(dest[:len(dest):len(dest)], more...)
	}
	err := rows.Scan(dest...)
	return s.l, err
}

// scanLinks reads the links of rows, which select the columns of fields,
// expecting about n of them.
func scanLinks(rows *sql.Rows, n int, fields linkapi.LinkFields) ([]*linkapi.Link, error) {
	defer rows.Close()
	links := make([]linkapi.Link, 0, n)
	sc := newLinkScanner(fields)
	for rows.Next() {
		l, err := sc.scan(rows)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*linkapi.Link, len(links))
	for i := range links {
		out[i] = &links[i]
	}
	return out, nil
}

// scanAccounts reads the accounts of rows, which select accountColumns.
func scanAccounts(rows *sql.Rows) ([]*linkapi.Account, error) {
	defer rows.Close()
	var out []*linkapi.Account
	for rows.Next() {
		var r accountRow
		err := rows.Scan(intScan{&r.ID}, strScan{&r.Email}, strScan{&r.PasswordHash}, strScan{&r.Scopes},
			timeScan{&r.PasswordChangedAt}, timeScan{&r.CreatedAt}, timeScan{&r.UpdatedAt})
		if err != nil {
			return nil, err
		}
		out = append(out, r.domain())
	}
	return out, rows.Err()
}

// plainLinkColumns are linkColumns unmarked, for gorm's reads of links.
var plainLinkColumns = strings.ReplaceAll(linkColumns, "*", "")

// linkFields are the fields of r that linkColumns fill, in order, followed by more.
func linkFields(r *linkRow, more ...any) []any {
	return append([]any{&r.ID, &r.AccountID, &r.URL, &r.Title, &r.Description, &r.Notes,
		&r.Unread, &r.Archived, &r.Favorite, &r.FaviconURL, &r.PreviewImageURL, timeScan{&r.CreatedAt}, timeScan{&r.UpdatedAt}}, more...)
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

package store

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"linkapi/internal/linkapi"
)

// TestSQLiteWrittenByEarlierDriver opens a database that linkapi wrote at schema
// version 9 through its earlier SQLite driver, github.com/glebarez/go-sqlite
// (testdata/sqlite-glebarez-v9.db.gz: `linkapi migrate`, `account create` of
// old@example.com and `import --format json` of links a, b and c with the times
// below). The current driver must read those times, write the same text for the
// same time (SQLite compares and orders them as text), and page old and new rows
// together.
func TestSQLiteWrittenByEarlierDriver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	gunzipFile(t, "testdata/sqlite-glebarez-v9.db.gz", path)
	db := dbtOpen(t, "sqlite:"+path)

	at := func(ns int) time.Time { return time.Date(2025, 3, 1, 10, 0, 0, ns, time.UTC) }
	written := map[string]struct {
		created time.Time
		text    string
	}{
		"https://example.com/a": {at(500_000_000), "2025-03-01 10:00:00.5+00:00"},
		"https://example.com/b": {at(450_000_000), "2025-03-01 10:00:00.45+00:00"},
		"https://example.com/c": {at(0), "2025-03-01 10:00:00+00:00"},
	}
	var rows []struct {
		URL, Kind, Text string
		ID, AccountID   int64
	}
	if err := db.orm.Raw(`SELECT id, account_id, url, typeof(created_at) AS kind, CAST(created_at AS TEXT) AS text FROM links ORDER BY id`).
		Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(written) {
		t.Fatalf("the fixture holds %d links, want %d", len(rows), len(written))
	}
	for _, r := range rows {
		if w := written[r.URL]; r.Kind != "text" || r.Text != w.text {
			t.Errorf("%s: created_at stored as %s %q, want text %q", r.URL, r.Kind, r.Text, w.text)
		}
	}
	account := rows[0].AccountID

	// The same instant written now is the same text.
	dbtMustExec(t, db, `INSERT INTO links (account_id, url, created_at, updated_at) VALUES (?, ?, ?, ?)`,
		account, "https://example.com/a-again", written["https://example.com/a"].created, at(0))
	var text string
	if err := db.orm.Raw(`SELECT CAST(created_at AS TEXT) FROM links WHERE url = ?`, "https://example.com/a-again").
		Scan(&text).Error; err != nil {
		t.Fatal(err)
	}
	if want := written["https://example.com/a"].text; text != want {
		t.Errorf("the current driver writes %v as %q, the earlier one wrote %q", written["https://example.com/a"].created, text, want)
	}
	dbtLink(t, db, account, "https://example.com/new")

	// Oldest first, two to a page: the rows of both drivers in one order,
	// through a cursor taken from an old row.
	s := New(db)
	ctx := ctxAs(account)
	var urls []string
	page := linkapi.LinkPage{First: 2}
	for range 5 {
		list, err := s.FindLinks(ctx, linkapi.LinkFilter{Order: linkapi.OrderCreatedAsc, LinkPage: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list.Links {
			urls = append(urls, l.URL)
			if w, ok := written[l.URL]; ok && (!l.CreatedAt.Equal(w.created) || l.CreatedAt.Location() != time.UTC) {
				t.Errorf("%s: createdAt %v, want %v in UTC", l.URL, l.CreatedAt, w.created)
			}
		}
		if !list.HasNextPage {
			break
		}
		page.After = linkapi.CursorOf(list.Links[len(list.Links)-1], linkapi.OrderCreatedAsc)
	}
	want := []string{"https://example.com/c", "https://example.com/b", "https://example.com/a",
		"https://example.com/a-again", "https://example.com/new"}
	if !slices.Equal(urls, want) {
		t.Errorf("links oldest first = %v, want %v", urls, want)
	}
}

func gunzipFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	z, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, z); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

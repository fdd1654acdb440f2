package main

import (
	"context"
	"database/sql"
	"testing"

	"linkapi/internal/linkapi"
	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

// TestSeedCountsUsage seeds a database and checks that every account's usage
// counters agree with its links, as the store's own writes keep them.
func TestSeedCountsUsage(t *testing.T) {
	ctx := context.Background()
	url := storetest.SQLiteURL(t)
	spec := seedSpec{Accounts: 3, Links: 25, TagsPerLink: 3, TagPool: 5}
	if err := seed(ctx, url, spec); err != nil {
		t.Fatal(err)
	}
	sdb, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	db := sdb.SQL()
	for a := 1; a <= spec.Accounts; a++ {
		var got linkapi.Usage
		if err := db.QueryRowContext(ctx, "SELECT link_count, text_bytes FROM accounts WHERE id = ?", a).Scan(&got.Links, &got.TextBytes); err != nil {
			t.Fatal(err)
		}
		links, err := seededLinks(ctx, db, a)
		if err != nil {
			t.Fatal(err)
		}
		want := linkapi.Usage{Links: len(links)}
		for i := range links {
			want.TextBytes += links[i].TextBytes()
		}
		if got != want || want.Links != spec.Links {
			t.Errorf("account %d: counters %+v, links %+v (want %d links)", a, got, want, spec.Links)
		}
	}
}

// seededLinks reads the text of account a's links.
func seededLinks(ctx context.Context, db *sql.DB, a int) ([]linkapi.Link, error) {
	rows, err := db.QueryContext(ctx, "SELECT url, title, description FROM links WHERE account_id = ?", a)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var links []linkapi.Link
	for rows.Next() {
		var l linkapi.Link
		if err := rows.Scan(&l.URL, &l.Title, &l.Description); err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, rows.Err()
}

// TestSeedWantsAnEmptyDatabase seeds a database twice: the second seed, whose
// ids would collide with the first's, is refused and adds nothing.
func TestSeedWantsAnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	url := storetest.SQLiteURL(t)
	spec := seedSpec{Accounts: 2, Links: 3, TagsPerLink: 1, TagPool: 2}
	if err := seed(ctx, url, spec); err != nil {
		t.Fatal(err)
	}
	if err := seed(ctx, url, spec); err == nil {
		t.Fatal("second seed: got nil, want an error")
	}
	sdb, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	var n int
	if err := sdb.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM links").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != spec.Accounts*spec.Links {
		t.Errorf("links after a refused second seed: got %d, want %d", n, spec.Accounts*spec.Links)
	}
}

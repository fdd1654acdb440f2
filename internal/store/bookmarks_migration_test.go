package store

import (
	"context"
	"testing"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestBookmarksMigration makes a database of the schema before migration 00006
// with links in it, then migrates it: the old links read back unread, archived
// and favorite false, notes and metadata null, and each is keyed by its
// normalised URL, so that checkUrl finds it.
func TestBookmarksMigration(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		p, err := db.migrationProvider()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		ann := dbtAccount(t, db, "ann@example.com")
		bob := dbtAccount(t, db, "bob@example.com")
		urls := []string{"HTTPS://Example.COM:443#top", "https://example.com/b", "http://example.org"}
		var ids []int64
		for _, u := range urls {
			ids = append(ids, dbtLink(t, db, ann, u))
		}
		bobs := dbtLink(t, db, bob, "https://example.com/")
		// More than one batch of the backfill.
		for i := 0; i < backfillBatch+5; i++ {
			dbtMustExec(t, db, `INSERT INTO links (account_id, url, created_at, updated_at) SELECT account_id, url, created_at, updated_at FROM links WHERE id = ?`, ids[1])
		}

		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		var rows []linkRow
		if err := db.orm.Table("links").Order("id").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(urls)+1+backfillBatch+5 {
			t.Fatalf("got %d links after the migration, want %d", len(rows), len(urls)+1+backfillBatch+5)
		}
		for _, r := range rows {
			if r.Unread || r.Archived || r.Favorite || r.Notes != nil || r.FaviconURL != nil || r.PreviewImageURL != nil {
				t.Errorf("link %d after the migration: %+v, want false and null", r.ID, r)
			}
			if r.URLHash == nil || *r.URLHash != linkapi.URLKey(r.URL) {
				t.Errorf("link %d (%s): url_hash %v, want %s", r.ID, r.URL, r.URLHash, linkapi.URLKey(r.URL))
			}
		}
		if *rows[0].URLHash != linkapi.URLKey("https://example.com/") {
			t.Errorf("%s is not keyed as https://example.com/", urls[0])
		}

		// The store finds each account's own link by an equivalent URL.
		s := New(db)
		got, err := s.FindLinkByURL(ctxAs(ann), "https://EXAMPLE.com/")
		if err != nil || got.ID != ids[0] {
			t.Errorf("ann's link for https://EXAMPLE.com/: got %+v, %v; want link %d", got, err, ids[0])
		}
		got, err = s.FindLinkByURL(ctxAs(bob), "https://example.com:443")
		if err != nil || got.ID != bobs {
			t.Errorf("bob's link for https://example.com:443: got %+v, %v; want link %d", got, err, bobs)
		}
		if _, err := s.FindLinkByURL(ctxAs(bob), "http://example.org/"); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("bob asking for ann's URL: got %v, want NOT_FOUND", err)
		}
	})
}

// ctxAs is the context of a caller of account holding the default scopes.
func ctxAs(account int64) context.Context {
	return auth.NewContext(context.Background(), &auth.Caller{AccountID: account, Scopes: auth.DefaultScopes})
}

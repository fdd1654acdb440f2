package main

import (
	"context"
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
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}()
	for a := 1; a <= spec.Accounts; a++ {
		var got linkapi.Usage
		if err := db.Table("accounts").Select("link_count AS links, text_bytes").Where("id = ?", a).Take(&got).Error; err != nil {
			t.Fatal(err)
		}
		var links []linkapi.Link
		if err := db.Table("links").Select("url, title, description").Where("account_id = ?", a).Find(&links).Error; err != nil {
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

package store

import (
	"context"
	"fmt"
	"testing"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// BenchmarkFindLinksGuard reads a page of 20 links with and without the guard,
// to show what the guard costs a read:
//
//	go test -run '^$' -bench FindLinksGuard -count 6 ./internal/store/
func BenchmarkFindLinksGuard(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("guard=%v", on), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, storetest.SQLiteURL(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			if !on {
				cb := db.orm.Callback()
				for _, err := range []error{
					cb.Query().Remove("linkapi:guard"), cb.Row().Remove("linkapi:guard"), cb.Raw().Remove("linkapi:guard"),
					cb.Create().Remove("linkapi:guard"), cb.Update().Remove("linkapi:guard"), cb.Delete().Remove("linkapi:guard"),
				} {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			s := New(db)
			sys := auth.NewContext(ctx, auth.System())
			a, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1"})
			if err != nil {
				b.Fatal(err)
			}
			ctx = auth.NewContext(ctx, &auth.Caller{AccountID: a.ID, Scopes: auth.Expand(auth.DefaultScopes)})
			for i := range 40 {
				if _, err := s.CreateLink(ctx, linkapi.LinkCreate{URL: fmt.Sprintf("https://example.com/%d", i), Tags: []string{"t"}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.FindLinks(ctx, linkapi.LinkFilter{LinkPage: linkapi.LinkPage{First: 20}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

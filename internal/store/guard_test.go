package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestGuard fails the statements of the store that reach an owned table outside
// a tenant and unscoped, of every kind gorm runs, and lets through the same
// statements made through them, and those of a handle that is not the store's.
func TestGuard(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		s := New(db)
		ann := dbtAccount(t, db, "ann@example.com")
		link := dbtLink(t, db, ann, "https://example.com/")
		ctx := auth.NewContext(context.Background(), &auth.Caller{AccountID: ann, Scopes: auth.Expand(auth.DefaultScopes)})
		tn, err := s.as(ctx, writing, ann)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()

		bare := map[string]func() error{
			"a query": func() error { var r linkRow; return s.db.WithContext(ctx).Where("id = ?", link).Take(&r).Error },
			"a count": func() error { var n int64; return s.db.WithContext(ctx).Table("links").Count(&n).Error },
			"raw SQL": func() error { var id int64; return s.db.Raw("SELECT id FROM links WHERE id = ?", link).Scan(&id).Error },
			"an exec": func() error { return s.db.Exec("UPDATE links SET title = NULL WHERE id = ?", link).Error },
			"rows": func() error {
				rows, err := s.db.Model(&linkRow{}).Rows()
				if err == nil {
					rows.Close()
				}
				return err
			},
			"an insert": func() error {
				return s.db.Create(&tagRow{AccountID: ann, Name: "bare", CreatedAt: now}).Error
			},
			"an update": func() error {
				return s.db.Model(&linkRow{ID: link}).Update("title", "bare").Error
			},
			"a delete": func() error { return s.db.Delete(&linkRow{ID: link}).Error },
			"a bare subquery in an owned query": func() error {
				var rows []linkRow
				return tn.table(&linkRow{}).Where("links.id IN (?)", s.db.Table("link_tags").Select("link_id")).Find(&rows).Error
			},
			"a subquery written out in a bare select": func() error {
				var n int64
				return s.db.Table("(?) AS t", tn.table(&linkRow{}).Select("links.id")).
					Select("(SELECT COUNT(*) FROM tags) AS n").Scan(&n).Error
			},
			"a subquery written out in a bare where": func() error {
				var ids []int64
				return s.db.Table("(?) AS t", tn.table(&linkRow{}).Select("links.id")).
					Where("t.id IN (SELECT link_id FROM link_tags)").Pluck("t.id", &ids).Error
			},
			"a bare derived table": func() error {
				var n int64
				return s.db.Table("(?) AS t", s.db.Table("links").Select("id")).Count(&n).Error
			},
		}
		for name, run := range bare {
			if err := run(); !errors.Is(err, errBareStatement) || linkapi.ErrorCode(err) != linkapi.EINTERNAL {
				t.Errorf("%s outside owned and unscoped: got %v, want the guard's error", name, err)
			}
		}
		var title *string
		if err := db.orm.Raw("SELECT title FROM links WHERE id = ?", link).Scan(&title).Error; err != nil || title != nil {
			t.Fatalf("the guarded exec or update changed the link (title %v, %v)", title, err)
		}

		through := map[string]func() error{
			"unscoped": func() error {
				var r linkRow
				return s.unscoped(ctx, "a test of the guard").Where("id = ?", link).Take(&r).Error
			},
			"unscoped raw SQL": func() error {
				var id int64
				return s.unscoped(ctx, "a test of the guard").Raw("SELECT id FROM links WHERE id = ?", link).Scan(&id).Error
			},
			"owned": func() error {
				q, _, err := s.owned(ctx, reading, &linkRow{})
				if err != nil {
					return err
				}
				var r linkRow
				return q.Where("links.id = ?", link).Take(&r).Error
			},
			"a tenant's derived table": func() error {
				var ids []int64
				return tn.from(tn.table(&linkRow{}).Select("links.id"), "t").Pluck("t.id", &ids).Error
			},
			"an owned subquery": func() error {
				var rows []linkRow
				return tn.table(&linkRow{}).Where("links.id IN (?)", tn.table(&linkTagRow{}).Select("link_tags.link_id")).Find(&rows).Error
			},
			"a tenant's insert": func() error { return createOne(tn, &tagRow{Name: "owned", CreatedAt: now}) },
			"a tenant's transaction": func() error {
				return s.transact(ctx, writing, ann, func(tx tenant) error {
					return tx.table(&linkRow{ID: link}).Update("title", "owned").Error
				})
			},
			"another handle": func() error {
				var n int64
				return db.orm.Table("links").Count(&n).Error
			},
		}
		for name, run := range through {
			if err := run(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// TestTenantInsertsNeedAnAccount refuses an insert through a tenant of every
// account, which has no account to stamp.
func TestTenantInsertsNeedAnAccount(t *testing.T) {
	db := dbtOpen(t, storetest.SQLiteURL(t))
	s := New(db)
	tn := tenant{db: s.db, every: true}
	if got := linkapi.ErrorCode(createOne(tn, &tagRow{Name: "x"})); got != linkapi.EINTERNAL {
		t.Errorf("insert through a tenant of every account: got %q, want INTERNAL", got)
	}
	if got := linkapi.ErrorCode(create(tn, []linkTagRow{{LinkID: 1, TagID: 1}}, 1)); got != linkapi.EINTERNAL {
		t.Errorf("batch insert through a tenant of every account: got %q, want INTERNAL", got)
	}
	var n int64
	if err := db.orm.Table("tags").Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("tags after refused inserts: %d, %v", n, err)
	}
}

package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// dbtOpen opens url, migrates it and closes it when t ends.
func dbtOpen(t *testing.T, url string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// dbtExec runs a raw statement and returns its error, already translated by gorm.
func dbtExec(db *DB, sql string, args ...any) error {
	return db.orm.Exec(sql, args...).Error
}

func dbtMustExec(t *testing.T, db *DB, sql string, args ...any) {
	t.Helper()
	if err := dbtExec(db, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func dbtCount(t *testing.T, db *DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.orm.Table(table).Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func dbtAccount(t *testing.T, db *DB, email string) int64 {
	t.Helper()
	now := time.Now().UTC()
	dbtMustExec(t, db, `INSERT INTO accounts (email, password_hash, scopes, password_changed_at, created_at, updated_at)
		VALUES (?, 'x', 'links:write', ?, ?, ?)`, email, now, now, now)
	var id int64
	if err := db.orm.Raw(`SELECT id FROM accounts WHERE email = ?`, email).Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("account %s: id %d, err %v", email, id, err)
	}
	return id
}

func dbtLink(t *testing.T, db *DB, accountID int64, url string) int64 {
	t.Helper()
	now := time.Now().UTC()
	dbtMustExec(t, db, `INSERT INTO links (account_id, url, created_at, updated_at) VALUES (?, ?, ?, ?)`,
		accountID, url, now, now)
	var id int64
	if err := db.orm.Raw(`SELECT id FROM links WHERE account_id = ? AND url = ?`, accountID, url).Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("link %s: id %d, err %v", url, id, err)
	}
	return id
}

func dbtInsertTag(db *DB, accountID int64, name string) error {
	return dbtExec(db, `INSERT INTO tags (account_id, name, created_at) VALUES (?, ?, ?)`,
		accountID, name, time.Now().UTC())
}

func dbtTag(t *testing.T, db *DB, accountID int64, name string) int64 {
	t.Helper()
	if err := dbtInsertTag(db, accountID, name); err != nil {
		t.Fatalf("tag %s: %v", name, err)
	}
	var id int64
	if err := db.orm.Raw(`SELECT id FROM tags WHERE account_id = ? AND name = ?`, accountID, name).Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("tag %s: id %d, err %v", name, id, err)
	}
	return id
}

func dbtInsertPair(db *DB, linkID, tagID, accountID int64) error {
	return dbtExec(db, `INSERT INTO link_tags (link_id, tag_id, account_id, created_at) VALUES (?, ?, ?, ?)`,
		linkID, tagID, accountID, time.Now().UTC())
}

func TestMigrate(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := dbtOpen(t, url)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		current, latest, err := db.MigrationVersion(ctx)
		if err != nil {
			t.Fatalf("MigrationVersion: %v", err)
		}
		if current != latest || latest < 1 {
			t.Errorf("MigrationVersion = %d, %d; want equal and at least 1", current, latest)
		}
		for _, table := range []string{"accounts", "links", "tags", "link_tags"} {
			if !db.orm.Migrator().HasTable(table) {
				t.Errorf("table %s is missing", table)
			}
		}
		if got, want := db.Dialect(), t.Name()[strings.LastIndex(t.Name(), "/")+1:]; got != want {
			t.Errorf("Dialect = %q, want %q", got, want)
		}
		if err := db.Ready(ctx); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
}

// TestOnStatement registers a statement hook: it sees what a Store sends, with
// its arguments and context, and an error it returns is the Store's.
func TestOnStatement(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		type failKey struct{}
		refused := errors.New("refused by the hook")
		var mu sync.Mutex
		var seen []Statement
		if err := db.OnStatement(func(ctx context.Context, st Statement) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, st)
			if ctx.Value(failKey{}) != nil {
				return refused
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		sys := auth.NewContext(context.Background(), auth.System())
		if _, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "hook@example.com", Password: "password-1"}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		found := slices.ContainsFunc(seen, func(st Statement) bool {
			return strings.Contains(st.SQL, "INSERT INTO") && slices.Contains(st.Vars, any("hook@example.com"))
		})
		mu.Unlock()
		if !found {
			t.Errorf("the hook did not see the account's insert with its email: %v", seen)
		}
		if n, err := s.CountAllAccounts(context.Background()); err != nil || n != 1 {
			t.Errorf("CountAllAccounts: %d, %v; want 1, nil", n, err)
		}
		if _, err := s.CountAllAccounts(context.WithValue(context.Background(), failKey{}, true)); !errors.Is(err, refused) {
			t.Errorf("CountAllAccounts with a refusing hook: got %v, want the hook's error", err)
		}
	})
}

func TestForeignKeys(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		now := time.Now().UTC()
		err := dbtExec(db, `INSERT INTO links (account_id, url, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			int64(12345), "https://example.com", now, now)
		if !errors.Is(err, gorm.ErrForeignKeyViolated) {
			t.Errorf("link of a missing account: got %v, want gorm.ErrForeignKeyViolated", err)
		}
		err = dbtInsertTag(db, 12345, "go")
		if !errors.Is(err, gorm.ErrForeignKeyViolated) {
			t.Errorf("tag of a missing account: got %v, want gorm.ErrForeignKeyViolated", err)
		}
	})
}

func TestLinkTagsSameAccount(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		a := dbtAccount(t, db, "a@example.com")
		b := dbtAccount(t, db, "b@example.com")
		linkA := dbtLink(t, db, a, "https://a.example.com")
		tagA := dbtTag(t, db, a, "go")
		tagB := dbtTag(t, db, b, "go")

		for _, account := range []int64{a, b} {
			if err := dbtInsertPair(db, linkA, tagB, account); !errors.Is(err, gorm.ErrForeignKeyViolated) {
				t.Errorf("link of A with tag of B as account %d: got %v, want gorm.ErrForeignKeyViolated", account, err)
			}
		}
		if got := dbtCount(t, db, "link_tags"); got != 0 {
			t.Errorf("link_tags has %d rows after refused inserts, want 0", got)
		}
		if err := dbtInsertPair(db, linkA, tagA, a); err != nil {
			t.Fatalf("link of A with tag of A: %v", err)
		}
		if err := dbtInsertPair(db, linkA, tagA, a); !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Errorf("same pair twice: got %v, want gorm.ErrDuplicatedKey", err)
		}
	})
}

func TestDeleteAccountCascades(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		a := dbtAccount(t, db, "a@example.com")
		b := dbtAccount(t, db, "b@example.com")
		for _, account := range []int64{a, b} {
			link := dbtLink(t, db, account, "https://example.com")
			tag := dbtTag(t, db, account, "go")
			if err := dbtInsertPair(db, link, tag, account); err != nil {
				t.Fatalf("pair: %v", err)
			}
		}

		dbtMustExec(t, db, `DELETE FROM accounts WHERE id = ?`, a)

		for _, table := range []string{"links", "tags", "link_tags"} {
			var left, kept int64
			db.orm.Table(table).Where("account_id = ?", a).Count(&left)
			db.orm.Table(table).Where("account_id = ?", b).Count(&kept)
			if left != 0 || kept != 1 {
				t.Errorf("%s: %d rows of the deleted account, %d of the other; want 0 and 1", table, left, kept)
			}
		}

		// Deleting a link or a tag removes its pairs too.
		var link, tag int64
		db.orm.Raw(`SELECT link_id FROM link_tags WHERE account_id = ?`, b).Scan(&link)
		dbtMustExec(t, db, `DELETE FROM links WHERE id = ?`, link)
		if got := dbtCount(t, db, "link_tags"); got != 0 {
			t.Errorf("link_tags has %d rows after deleting the link, want 0", got)
		}
		link = dbtLink(t, db, b, "https://example.org")
		db.orm.Raw(`SELECT id FROM tags WHERE account_id = ?`, b).Scan(&tag)
		if err := dbtInsertPair(db, link, tag, b); err != nil {
			t.Fatalf("pair: %v", err)
		}
		dbtMustExec(t, db, `DELETE FROM tags WHERE id = ?`, tag)
		if got := dbtCount(t, db, "link_tags"); got != 0 {
			t.Errorf("link_tags has %d rows after deleting the tag, want 0", got)
		}
	})
}

func TestUniqueConstraints(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		a := dbtAccount(t, db, "a@example.com")
		b := dbtAccount(t, db, "b@example.com")
		dbtTag(t, db, a, "go")

		if err := dbtInsertTag(db, a, "go"); !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Errorf("duplicate tag name: got %v, want gorm.ErrDuplicatedKey", err)
		}
		// The same name in another account, and another case in the same account,
		// are different tags on both databases.
		if err := dbtInsertTag(db, b, "go"); err != nil {
			t.Errorf("same tag name in another account: %v", err)
		}
		if err := dbtInsertTag(db, a, "Go"); err != nil {
			t.Errorf("tag name differing in case: %v", err)
		}
		if err := dbtInsertTag(db, a, "gö"); err != nil {
			t.Errorf("tag name differing in an accent: %v", err)
		}

		now := time.Now().UTC()
		err := dbtExec(db, `INSERT INTO accounts (email, password_hash, password_changed_at, created_at, updated_at)
			VALUES (?, 'x', ?, ?, ?)`, "a@example.com", now, now, now)
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Errorf("duplicate email: got %v, want gorm.ErrDuplicatedKey", err)
		}
	})
}

func TestTimestampsRoundTrip(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		now := db.orm.NowFunc()
		if now.Location() != time.UTC || now.Nanosecond()%1000 != 0 {
			t.Errorf("NowFunc() = %v, want UTC in whole microseconds", now)
		}
		dbtMustExec(t, db, `INSERT INTO accounts (email, password_hash, password_changed_at, created_at, updated_at)
			VALUES (?, 'x', ?, ?, ?)`, "t@example.com", now, now, now)
		var row struct{ CreatedAt time.Time }
		if err := db.orm.Raw(`SELECT created_at FROM accounts WHERE email = ?`, "t@example.com").Scan(&row).Error; err != nil {
			t.Fatalf("select: %v", err)
		}
		if !row.CreatedAt.Equal(now) || row.CreatedAt.Location() != time.UTC {
			t.Errorf("created_at = %v, want %v in UTC", row.CreatedAt, now)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, url, want string
	}{
		{"empty", "", "unsupported URL"},
		{"no scheme", "linkapi.db", "unsupported URL"},
		{"postgres", "postgres://u@localhost/db", `unsupported URL scheme "postgres"`},
		{"sqlite without path", "sqlite:", "no file name"},
		{"sqlite in a missing directory", "sqlite:" + dir + "/missing/x.db", "cannot open sqlite database"},
		{"mysql without host", "mysql:///db", "no host"},
		{"mysql without database", "mysql://root@127.0.0.1:3306", "database name"},
		{"mysql without user", "mysql://127.0.0.1:3306/db", "no user"},
		{"mysql bad port", "mysql://root:secret@127.0.0.1:port/db", "malformed mysql URL"},
		{"mysql bad parameter", "mysql://root@127.0.0.1:3306/db?parseTime=maybe", "parameters"},
		{"mysql unreachable", "mysql://root:secret@127.0.0.1:1/db", "cannot reach mysql at 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(context.Background(), tt.url)
			if err == nil {
				t.Fatalf("Open(%q) succeeded, want an error", tt.url)
			}
			if db != nil {
				t.Errorf("Open(%q) returned a *DB with its error", tt.url)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.HasPrefix(msg, "database: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want it to start with %q and contain %q", msg, "database: ", tt.want)
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("error shows the password: %q", msg)
			}
		})
	}
}

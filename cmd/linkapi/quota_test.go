package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"linkapi/internal/auth"
	"linkapi/internal/bookmarks"
	"linkapi/internal/linkapi"
	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

const (
	quotaCreate = `mutation($u: String!, $t: String, $d: String, $tags: [String!], $a: ID) {
		createLink(input: {url: $u, title: $t, description: $d, tags: $tags, accountId: $a}) { id } }`
	quotaUpdate = `mutation($id: ID!, $d: String) { updateLink(id: $id, input: {description: $d}) { id description } }`
	quotaDelete = `mutation($id: ID!) { deleteLink(id: $id) }`
)

// wantUsage fails t unless the account's counters say links and bytes and agree
// with its links, counted again one by one.
func wantUsage(t *testing.T, db *sql.DB, account int64, links, bytes int) {
	t.Helper()
	var got struct{ LinkCount, TextBytes int }
	if err := db.QueryRow("SELECT link_count, text_bytes FROM accounts WHERE id = ?", account).Scan(&got.LinkCount, &got.TextBytes); err != nil {
		t.Fatal(err)
	}
	n, actual := 0, 0
	err := eachRow(db, "SELECT url, title, description FROM links WHERE account_id = ?", func(rs *sql.Rows) error {
		var l linkapi.Link
		n++
		err := rs.Scan(&l.URL, &l.Title, &l.Description)
		actual += l.TextBytes()
		return err
	}, account)
	if err != nil {
		t.Fatal(err)
	}
	if got.LinkCount != links || got.TextBytes != bytes {
		t.Errorf("account %d counts %d links and %d bytes, want %d and %d", account, got.LinkCount, got.TextBytes, links, bytes)
	}
	if got.LinkCount != n || got.TextBytes != actual {
		t.Errorf("account %d counts %d links and %d bytes, but has %d and %d", account, got.LinkCount, got.TextBytes, n, actual)
	}
}

// countedText returns the account's text_bytes counter.
func countedText(t *testing.T, db *sql.DB, account int64) int {
	t.Helper()
	return int(queryInt(t, db, "SELECT text_bytes FROM accounts WHERE id = ?", account))
}

// wantRefused fails t unless r is BAD_USER_INPUT without data.
func wantRefused(t *testing.T, what string, r *gqlResponse) {
	t.Helper()
	if r.Code() != "BAD_USER_INPUT" || r.Data != nil {
		t.Errorf("%s: got %q with data %v, want BAD_USER_INPUT and none", what, r.Code(), r.Data)
	}
}

// bookmarkFile is a bookmark file of the given URLs, each tagged with "imported".
func bookmarkFile(t *testing.T, urls ...string) string {
	t.Helper()
	marks := make([]bookmarks.Bookmark, len(urls))
	for i, u := range urls {
		marks[i] = bookmarks.Bookmark{URL: u, Title: "Imported", Tags: []string{"imported"}, AddDate: time.Unix(1600000000, 0)}
	}
	var b bytes.Buffer
	if err := bookmarks.Write(&b, marks); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// quotaServers runs fn against a server with the given settings on SQLite and,
// when LINKAPI_TEST_MYSQL_URL is set, on MySQL, with ann (an owner), bob and an
// administrator, and a connection to its database.
func quotaServers(t *testing.T, vars map[string]string, fn func(t *testing.T, s *testServer, db *sql.DB, ann, admin string, annID, bobID int64)) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := startServerEnv(t, url, nil, vars)
		annID := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		bobID := s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "root@example.com", "root-password", "admin:write")
		fn(t, s, openDB(t, url).SQL(), s.login(t, "ann@example.com", "ann-password"), s.login(t, "root@example.com", "root-password"), annID, bobID)
	})
}

// TestAccountLinkBound fills an account to LINKAPI_MAX_LINKS_PER_ACCOUNT by every
// write that adds links: the last link allowed passes, one more is refused with
// BAD_USER_INPUT and nothing written, whoever writes; deleting gives the room back.
func TestAccountLinkBound(t *testing.T) {
	quotaServers(t, map[string]string{linkapi.SettingMaxLinks: "3"}, func(t *testing.T, s *testServer, db *sql.DB, ann, admin string, annID, bobID int64) {
		create := func(token, url string, account *int64) *gqlResponse {
			vars := map[string]any{"u": url, "tags": []string{"new-tag"}}
			if account != nil {
				vars["a"] = formatInt(*account)
			}
			return s.do(t, token, quotaCreate, vars)
		}
		tags := func() any { return get(t, s.ok(t, ann, `{ tags { totalCount } }`, nil), "tags", "totalCount") }
		var ids []string
		for i := range 3 { // the third is the last allowed
			r := create(ann, fmt.Sprintf("https://example.com/%d", i), nil)
			if r.Code() != "" {
				t.Fatalf("link %d of 3: %s", i+1, r.Raw)
			}
			ids = append(ids, str(t, r.Data, "createLink", "id"))
		}
		text := len("https://example.com/0") * 3
		wantUsage(t, db, annID, 3, text)
		tagsBefore := tags()

		wantRefused(t, "a fourth link", create(ann, "https://example.com/3", nil))
		wantRefused(t, "an administrator's link into the full account", create(admin, "https://example.com/3", &annID))
		wantRefused(t, "an import of one new link", s.do(t, ann, importMutation, map[string]any{"h": bookmarkFile(t, "https://example.com/3")}))
		wantRefused(t, "an administrator's import into the full account",
			s.do(t, admin, importMutation, map[string]any{"h": bookmarkFile(t, "https://example.com/3"), "a": formatInt(annID)}))
		if got := linkCount(t, s, ann); got != 3 {
			t.Errorf("links after the refusals: got %d, want 3", got)
		}
		if got := tags(); got != tagsBefore {
			t.Errorf("tags after the refusals: got %v, want %v", got, tagsBefore)
		}
		wantUsage(t, db, annID, 3, text)

		// What adds no link still passes in a full account: an import of URLs it
		// has, an update.
		d := s.ok(t, ann, importMutation, map[string]any{"h": bookmarkFile(t, "https://example.com/0", "https://example.com/1")})
		if got := importCounts(t, d); got != [4]float64{0, 2, 0, 0} {
			t.Errorf("import of links already there: got %v, want 0 imported, 2 skipped", got)
		}
		s.ok(t, ann, quotaUpdate, map[string]any{"id": ids[0], "d": "more"})
		text += len("more")
		wantUsage(t, db, annID, 3, text)

		// The bound is the target account's: bob, empty, takes the administrator's link.
		if r := create(admin, "https://example.com/bob", &bobID); r.Code() != "" {
			t.Errorf("an administrator's link into an account with room: %s", r.Raw)
		}

		// Deleting gives room back, to one link exactly.
		s.ok(t, ann, quotaDelete, map[string]any{"id": ids[2]})
		text -= len("https://example.com/2")
		wantUsage(t, db, annID, 2, text)
		wantRefused(t, "an import of two new links with room for one",
			s.do(t, ann, importMutation, map[string]any{"h": bookmarkFile(t, "https://example.com/a", "https://example.com/b")}))
		wantUsage(t, db, annID, 2, text)
		d = s.ok(t, ann, importMutation, map[string]any{"h": bookmarkFile(t, "https://example.com/0", "https://example.com/a")})
		if got := importCounts(t, d); got != [4]float64{1, 1, 0, 1} {
			t.Errorf("import of one new link into room for one: got %v, want 1 imported, 1 skipped, 1 tag", got)
		}
		text += len("https://example.com/a") + len("Imported")
		wantUsage(t, db, annID, 3, text)

		// linkapi import is bounded alike, by the same setting.
		vars := map[string]string{"LINKAPI_DATABASE_URL": s.DBURL, linkapi.SettingMaxLinks: "3"}
		path := t.TempDir() + "/in.html"
		if err := os.WriteFile(path, []byte(bookmarkFile(t, "https://example.com/cli")), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := runCLIEnv(t, vars, "", "import", "--email", "ann@example.com", "--file", path); r.Err == nil {
			t.Errorf("linkapi import into a full account: succeeded (%s)", r.Stdout)
		}
		wantUsage(t, db, annID, 3, text)
		if r := runCLIEnv(t, vars, "", "import", "--email", "bob@example.com", "--file", path); r.Err != nil {
			t.Errorf("linkapi import into an account with room: %v", r.Err)
		}
		wantUsage(t, db, bobID, 2, len("https://example.com/bob")+len("https://example.com/cli")+len("Imported"))
	})
}

// TestAccountTextBound fills an account to LINKAPI_MAX_TEXT_PER_ACCOUNT, counted
// in bytes, not characters: the last byte allowed passes, one more is refused
// with BAD_USER_INPUT and nothing written, by createLink, updateLink (a longer
// description) and importBookmarks alike; shortening or deleting gives room back.
func TestAccountTextBound(t *testing.T) {
	quotaServers(t, map[string]string{linkapi.SettingMaxText: "100"}, func(t *testing.T, s *testServer, db *sql.DB, ann, admin string, annID, _ int64) {
		u1, u2 := "https://example.com/1", "https://example.com/2" // 21 bytes each
		title := strings.Repeat("é", 14)                           // 14 characters, 28 bytes
		d1 := strings.Repeat("d", 100-21-21-len(title)-1)          // leaves one byte
		id1 := str(t, s.ok(t, ann, quotaCreate, map[string]any{"u": u1, "d": d1}), "createLink", "id")
		id2 := str(t, s.ok(t, ann, quotaCreate, map[string]any{"u": u2, "t": title, "d": "x"}), "createLink", "id")
		wantUsage(t, db, annID, 2, 100)

		wantRefused(t, "a link past the bound", s.do(t, ann, quotaCreate, map[string]any{"u": "https://e.x/"}))
		wantRefused(t, "a description one byte longer", s.do(t, ann, quotaUpdate, map[string]any{"id": id1, "d": d1 + "d"}))
		wantRefused(t, "an administrator's longer description", s.do(t, admin, quotaUpdate, map[string]any{"id": id1, "d": d1 + "d"}))
		wantRefused(t, "an import past the bound", s.do(t, ann, importMutation, map[string]any{"h": bookmarkFile(t, "https://e.x/")}))
		d := s.ok(t, ann, `query($id: ID!) { link(id: $id) { description } }`, map[string]any{"id": id1})
		if got := get(t, d, "link", "description"); got != d1 {
			t.Errorf("description after a refused update: got %v, want it unchanged", got)
		}
		wantUsage(t, db, annID, 2, 100)

		// Text of the same length passes at the bound; shorter text gives room back.
		s.ok(t, ann, quotaUpdate, map[string]any{"id": id1, "d": strings.Repeat("e", len(d1))})
		s.ok(t, ann, quotaUpdate, map[string]any{"id": id1, "d": d1[10:]})
		wantUsage(t, db, annID, 2, 90)
		s.ok(t, ann, quotaUpdate, map[string]any{"id": id1, "d": d1})
		wantUsage(t, db, annID, 2, 100)

		s.ok(t, ann, quotaDelete, map[string]any{"id": id2})
		wantUsage(t, db, annID, 1, 100-21-len(title)-1)
		s.ok(t, ann, quotaCreate, map[string]any{"u": u2, "t": title, "d": "x"})
		wantUsage(t, db, annID, 2, 100)
	})
}

// TestAccountBoundUnderConcurrentWrites sends 20 createLinks at once into an
// account 5 links below its bound, then 20 imports at once into an emptied one:
// exactly as many as fit go through, and the counters stay exact under concurrent
// updates and deletes too.
func TestAccountBoundUnderConcurrentWrites(t *testing.T) {
	const bound, racers = 8, 20
	quotaServers(t, map[string]string{linkapi.SettingMaxLinks: fmt.Sprint(bound)}, func(t *testing.T, s *testServer, db *sql.DB, ann, _ string, annID, _ int64) {
		for i := range bound - 5 {
			s.ok(t, ann, quotaCreate, map[string]any{"u": fmt.Sprintf("https://example.com/before/%d", i)})
		}
		codes := concurrently(t, s, ann, racers, func(i int) (string, map[string]any) {
			return quotaCreate, map[string]any{"u": fmt.Sprintf("https://example.com/racer/%d", i), "tags": []string{"race"}}
		})
		wantCapped(t, "createLink", codes, 5)
		if got := linkCount(t, s, ann); got != bound {
			t.Errorf("links: got %d, want %d", got, bound)
		}
		nodes := get(t, s.ok(t, ann, `{ links(first: 100) { nodes { id } } }`, nil), "links", "nodes").([]any)
		ids := make([]string, len(nodes))
		for i, n := range nodes {
			ids[i] = n.(map[string]any)["id"].(string)
		}

		codes = concurrently(t, s, ann, racers, func(i int) (string, map[string]any) {
			return quotaUpdate, map[string]any{"id": ids[i%len(ids)], "d": strings.Repeat("u", 10*i+1)}
		})
		wantCapped(t, "updateLink", codes, racers)
		wantUsage(t, db, annID, bound, countedText(t, db, annID)) // the counters agree with the links

		codes = concurrently(t, s, ann, len(ids), func(i int) (string, map[string]any) {
			return quotaDelete, map[string]any{"id": ids[i]}
		})
		wantCapped(t, "deleteLink", codes, len(ids))
		wantUsage(t, db, annID, 0, 0)

		codes = concurrently(t, s, ann, racers, func(i int) (string, map[string]any) {
			return importMutation, map[string]any{"h": bookmarkFile(t, fmt.Sprintf("https://example.com/import/%d", i))}
		})
		wantCapped(t, "importBookmarks", codes, bound)
		wantUsage(t, db, annID, bound, countedText(t, db, annID))
	})
}

// TestUsageBackfill makes a database of the schema before the usage counters
// with links in it, then serves it: the migration counts every account's links
// and text bytes, and the bound holds from the first request.
func TestUsageBackfill(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		sdb := openDB(t, url)
		db := sdb.SQL()
		dialect := goose.DialectSQLite3
		if sdb.Dialect() == store.DialectMySQL {
			dialect = goose.DialectMySQL
		}
		p, err := goose.NewProvider(dialect, db, os.DirFS("../../internal/store/migrations/"+sdb.Dialect()), goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 2); err != nil {
			t.Fatal(err)
		}
		hash, err := auth.HashPassword("ann-password")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		var ids [3]int64
		for i, email := range []string{"ann@example.com", "bob@example.com", "eve@example.com"} {
			execSQL(t, db, `INSERT INTO accounts (email, password_hash, scopes, password_changed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				email, hash, "links:write tags:write", now.Add(-time.Hour), now, now)
			ids[i] = queryInt(t, db, `SELECT id FROM accounts WHERE email = ?`, email)
		}
		title, desc := "Ünïcödé ✓", "日本語の説明"
		insert := func(account int64, url string, title, desc *string) {
			execSQL(t, db, `INSERT INTO links (account_id, url, title, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				account, url, title, desc, now, now)
		}
		insert(ids[0], "https://example.com/1", &title, &desc)
		insert(ids[0], "https://example.com/2", nil, nil)
		insert(ids[0], "https://example.com/3", &title, nil)
		insert(ids[1], "https://example.com/bob", nil, &desc)

		s := startServerEnv(t, url, nil, map[string]string{linkapi.SettingMaxLinks: "3"})
		u := len("https://example.com/1")
		wantUsage(t, db, ids[0], 3, 3*u+2*len(title)+len(desc))
		wantUsage(t, db, ids[1], 1, len("https://example.com/bob")+len(desc))
		wantUsage(t, db, ids[2], 0, 0)

		ann := s.login(t, "ann@example.com", "ann-password")
		wantRefused(t, "a fourth link after the backfill", s.do(t, ann, quotaCreate, map[string]any{"u": "https://example.com/4"}))
		first := get(t, s.ok(t, ann, `{ links(first: 1) { nodes { id } } }`, nil), "links", "nodes", 0, "id")
		s.ok(t, ann, quotaDelete, map[string]any{"id": first})
		s.ok(t, ann, quotaCreate, map[string]any{"u": "https://example.com/4"})
		wantUsage(t, db, ids[0], 3, 3*u+len(title)+len(desc))
	})
}

// TestQuotaSettingsAreChecked refuses to serve, or to import, with a bound that
// is not a positive whole number of links or bytes.
func TestQuotaSettingsAreChecked(t *testing.T) {
	bad := []map[string]string{
		{linkapi.SettingMaxLinks: "0"}, {linkapi.SettingMaxLinks: "-1"}, {linkapi.SettingMaxLinks: "many"},
		{linkapi.SettingMaxText: "0"}, {linkapi.SettingMaxText: "64MiB"}, {linkapi.SettingMaxText: "1e9"},
	}
	wantStartRefused(t, bad...)
	dbURL := "sqlite:" + t.TempDir() + "/q.db"
	okCLI(t, dbURL, "ann-password\n", "account", "create", "--email", "ann@example.com", "--password-stdin")
	for _, b := range bad {
		vars := map[string]string{"LINKAPI_DATABASE_URL": dbURL}
		for k, v := range b {
			vars[k] = v
		}
		if r := runCLIEnv(t, vars, bookmarkFile(t, "https://example.com/"), "import", "--email", "ann@example.com"); r.Err == nil {
			t.Errorf("%v: linkapi import ran", b)
		}
	}
	vars := map[string]string{"LINKAPI_DATABASE_URL": dbURL, linkapi.SettingMaxLinks: "1", linkapi.SettingMaxText: "1000"}
	if r := runCLIEnv(t, vars, bookmarkFile(t, "https://example.com/"), "import", "--email", "ann@example.com"); r.Err != nil {
		t.Errorf("linkapi import with good settings: %v", r.Err)
	}
}

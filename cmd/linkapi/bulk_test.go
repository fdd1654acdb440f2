package main

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

const (
	bulkCreate = `mutation($in: [CreateLinkInput!]!) { createLinks(inputs: $in) { links { id url tags { name } } errors { index code message } } }`
	bulkUpdate = `mutation($ids: [ID!]!, $add: [String!], $remove: [String!]) { updateLinks(ids: $ids, patch: {addTags: $add, removeTags: $remove}) {
		links { id tags { name } } errors { index code } } }`
	bulkDelete = `mutation($ids: [ID!]!) { deleteLinks(ids: $ids) { links { id url } errors { index code } } }`
)

// bulkErrors returns the code of each item that failed, by index, and checks
// that links is null exactly there.
func bulkErrors(t *testing.T, payload any) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, e := range get(t, payload, "errors").([]any) {
		out[int(get(t, e, "index").(float64))] = str(t, e, "code")
	}
	for i, l := range get(t, payload, "links").([]any) {
		if _, failed := out[i]; failed != (l == nil) {
			t.Errorf("item %d: link %v, error %q", i, l, out[i])
		}
	}
	return out
}

func feedRows(t *testing.T, db *sql.DB) int64 { return queryInt(t, db, `SELECT COUNT(*) FROM changes`) }

// TestBulkLinks runs each bulk mutation with items that succeed and items that
// fail, each on its own, and batches that fail whole and write nothing.
func TestBulkLinks(t *testing.T) {
	quotaServers(t, nil, func(t *testing.T, s *testServer, db *sql.DB, ann, admin string, annID, bobID int64) {
		bob := s.login(t, "bob@example.com", "bob-password")
		bobLink := str(t, s.ok(t, bob, `mutation { createLink(input: {url: "https://example.org/bob"}) { id } }`, nil), "createLink", "id")
		feed := feedRows(t, db)

		// createLinks: a bad URL, a bad tag and another account fail alone.
		d := s.ok(t, ann, bulkCreate, map[string]any{"in": []any{
			map[string]any{"url": "https://example.com/a", "tags": []string{"go", "db"}},
			map[string]any{"url": "ftp://example.com/b"},
			map[string]any{"url": "https://example.com/c", "tags": []string{"go"}},
			map[string]any{"url": "https://example.com/d", "accountId": formatInt(bobID)},
			map[string]any{"url": "https://example.com/e", "tags": []string{""}},
			map[string]any{"url": "https://example.com/f", "accountId": "junk"},
		}})
		errs := bulkErrors(t, d["createLinks"])
		if want := map[int]string{1: "BAD_USER_INPUT", 3: "FORBIDDEN", 4: "BAD_USER_INPUT", 5: "FORBIDDEN"}; fmt.Sprint(errs) != fmt.Sprint(want) {
			t.Errorf("createLinks errors: got %v, want %v", errs, want)
		}
		a, c := str(t, d, "createLinks", "links", 0, "id"), str(t, d, "createLinks", "links", 2, "id")
		if u := str(t, d, "createLinks", "links", 2, "url"); u != "https://example.com/c" {
			t.Errorf("links[2]: got %s, want https://example.com/c", u)
		}
		if got := linkURLs(t, s, ann, "first: 100"); fmt.Sprint(got) != "[https://example.com/a https://example.com/c]" {
			t.Errorf("ann's links: got %v", got)
		}
		if got := linkURLs(t, s, ann, `tag: "go"`); len(got) != 2 {
			t.Errorf("links tagged go: got %v", got)
		}
		wantUsage(t, db, annID, 2, 2*len("https://example.com/a"))
		// Two tags and two links made: four feed rows.
		if got := feedRows(t, db) - feed; got != 4 {
			t.Errorf("feed rows of createLinks: got %d, want 4", got)
		}
		// The administrator creates in both accounts at once; a missing account fails alone.
		d = s.ok(t, admin, bulkCreate, map[string]any{"in": []any{
			map[string]any{"url": "https://example.com/g", "accountId": formatInt(annID)},
			map[string]any{"url": "https://example.org/h", "accountId": formatInt(bobID)},
			map[string]any{"url": "https://example.org/i", "accountId": "999999"},
		}})
		if errs := bulkErrors(t, d["createLinks"]); fmt.Sprint(errs) != "map[2:NOT_FOUND]" {
			t.Errorf("the administrator's createLinks: got %v", errs)
		}
		g := str(t, d, "createLinks", "links", 0, "id")

		// updateLinks: a missing, another's, a junk and a repeated id fail alone.
		feed = feedRows(t, db)
		d = s.ok(t, ann, bulkUpdate, map[string]any{"ids": []string{a, "999999", c, bobLink, "junk", a, g}, "add": []string{"new", "go"}, "remove": []string{"db"}})
		if want := map[int]string{1: "NOT_FOUND", 3: "NOT_FOUND", 4: "NOT_FOUND", 5: "BAD_USER_INPUT"}; fmt.Sprint(bulkErrors(t, d["updateLinks"])) != fmt.Sprint(want) {
			t.Errorf("updateLinks errors: got %v, want %v", bulkErrors(t, d["updateLinks"]), want)
		}
		names := func(l any) []string {
			var out []string
			for _, tag := range get(t, l, "tags").([]any) {
				out = append(out, str(t, tag, "name"))
			}
			return out
		}
		for _, i := range []int{0, 2, 6} {
			if got := names(get(t, d, "updateLinks", "links", i)); !slices.Equal(got, []string{"go", "new"}) {
				t.Errorf("updateLinks links[%d] tags: got %v, want [go new]", i, got)
			}
		}
		if got := feedRows(t, db) - feed; got != 4 { // the tag "new", three links
			t.Errorf("feed rows of updateLinks: got %d, want 4", got)
		}
		for name, vars := range map[string]map[string]any{
			"no items":                {"ids": []string{}, "add": []string{"x"}},
			"101 items":               {"ids": slices.Repeat([]string{a}, 101), "add": []string{"x"}},
			"a patch of nothing":      {"ids": []string{a}},
			"a tag added and removed": {"ids": []string{a}, "add": []string{"x"}, "remove": []string{"x"}},
			"a bad tag name":          {"ids": []string{a}, "add": []string{""}},
		} {
			before := feedRows(t, db)
			wantRefused(t, "updateLinks with "+name, s.do(t, ann, bulkUpdate, vars))
			if feedRows(t, db) != before || slices.Contains(linkURLs(t, s, ann, `tag: "x"`), "https://example.com/a") {
				t.Errorf("updateLinks with %s wrote something", name)
			}
		}
		wantRefused(t, "createLinks of no items", s.do(t, ann, bulkCreate, map[string]any{"in": []any{}}))
		many := make([]any, 101)
		for i := range many {
			many[i] = map[string]any{"url": fmt.Sprintf("https://example.com/many/%d", i)}
		}
		wantRefused(t, "createLinks of 101 items", s.do(t, ann, bulkCreate, map[string]any{"in": many}))
		wantRefused(t, "deleteLinks of no items", s.do(t, ann, bulkDelete, map[string]any{"ids": []string{}}))
		wantRefused(t, "deleteLinks of 101 items", s.do(t, ann, bulkDelete, map[string]any{"ids": slices.Repeat([]string{a}, 101)}))
		if got := linkCount(t, s, ann); got != 3 {
			t.Errorf("ann's links after the refused batches: got %d, want 3", got)
		}

		// deleteLinks answers each link as it was.
		feed = feedRows(t, db)
		d = s.ok(t, ann, bulkDelete, map[string]any{"ids": []string{c, c, bobLink, a}})
		if want := map[int]string{1: "BAD_USER_INPUT", 2: "NOT_FOUND"}; fmt.Sprint(bulkErrors(t, d["deleteLinks"])) != fmt.Sprint(want) {
			t.Errorf("deleteLinks errors: got %v, want %v", bulkErrors(t, d["deleteLinks"]), want)
		}
		if u := str(t, d, "deleteLinks", "links", 3, "url"); u != "https://example.com/a" {
			t.Errorf("deleteLinks links[3]: got %s", u)
		}
		if got := linkURLs(t, s, ann, "first: 100"); fmt.Sprint(got) != "[https://example.com/g]" {
			t.Errorf("ann's links after deleteLinks: got %v", got)
		}
		wantUsage(t, db, annID, 1, len("https://example.com/g"))
		if got := feedRows(t, db) - feed; got != 2 {
			t.Errorf("feed rows of deleteLinks: got %d, want 2", got)
		}
		if got := linkURLs(t, s, bob, "first: 100"); len(got) != 2 {
			t.Errorf("bob's links: got %v, want his two", got)
		}
	})
}

// TestBulkLinksDuplicatesAndState refuses, item by item and as createLink does,
// a URL the account already has or an earlier item saves, and sets the
// reading-list state of many links with one updateLinks.
func TestBulkLinksDuplicatesAndState(t *testing.T) {
	quotaServers(t, nil, func(t *testing.T, s *testServer, db *sql.DB, ann, admin string, annID, bobID int64) {
		old := str(t, s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/old"}) { id } }`, nil), "createLink", "id")
		d := s.ok(t, ann, `mutation($in: [CreateLinkInput!]!) { createLinks(inputs: $in) { links { id unread notes } errors { index code message } } }`,
			map[string]any{"in": []any{
				map[string]any{"url": "HTTPS://Example.com:443/old#top"},
				map[string]any{"url": "https://example.com/new", "unread": true, "notes": "read me"},
				map[string]any{"url": "https://example.com/new#again"},
			}})
		if errs := bulkErrors(t, d["createLinks"]); fmt.Sprint(errs) != "map[0:CONFLICT 2:CONFLICT]" {
			t.Fatalf("createLinks of duplicates: got %v", errs)
		}
		if msg := str(t, d, "createLinks", "errors", 0, "message"); !strings.Contains(msg, "link "+old) {
			t.Errorf("the duplicate of an existing link: message %q does not name link %s", msg, old)
		}
		if get(t, d, "createLinks", "links", 1, "unread") != true || str(t, d, "createLinks", "links", 1, "notes") != "read me" {
			t.Errorf("createLinks item state: got %v", get(t, d, "createLinks", "links", 1))
		}
		if got := linkCount(t, s, ann); got != 2 {
			t.Errorf("ann's links: got %d, want 2", got)
		}
		fresh := str(t, d, "createLinks", "links", 1, "id")

		feed := feedRows(t, db)
		d = s.ok(t, ann, `mutation($ids: [ID!]!) { updateLinks(ids: $ids, patch: {unread: false, favorite: true}) {
			links { id unread archived favorite } errors { index code } } }`, map[string]any{"ids": []string{old, fresh}})
		if errs := bulkErrors(t, d["updateLinks"]); len(errs) != 0 {
			t.Fatalf("updateLinks of state: errors %v", errs)
		}
		for _, id := range []string{old, fresh} {
			l := get(t, s.ok(t, ann, `query($id: ID!) { link(id: $id) { unread archived favorite } }`, map[string]any{"id": id}), "link")
			if fmt.Sprint(l) != "map[archived:false favorite:true unread:false]" {
				t.Errorf("link %s after updateLinks: got %v", id, l)
			}
		}
		if got := feedRows(t, db) - feed; got != 2 {
			t.Errorf("feed rows of updateLinks of state: got %d, want 2", got)
		}
	})
}

// TestBulkLinksQuota fills an account's link quota from one createLinks: the
// items that fit are saved, the rest fail alone with BAD_USER_INPUT.
func TestBulkLinksQuota(t *testing.T) {
	quotaServers(t, map[string]string{linkapi.SettingMaxLinks: "3"}, func(t *testing.T, s *testServer, db *sql.DB, ann, admin string, annID, bobID int64) {
		s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/0"}) { id } }`, nil)
		in := make([]any, 4)
		for i := range in {
			in[i] = map[string]any{"url": fmt.Sprintf("https://example.com/%d", i+1)}
		}
		d := s.ok(t, ann, bulkCreate, map[string]any{"in": in})
		if errs := bulkErrors(t, d["createLinks"]); fmt.Sprint(errs) != "map[2:BAD_USER_INPUT 3:BAD_USER_INPUT]" {
			t.Errorf("createLinks past the quota: got %v", errs)
		}
		wantUsage(t, db, annID, 3, 3*len("https://example.com/0"))
		d = s.ok(t, ann, bulkDelete, map[string]any{"ids": []string{str(t, d, "createLinks", "links", 0, "id")}})
		d = s.ok(t, ann, bulkCreate, map[string]any{"in": in[3:]})
		if errs := bulkErrors(t, d["createLinks"]); len(errs) != 0 {
			t.Errorf("createLinks into the room deleteLinks gave back: got %v", errs)
		}
	})
}

// TestBulkStatementsDoNotGrowWithTheItems counts the statements of each bulk
// mutation of 1 and of 100 items, with tags, and wants the same number.
func TestBulkStatementsDoNotGrowWithTheItems(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		log := &statementLog{}
		s := startServerWith(t, url, log.attach(t))
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		counts := map[string][]int{}
		for _, n := range []int{1, 100} {
			in := make([]any, n)
			for i := range in {
				in[i] = map[string]any{"url": fmt.Sprintf("https://example.com/%d/%d", n, i), "tags": []string{"all", fmt.Sprintf("t%d-%d", n, i)}}
			}
			var d map[string]any
			counts["createLinks"] = append(counts["createLinks"], len(log.during(func() { d = s.ok(t, ann, bulkCreate, map[string]any{"in": in}) })))
			var ids []string
			for _, l := range get(t, d, "createLinks", "links").([]any) {
				ids = append(ids, str(t, l, "id"))
			}
			if len(ids) != n || len(bulkErrors(t, d["createLinks"])) != 0 {
				t.Fatalf("createLinks of %d: %v", n, d)
			}
			vars := map[string]any{"ids": ids, "add": []string{fmt.Sprintf("added-%d", n)}, "remove": []string{"all"}}
			counts["updateLinks"] = append(counts["updateLinks"], len(log.during(func() { d = s.ok(t, ann, bulkUpdate, vars) })))
			if len(bulkErrors(t, d["updateLinks"])) != 0 {
				t.Fatalf("updateLinks of %d: %v", n, d)
			}
			counts["deleteLinks"] = append(counts["deleteLinks"], len(log.during(func() { d = s.ok(t, ann, bulkDelete, map[string]any{"ids": ids}) })))
			if len(bulkErrors(t, d["deleteLinks"])) != 0 {
				t.Fatalf("deleteLinks of %d: %v", n, d)
			}
		}
		for op, c := range counts {
			t.Logf("%s: %d statements for 1 item, %d for 100", op, c[0], c[1])
			// Each sends at least its lock, its write and its feed rows; the
			// account's lookup may come on one request and not the other.
			if c[0] < 4 || c[1] > c[0]+1 || c[1] < c[0]-1 || c[1] > 16 {
				t.Errorf("%s: %d statements for 1 item and %d for 100, want the same few", op, c[0], c[1])
			}
		}
	})
}

// TestBulkComplexityCountsTheItems prices a bulk mutation by its items: what
// 50 items may select, 100 may not.
func TestBulkComplexityCountsTheItems(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/c.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	ann := s.login(t, "ann@example.com", "ann-password")
	// Each item costs its own 10 and 306 for what it selects: links { tags (1 + 100 × 3)
	// account (2) } (304) and errors { index } (2); 100 items cost 31601, 50 cost 15801.
	const heavy = `mutation($in: [CreateLinkInput!]!) { createLinks(inputs: $in) { links { tags { id name createdAt } account { email } } errors { index } } }`
	items := func(n int) []any {
		in := make([]any, n)
		for i := range in {
			in[i] = map[string]any{"url": fmt.Sprintf("https://example.com/%d/%d", n, i)}
		}
		return in
	}
	if got := s.do(t, ann, heavy, map[string]any{"in": items(100)}); got.Code() != "COMPLEXITY_LIMIT_EXCEEDED" || got.Data != nil {
		t.Errorf("100 items with their tags and account: got %q (%v), want COMPLEXITY_LIMIT_EXCEEDED", got.Code(), got.Data)
	}
	if got := linkCount(t, s, ann); got != 0 {
		t.Errorf("links after the refusal: got %d, want 0", got)
	}
	if got := s.do(t, ann, heavy, map[string]any{"in": items(50)}); got.Code() != "" {
		t.Errorf("50 items with their tags and account: got %q, want success", got.Code())
	}
	if got := s.do(t, ann, `mutation($in: [CreateLinkInput!]!) { createLinks(inputs: $in) { links { id tags { name } } errors { index } } }`,
		map[string]any{"in": items(100)}); got.Code() != "" {
		t.Errorf("100 items with ids and tag names: got %q, want success", got.Code())
	}
}

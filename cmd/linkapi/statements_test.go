package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
	"linkapi/internal/webhooks"
)

// statementLog records every SQL statement the server sends while it is on, but
// the webhook worker's, which polls the outbox on its own schedule.
type statementLog struct {
	on   atomic.Bool
	mu   sync.Mutex
	sqls []string
}

func (l *statementLog) record(ctx context.Context, st store.Statement) error {
	if l.on.Load() && !webhooks.InWorker(ctx) {
		l.mu.Lock()
		l.sqls = append(l.sqls, st.SQL)
		l.mu.Unlock()
	}
	return nil
}

// attach makes the server's database tell l of each statement it sends.
func (l *statementLog) attach(t *testing.T) func(*store.DB) {
	return func(db *store.DB) {
		if err := db.OnStatement(l.record); err != nil {
			t.Error(err)
		}
	}
}

// during returns the statements sent while fn runs.
func (l *statementLog) during(fn func()) []string {
	l.mu.Lock()
	l.sqls = nil
	l.mu.Unlock()
	l.on.Store(true)
	fn()
	l.on.Store(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.sqls...)
}

// TestStatementsPerRequestDoNotGrowWithThePage seeds pages of 5 and of 100 links and
// checks that each request sends the same, small number of statements, the
// lookup of the caller's account included, and answers right: nested
// connections, under nodes or edges and however deep, are read for all their
// parents at once.
func TestStatementsPerRequestDoNotGrowWithThePage(t *testing.T) {
	for _, size := range []int{5, 100} {
		t.Run(fmt.Sprintf("%d links", size), func(t *testing.T) {
			storetest.ForEachDB(t, func(t *testing.T, url string) {
				log := &statementLog{}
				s := startServerWith(t, url, log.attach(t))
				s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
				s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
				s.createAccount(t, "root@example.com", "root-password", "admin:read")
				token := s.login(t, "ann@example.com", "ann-password")
				bob := s.login(t, "bob@example.com", "bob-password")
				admin := s.login(t, "root@example.com", "root-password")
				w := seedStatementLinks(t, s, token, bob, size)
				// Each query sends at least min statements, one per list it reads,
				// so that a log that counts nothing cannot pass, and at most max,
				// which allows one more for the caller's account when the account
				// cache has let it go. The caller's own account, under a link or a
				// tag, is the one the request's authentication read: no statement.
				queries := []struct {
					name     string
					token    string
					query    string
					min, max int
					check    func(t *testing.T, d map[string]any)
				}{
					{"links with tags and account", token, `{ links(first: 100) { nodes { tags { name } account { email } } } }`, 2, 3, nil},
					// Every filter and each order: still one statement for the page.
					{"filtered links with tags and account", token, `{ links(first: 100, unread: false, archived: false, favorite: false, tags: ["all"], anyTags: ["t1", "t2"], excludeTags: ["t3"], search: "example", updatedSince: "2000-01-01T00:00:00Z") { nodes { tags { name } account { email } } } }`, 2, 3, func(t *testing.T, d map[string]any) {
						if got, want := len(get(t, d, "links", "nodes").([]any)), w.count["t1"]+w.count["t2"]; got != want {
							t.Errorf("filtered links: got %d, want %d", got, want)
						}
					}},
					{"links by title with tags and account", token, `{ links(first: 100, orderBy: TITLE_ASC, tags: ["all"]) { nodes { tags { name } account { email } } } }`, 2, 3, nil},
					{"links by change with tags and account", token, `{ links(first: 100, orderBy: UPDATED_DESC, excludeTags: ["t0"]) { nodes { tags { name } account { email } } } }`, 2, 3, nil},
					{"oldest links with tags and account", token, `{ links(first: 100, orderBy: CREATED_ASC, unread: false) { nodes { tags { name } account { email } } } }`, 2, 3, nil},
					{"me with links, tags and counts", token, `{ me { links(first: 100) { nodes { tags { name } } } tags(first: 100) { nodes { links { totalCount } } } } }`, 3, 4, nil},
					// Two selections of a link's tags that need different
					// columns are read apart, each with what it needs.
					{"a link's tags twice, with and without their time", token, `{ links(first: 50) { nodes { a: tags { name } b: tags { name createdAt } } } }`, 3, 4, func(t *testing.T, d map[string]any) {
						for _, l := range get(t, d, "links", "nodes").([]any) {
							a, b := get(t, l, "a").([]any), get(t, l, "b").([]any)
							if len(a) != len(b) || len(b) == 0 {
								t.Fatalf("tags a %v, b %v: want the same, not none", a, b)
							}
							for i := range b {
								at, err := time.Parse(time.RFC3339Nano, str(t, b[i], "createdAt"))
								if str(t, a[i], "name") != str(t, b[i], "name") || err != nil || time.Since(at) > time.Hour {
									t.Errorf("tag %v, then %v: want the same name and a createdAt of the last hour", a[i], b[i])
								}
							}
						}
					}},
					{"tags with their account", token, `{ tags(first: 100) { totalCount nodes { name account { email } } } }`, 2, 3, nil},
					// Priced 19933, just under the default complexity limit.
					{"link counts of each link's tags", token, tagLinkCounts, 3, 4, func(t *testing.T, d map[string]any) {
						for _, tag := range eachTag(t, d) {
							w.wantInt(t, tag, w.count[str(t, tag, "name")], "links", "totalCount")
						}
					}},
					{"newest link of each link's tags", token, `{ links(first: 60) { nodes { tags { name links(first: 1) { nodes { id } } } } } }`, 3, 4, func(t *testing.T, d map[string]any) {
						for _, tag := range eachTag(t, d) {
							w.wantIDs(t, tag, w.newest[str(t, tag, "name")][:1], "links", "nodes")
						}
					}},
					{"link count of each link's account", token, `{ links(first: 100) { nodes { account { links(first: 1) { totalCount } } } } }`, 2, 3, func(t *testing.T, d map[string]any) {
						for _, l := range get(t, d, "links", "nodes").([]any) {
							w.wantInt(t, l, size, "account", "links", "totalCount")
						}
					}},
					{"tag count of each link's account", token, `{ links(first: 100) { nodes { account { tags(first: 1) { totalCount } } } } }`, 2, 3, func(t *testing.T, d map[string]any) {
						for _, l := range get(t, d, "links", "nodes").([]any) {
							w.wantInt(t, l, len(w.count), "account", "tags", "totalCount")
						}
					}},
					{"newest link of each link's account", token, `{ links(first: 100) { nodes { account { links(first: 1) { nodes { id } } } } } }`, 2, 3, func(t *testing.T, d map[string]any) {
						for _, l := range get(t, d, "links", "nodes").([]any) {
							w.wantIDs(t, l, w.all[:1], "account", "links", "nodes")
						}
					}},
					{"newest link of each tag", token, `{ tags(first: 100) { nodes { name links(first: 1) { nodes { id } } } } }`, 2, 4, func(t *testing.T, d map[string]any) {
						for _, tag := range get(t, d, "tags", "nodes").([]any) {
							w.wantIDs(t, tag, w.newest[str(t, tag, "name")][:1], "links", "nodes")
						}
					}},
					{"the same under edges", token, `{ links(first: 40) { edges { node { tags { name links(first: 1) { edges { node { id } } } } account { links(first: 1) { totalCount } } } } } }`, 4, 5, func(t *testing.T, d map[string]any) {
						for _, e := range get(t, d, "links", "edges").([]any) {
							w.wantInt(t, e, size, "node", "account", "links", "totalCount")
							for _, tag := range get(t, e, "node", "tags").([]any) {
								if got, want := str(t, tag, "links", "edges", 0, "node", "id"), w.newest[str(t, tag, "name")][0]; got != want {
									t.Errorf("tag %s: newest link %s, want %s", str(t, tag, "name"), got, want)
								}
							}
						}
					}},
					{"tags of the links of each tag", token, `{ tags(first: 50) { nodes { links(first: 1) { nodes { tags { name links(first: 1) { totalCount } } } } } } }`, 4, 5, nil},
					{"links and tags of each tag's account", token, `{ tags(first: 100) { nodes { account { links(first: 3) { totalCount nodes { id } } tags(first: 2) { totalCount nodes { name } } } } } }`, 5, 6, func(t *testing.T, d map[string]any) {
						for _, tag := range get(t, d, "tags", "nodes").([]any) {
							w.wantInt(t, tag, size, "account", "links", "totalCount")
							w.wantIDs(t, tag, w.all[:3], "account", "links", "nodes")
							w.wantInt(t, tag, len(w.count), "account", "tags", "totalCount")
						}
					}},
					// An administrator's page holds the links of two accounts.
					{"accounts of an administrator's page", admin, `{ links(first: 100) { nodes { account { email links(first: 1) { totalCount nodes { id } } tags(first: 2) { totalCount nodes { name links(first: 1) { nodes { id } } } } } } } }`, 7, 8, func(t *testing.T, d map[string]any) {
						for _, l := range get(t, d, "links", "nodes").([]any) {
							if str(t, l, "account", "email") == "bob@example.com" {
								w.wantInt(t, l, 2, "account", "links", "totalCount")
								w.wantInt(t, l, 1, "account", "tags", "totalCount")
								continue
							}
							w.wantInt(t, l, size, "account", "links", "totalCount")
							w.wantIDs(t, l, w.all[:1], "account", "links", "nodes")
							for _, tag := range get(t, l, "account", "tags", "nodes").([]any) {
								w.wantIDs(t, tag, w.newest[str(t, tag, "name")][:1], "links", "nodes")
							}
						}
					}},
				}
				// Looking ahead reads nothing for a field the caller may not read.
				reader := str(t, s.ok(t, "", `mutation { login(email: "ann@example.com", password: "ann-password", scopes: ["links:read"]) { accessToken } }`, nil), "login", "accessToken")
				sqls := log.during(func() {
					if r := s.do(t, reader, `{ links(first: 50) { nodes { id tags { name links(first: 1) { totalCount } } account { email } } } }`, nil); r.Code() != "FORBIDDEN" {
						t.Errorf("links:read asking for tags and account: got %q, want FORBIDDEN", r.Code())
					}
				})
				// The page of links, and the caller's account when the cache has let it go.
				if len(sqls) < 1 || len(sqls) > 2 {
					t.Errorf("links:read asking for tags and account: got %d statements, want 1 to 2:\n%v", len(sqls), sqls)
				}
				for _, q := range queries {
					var d map[string]any
					sqls := log.during(func() { d = s.ok(t, q.token, q.query, nil) })
					t.Logf("%s: %d statements", q.name, len(sqls))
					if len(sqls) < q.min || len(sqls) > q.max {
						t.Errorf("%s: got %d statements, want %d to %d:\n%v", q.name, len(sqls), q.min, q.max, sqls)
					}
					if q.check != nil {
						q.check(t, d)
					}
				}
				// A page reads the columns of the fields its links select (and of
				// its order when the query takes a cursor), not all of them, with
				// its limit written in (see selectSQL.orderBy); the tags of a page,
				// their time only when selected.
				const page, tags = "FROM links", "FROM link_tags"
				for _, c := range []struct{ query, from, want, not string }{
					{`{ links(first: 5) { nodes { id url tags { name } } } }`, page, "links.url", "links.notes"},
					{`{ links(first: 5) { nodes { id url tags { name } } } }`, page, "links.url", "links.created_at"},
					{`{ links(first: 5) { pageInfo { hasNextPage } nodes { url } } }`, page, "links.created_at", "links.title"},
					{`{ links(first: 5) { edges { node { url } } } }`, page, "links.created_at", "links.title"},
					{`{ links(first: 5, orderBy: TITLE_ASC) { edges { cursor node { notes } } } }`, page, "links.notes", "links.url"},
					{`{ links(first: 5, orderBy: TITLE_ASC) { pageInfo { endCursor } nodes { url } } }`, page, "links.title", "links.created_at"},
					{`{ links(first: 5) { nodes { ... on Link { favorite } } } }`, page, "links.favorite", "links.title"},
					{`{ links(first: 5) { nodes { id url tags { name } } } }`, tags, "tags.name", "tags.created_at"},
					{`{ links(first: 5) { nodes { tags { ... on Tag { createdAt } } } } }`, tags, "tags.created_at", "links.url"},
				} {
					sqls := log.during(func() { s.ok(t, token, c.query, nil) })
					var stmt string
					for _, q := range sqls {
						if strings.Contains(q, c.from) {
							stmt = q
							break
						}
					}
					cols, _, _ := strings.Cut(stmt, " FROM ")
					if !strings.Contains(cols, c.want) || strings.Contains(cols, c.not) || c.from == page && !strings.HasSuffix(stmt, " LIMIT 6") {
						t.Errorf("%s: the statement %s %q, want one selecting %s and not %s (ending LIMIT 6 for a page)", c.query, c.from, stmt, c.want, c.not)
					}
				}
			})
		})
	}
}

// statementLinks is what seedStatementLinks made: link ids newest first, and for
// each tag name its links newest first and their number.
type statementLinks struct {
	all    []string
	newest map[string][]string
	count  map[string]int
}

// seedStatementLinks gives the caller of token size links, link i tagged "all",
// "t<i mod 7>" and "u<i>", and the caller of other two links tagged "all", which must
// never show in the first's answers.
func seedStatementLinks(t *testing.T, s *testServer, token, other string, size int) *statementLinks {
	t.Helper()
	w := &statementLinks{newest: map[string][]string{}, count: map[string]int{}}
	for i := 0; i < size; i++ {
		tags := []string{fmt.Sprintf("t%d", i%7), "all", fmt.Sprintf("u%d", i)}
		d := s.ok(t, token, `mutation($u: String!, $t: [String!]) { createLink(input: {url: $u, tags: $t}) { id } }`,
			map[string]any{"u": fmt.Sprintf("https://example.com/%d", i), "t": tags})
		id := str(t, d, "createLink", "id")
		w.all = append([]string{id}, w.all...)
		for _, tag := range tags {
			w.newest[tag] = append([]string{id}, w.newest[tag]...)
			w.count[tag]++
		}
	}
	for i := 0; i < 2; i++ {
		s.ok(t, other, `mutation($u: String!) { createLink(input: {url: $u, tags: ["all"]}) { id } }`,
			map[string]any{"u": fmt.Sprintf("https://example.org/%d", i)})
	}
	return w
}

// eachTag returns the tags of every link of d's links.
func eachTag(t *testing.T, d map[string]any) []any {
	var out []any
	for _, l := range get(t, d, "links", "nodes").([]any) {
		out = append(out, get(t, l, "tags").([]any)...)
	}
	return out
}

func (w *statementLinks) wantInt(t *testing.T, v any, want int, path ...any) {
	t.Helper()
	if got := get(t, v, path...); got != float64(want) {
		t.Errorf("%v: got %v, want %d", path, got, want)
	}
}

// wantIDs checks that the nodes at path are the links of ids, in order.
func (w *statementLinks) wantIDs(t *testing.T, v any, ids []string, path ...any) {
	t.Helper()
	var got []string
	for _, n := range get(t, v, path...).([]any) {
		got = append(got, str(t, n, "id"))
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("%v: got %v, want %v", path, got, ids)
	}
}

// tagLinkCounts asks for the number of links of every tag of a page of links, which
// Link.tags counts for all of its tags at once.
const tagLinkCounts = `{ links(first: 66) { nodes { tags { name links(first: 1) { totalCount } } } } }`

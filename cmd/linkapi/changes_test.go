package main

import (
	"context"
	"fmt"
	"testing"

	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

const changesQuery = `query($after: String, $first: Int, $acc: ID) { changes(after: $after, first: $first, accountId: $acc) {
	edges { cursor node { kind objectType objectId at link { id url tags { name } } tag { id name } } }
	pageInfo { hasNextPage endCursor } latestCursor } }`

// feedChange is a change as a test compares it.
type feedChange struct{ kind, typ, id string }

// readFeed reads token's feed after cursor to its end, a page of first at a
// time, and returns its changes and the cursor to read on from.
func readFeed(t *testing.T, s *testServer, token string, after any, first int, acc any) ([]feedChange, []any, string) {
	t.Helper()
	var out []feedChange
	var nodes []any
	for {
		d := s.ok(t, token, changesQuery, map[string]any{"after": after, "first": first, "acc": acc})
		for _, e := range get(t, d, "changes", "edges").([]any) {
			n := get(t, e, "node")
			out = append(out, feedChange{str(t, n, "kind"), str(t, n, "objectType"), str(t, n, "objectId")})
			nodes = append(nodes, n)
		}
		after = str(t, d, "changes", "pageInfo", "endCursor")
		if get(t, d, "changes", "pageInfo", "hasNextPage") != true {
			return out, nodes, after.(string)
		}
	}
}

// TestChangesQuery reads the feed of every kind of write through the API:
// in commit order, a page at a time, with each change's link or tag as it is
// now (null once deleted), from a latestCursor taken before, and refuses
// cursors that are not the caller's feed's.
func TestChangesQuery(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "root@example.com", "root-password", "admin:read")
		ann, bob := s.login(t, "ann@example.com", "ann-password"), s.login(t, "bob@example.com", "bob-password")
		admin := s.login(t, "root@example.com", "root-password")
		start := str(t, s.ok(t, ann, `{ changes(first: 0) { latestCursor } }`, nil), "changes", "latestCursor")

		l1 := str(t, s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/1", tags: ["go"]}) { id } }`, nil), "createLink", "id")
		l2 := str(t, s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/2"}) { id } }`, nil), "createLink", "id")
		tag := str(t, s.ok(t, ann, `mutation { createTag(input: {name: "db"}) { id } }`, nil), "createTag", "id")
		s.ok(t, ann, `mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`, map[string]any{"l": l2, "t": tag})
		s.ok(t, ann, `mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`, map[string]any{"l": l2, "t": tag}) // nothing new
		s.ok(t, ann, `mutation($l: ID!) { updateLink(id: $l, input: {title: "one"}) { id } }`, map[string]any{"l": l1})
		s.ok(t, ann, `mutation($t: ID!) { renameTag(id: $t, name: "sql") { id } }`, map[string]any{"t": tag})
		s.ok(t, ann, `mutation($l: ID!) { deleteLink(id: $l) }`, map[string]any{"l": l1})
		s.ok(t, bob, `mutation { createLink(input: {url: "https://example.org/b"}) { id } }`, nil)

		got, nodes, end := readFeed(t, s, ann, start, 2, nil)
		goTag := str(t, nodes[0], "objectId")
		want := []feedChange{
			{"CREATED", "Tag", goTag}, {"CREATED", "Link", l1}, {"CREATED", "Link", l2}, {"CREATED", "Tag", tag},
			{"UPDATED", "Link", l2}, {"UPDATED", "Link", l1}, {"UPDATED", "Tag", tag}, {"DELETED", "Link", l1},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ann's feed:\n got %v\nwant %v", got, want)
		}
		if get(t, nodes[1], "link") != nil || get(t, nodes[0], "link") != nil {
			t.Errorf("a deleted link, or a tag's change, has a link: %v, %v", nodes[1], nodes[0])
		}
		if u := str(t, nodes[2], "link", "url"); u != "https://example.com/2" || str(t, nodes[2], "link", "tags", 0, "name") != "sql" {
			t.Errorf("link 2 as it is now: got %v", nodes[2])
		}
		if str(t, nodes[3], "tag", "name") != "sql" {
			t.Errorf("the tag as it is now: got %v", nodes[3])
		}
		// From the end, nothing more, and the same cursor back.
		if more, _, again := readFeed(t, s, ann, end, 10, nil); len(more) != 0 || again != end {
			t.Errorf("after the end: got %v and cursor %s, want nothing and %s", more, again, end)
		}
		if latest := str(t, s.ok(t, ann, `{ changes(first: 0) { latestCursor } }`, nil), "changes", "latestCursor"); latest != end {
			t.Errorf("latestCursor: got %s, want the end %s", latest, end)
		}
		// Without a cursor, from the oldest kept.
		if all, _, _ := readFeed(t, s, ann, nil, 100, nil); fmt.Sprint(all) != fmt.Sprint(want) {
			t.Errorf("ann's feed without a cursor: got %v", all)
		}
		bobs, _, _ := readFeed(t, s, bob, nil, 100, nil)
		if len(bobs) != 1 || bobs[0].kind != "CREATED" {
			t.Errorf("bob's feed: got %v, want his one link", bobs)
		}
		// The administrator sees both accounts, and one when naming it.
		if all, _, _ := readFeed(t, s, admin, nil, 3, nil); len(all) != len(want)+1 {
			t.Errorf("the administrator's feed: got %d changes, want %d", len(all), len(want)+1)
		}
		annID := fmt.Sprint(get(t, s.ok(t, ann, `{ me { id } }`, nil), "me", "id"))
		if only, _, _ := readFeed(t, s, admin, nil, 3, annID); fmt.Sprint(only) != fmt.Sprint(want) {
			t.Errorf("the administrator's feed of ann: got %v", only)
		}
		for name, c := range map[string]struct {
			token, after string
			acc          any
			want         string
		}{
			"ann's cursor in bob's feed":                    {bob, end, nil, "BAD_USER_INPUT"},
			"ann's cursor in the feed of all":               {admin, end, nil, "BAD_USER_INPUT"},
			"a cursor of links":                             {ann, "djE6MQ", nil, "BAD_USER_INPUT"},
			"junk":                                          {ann, "!!", nil, "BAD_USER_INPUT"},
			"bob naming ann's account":                      {bob, end, annID, "FORBIDDEN"},
			"ann's cursor, the administrator in ann's feed": {admin, end, annID, ""},
		} {
			if got := s.do(t, c.token, changesQuery, map[string]any{"after": c.after, "acc": c.acc}).Code(); got != c.want {
				t.Errorf("%s: got %q, want %q", name, got, c.want)
			}
		}
		if got := s.do(t, ann, `{ changes(first: 101) { nodes { kind } } }`, nil).Code(); got != "BAD_USER_INPUT" {
			t.Errorf("first: 101: got %q, want BAD_USER_INPUT", got)
		}
		reader := str(t, s.ok(t, "", `mutation { login(email: "ann@example.com", password: "ann-password", scopes: ["links:read"]) { accessToken } }`, nil), "login", "accessToken")
		if got := s.do(t, reader, `{ changes { nodes { tag { name } } } }`, nil).Code(); got != "FORBIDDEN" {
			t.Errorf("tag of a change without tags:read: got %q, want FORBIDDEN", got)
		}
	})
}

// TestChangesStatementsDoNotGrowWithThePage reads pages of 5 and of 100
// changes with their links, the links' tags and the tags, and checks that each
// costs the same few statements.
func TestChangesStatementsDoNotGrowWithThePage(t *testing.T) {
	for _, size := range []int{5, 100} {
		t.Run(fmt.Sprintf("%d changes", size), func(t *testing.T) {
			storetest.ForEachDB(t, func(t *testing.T, url string) {
				log := &statementLog{}
				s := startServerWith(t, url, log.attach(t))
				s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
				ann := s.login(t, "ann@example.com", "ann-password")
				for i := 0; i < size/2; i++ {
					s.ok(t, ann, `mutation($u: String!, $t: [String!]) { createLink(input: {url: $u, tags: $t}) { id } }`,
						map[string]any{"u": fmt.Sprintf("https://example.com/%d", i), "t": []string{fmt.Sprintf("t%d", i)}})
				}
				var d map[string]any
				sqls := log.during(func() {
					d = s.ok(t, ann, `{ changes(first: 100) { nodes { kind link { url tags { name } } tag { name links { totalCount } } } } }`, nil)
				})
				if n := len(get(t, d, "changes", "nodes").([]any)); n != size/2*2 {
					t.Fatalf("changes: got %d, want %d", n, size/2*2)
				}
				// The page, its links, their tags, its tags, their link counts; and
				// the caller's account when the cache has let it go.
				t.Logf("%d statements", len(sqls))
				if len(sqls) < 5 || len(sqls) > 6 {
					t.Errorf("got %d statements, want 5 to 6:\n%v", len(sqls), sqls)
				}
			})
		})
	}
}

// TestChangesCursorExpires prunes, in the server, changes older than 30 days
// (aged in the database) and answers CURSOR_EXPIRED for a cursor before them,
// while a cursor after them reads on.
func TestChangesCursorExpires(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := startServer(t, url)
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		start := str(t, s.ok(t, ann, `{ changes(first: 0) { latestCursor } }`, nil), "changes", "latestCursor")
		s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/old"}) { id } }`, nil)
		s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/old2"}) { id } }`, nil)
		mid := str(t, s.ok(t, ann, `{ changes(first: 0) { latestCursor } }`, nil), "changes", "latestCursor")
		s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/new"}) { id } }`, nil)
		db := openDB(t, url)
		execSQL(t, db.SQL(), `UPDATE changes SET at = ? WHERE seq <= 2`, "2000-01-01 00:00:00")

		pruned := make(chan int64, 10)
		_, _, stop := launch(t, map[string]string{"LINKAPI_DATABASE_URL": url, "LINKAPI_JWT_SECRET": testSecret}, nil,
			func(p *Program) {
				p.Pruned = func(n int64, err error) {
					if err != nil {
						t.Errorf("pruning: %v", err)
					}
					pruned <- n
				}
			})
		defer stop()
		if n := <-pruned; n != 2 {
			t.Fatalf("the server's first pruning deleted %d changes, want 2", n)
		}
		if got := s.do(t, ann, changesQuery, map[string]any{"after": start}).Code(); got != "CURSOR_EXPIRED" {
			t.Errorf("a cursor before the pruned changes: got %q, want CURSOR_EXPIRED", got)
		}
		got, _, _ := readFeed(t, s, ann, mid, 10, nil)
		if len(got) != 1 || got[0].kind != "CREATED" {
			t.Errorf("a cursor after the pruned changes: got %v, want the newest link", got)
		}
		// A store on a clock past the retention prunes nothing more: the newest
		// change is kept.
		if n, err := store.New(db).PruneChanges(context.Background()); err != nil || n != 0 {
			t.Errorf("pruning again: %d, %v", n, err)
		}
	})
}

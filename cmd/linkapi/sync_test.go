package main

import (
	"database/sql"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"linkapi/internal/store/storetest"
)

// syncLink is a link as a syncing client keeps it: its tags by id, so that a
// tag's rename or deletion is one change of the tag.
type syncLink struct {
	URL, Title, Description string
	Tags                    []string
}

// syncState is what the client holds: links and tag names, by id.
type syncState struct {
	Links map[string]syncLink
	Tags  map[string]string
}

func (st *syncState) String() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(st.Links)) {
		fmt.Fprintf(&b, "link %s %+v\n", id, st.Links[id])
	}
	for _, id := range slices.Sorted(maps.Keys(st.Tags)) {
		fmt.Fprintf(&b, "tag %s %s\n", id, st.Tags[id])
	}
	return b.String()
}

func optional(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func syncLinkOf(t *testing.T, l any) syncLink {
	out := syncLink{URL: str(t, l, "url"), Title: optional(get(t, l, "title")), Description: optional(get(t, l, "description")), Tags: []string{}}
	for _, tag := range get(t, l, "tags").([]any) {
		out.Tags = append(out.Tags, str(t, tag, "id"))
	}
	slices.Sort(out.Tags)
	return out
}

const (
	syncLinksQuery = `query($after: String) { links(first: 100, after: $after) {
		nodes { id url title description tags { id } } pageInfo { hasNextPage endCursor } } }`
	syncTagsQuery = `query($after: String) { tags(first: 100, after: $after) {
		nodes { id name } pageInfo { hasNextPage endCursor } } }`
	syncChangesQuery = `query($after: String) { changes(first: 50, after: $after) {
		nodes { objectType objectId link { id url title description tags { id } } tag { id name } }
		pageInfo { hasNextPage endCursor } } }`
)

// syncClient follows the algorithm of docs/sync.md: take a cursor, walk the
// links and tags, then apply the changes after the cursor.
type syncClient struct {
	t      *testing.T
	s      *testServer
	token  string
	cursor string
	state  syncState
}

// walk takes the cursor first, then reads every link and tag.
func (c *syncClient) walk() {
	c.cursor = str(c.t, c.s.ok(c.t, c.token, `{ changes(first: 0) { latestCursor } }`, nil), "changes", "latestCursor")
	c.state = syncState{Links: map[string]syncLink{}, Tags: map[string]string{}}
	for _, q := range []struct{ query, field string }{{syncLinksQuery, "links"}, {syncTagsQuery, "tags"}} {
		var after any
		for {
			d := c.s.ok(c.t, c.token, q.query, map[string]any{"after": after})
			for _, n := range get(c.t, d, q.field, "nodes").([]any) {
				if q.field == "links" {
					c.state.Links[str(c.t, n, "id")] = syncLinkOf(c.t, n)
				} else {
					c.state.Tags[str(c.t, n, "id")] = str(c.t, n, "name")
				}
			}
			if get(c.t, d, q.field, "pageInfo", "hasNextPage") != true {
				break
			}
			after = str(c.t, d, q.field, "pageInfo", "endCursor")
		}
	}
}

// catchUp applies the changes after the cursor, to the end of the feed.
func (c *syncClient) catchUp() {
	for {
		d := c.s.ok(c.t, c.token, syncChangesQuery, map[string]any{"after": c.cursor})
		for _, n := range get(c.t, d, "changes", "nodes").([]any) {
			id := str(c.t, n, "objectId")
			switch str(c.t, n, "objectType") {
			case "Link":
				if l := get(c.t, n, "link"); l != nil {
					c.state.Links[id] = syncLinkOf(c.t, l)
				} else {
					delete(c.state.Links, id)
				}
			case "Tag":
				if tag := get(c.t, n, "tag"); tag != nil {
					c.state.Tags[id] = str(c.t, tag, "name")
					continue
				}
				// A deleted tag is off every link, with no change of each.
				delete(c.state.Tags, id)
				for lid, l := range c.state.Links {
					l.Tags = slices.DeleteFunc(l.Tags, func(x string) bool { return x == id })
					c.state.Links[lid] = l
				}
			}
		}
		c.cursor = str(c.t, d, "changes", "pageInfo", "endCursor")
		if get(c.t, d, "changes", "pageInfo", "hasNextPage") != true {
			return
		}
	}
}

// serverState reads an account's links and tags straight from the database.
func serverState(t *testing.T, db *sql.DB, account int64) *syncState {
	t.Helper()
	st := &syncState{Links: map[string]syncLink{}, Tags: map[string]string{}}
	err := eachRow(db, `SELECT id, url, COALESCE(title, ''), COALESCE(description, '') FROM links WHERE account_id = ?`, func(r *sql.Rows) error {
		var id int64
		var l syncLink
		err := r.Scan(&id, &l.URL, &l.Title, &l.Description)
		l.Tags = []string{}
		st.Links[formatInt(id)] = l
		return err
	}, account)
	if err == nil {
		err = eachRow(db, `SELECT link_id, tag_id FROM link_tags WHERE account_id = ?`, func(r *sql.Rows) error {
			var link, tag int64
			err := r.Scan(&link, &tag)
			l := st.Links[formatInt(link)]
			l.Tags = append(l.Tags, formatInt(tag))
			slices.Sort(l.Tags)
			st.Links[formatInt(link)] = l
			return err
		}, account)
	}
	if err == nil {
		err = eachRow(db, `SELECT id, name FROM tags WHERE account_id = ?`, func(r *sql.Rows) error {
			var id int64
			var name string
			err := r.Scan(&id, &name)
			st.Tags[formatInt(id)] = name
			return err
		}, account)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSyncClientConverges runs writers making a seeded random mix of every
// kind of write of links and tags while a client syncs (walks after taking a
// cursor, then applies changes, several times over), and checks that once the
// writers stop and the client catches up it holds exactly what the server does.
func TestSyncClientConverges(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := startServer(t, url)
		annID := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		ann, bob := s.login(t, "ann@example.com", "ann-password"), s.login(t, "bob@example.com", "bob-password")
		for seed := int64(1); seed <= 2; seed++ {
			w := &syncWriters{t: t, s: s}
			for i := 0; i < 10; i++ {
				w.op(ann, rand.New(rand.NewSource(seed*1000+int64(i))))
			}
			var wg sync.WaitGroup
			for i, token := range []string{ann, ann, ann, bob} {
				wg.Add(1)
				go func(token string, rnd *rand.Rand) {
					defer wg.Done()
					for j := 0; j < 40; j++ {
						w.op(token, rnd)
					}
				}(token, rand.New(rand.NewSource(seed*100+int64(i))))
			}
			c := &syncClient{t: t, s: s, token: ann}
			c.walk()
			c.catchUp()
			c.catchUp()
			wg.Wait()
			c.catchUp()
			if got, want := c.state.String(), serverState(t, openDB(t, url).SQL(), annID).String(); got != want {
				t.Fatalf("seed %d: the client holds\n%s\nthe server\n%s", seed, got, want)
			}
			t.Logf("seed %d: %d links, %d tags in sync after %d writes", seed, len(c.state.Links), len(c.state.Tags), w.n)
		}
	})
}

// syncWriters makes random writes through the API, picking among the ids it
// has seen; a write that finds its object gone (NOT_FOUND) or a name taken
// (CONFLICT) is part of the mix, any other error fails the test.
type syncWriters struct {
	t     *testing.T
	s     *testServer
	mu    sync.Mutex
	links []string
	tags  []string
	n     int
}

func (w *syncWriters) pick(rnd *rand.Rand, ids *[]string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(*ids) == 0 {
		return "999999"
	}
	return (*ids)[rnd.Intn(len(*ids))]
}

func (w *syncWriters) keep(ids *[]string, more ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	*ids = append(*ids, more...)
	w.n++
}

var syncTagNames = []string{"go", "db", "web", "news", "later", "read"}

func (w *syncWriters) op(token string, rnd *rand.Rand) {
	t := w.t
	name := func() string { return syncTagNames[rnd.Intn(len(syncTagNames))] }
	do := func(query string, vars map[string]any) map[string]any {
		r := w.s.do(t, token, query, vars)
		if code := r.Code(); code != "" && code != "NOT_FOUND" && code != "CONFLICT" {
			t.Errorf("%s: %s", query, r.Raw)
		}
		return r.Data
	}
	switch rnd.Intn(12) {
	case 0, 1:
		d := do(`mutation($u: String!, $t: [String!]) { createLink(input: {url: $u, tags: $t}) { id tags { id } } }`,
			map[string]any{"u": fmt.Sprintf("https://example.com/%d", rnd.Int63()), "t": []string{name(), name()}})
		w.keep(&w.links, str(t, d, "createLink", "id"))
		// Its tags too, so that renames and deletions hit tags that links carry.
		for _, tag := range get(t, d, "createLink", "tags").([]any) {
			w.keep(&w.tags, str(t, tag, "id"))
		}
	case 2:
		d := do(`mutation($u: String!, $v: String!) { createLinks(inputs: [{url: $u, tags: ["bulk"]}, {url: $v}]) { links { id } } }`,
			map[string]any{"u": fmt.Sprintf("https://example.com/b%d", rnd.Int63()), "v": fmt.Sprintf("https://example.com/c%d", rnd.Int63())})
		w.keep(&w.links, str(t, d, "createLinks", "links", 0, "id"), str(t, d, "createLinks", "links", 1, "id"))
	case 3:
		do(`mutation($id: ID!, $title: String!) { updateLink(id: $id, input: {title: $title, description: $title}) { id } }`,
			map[string]any{"id": w.pick(rnd, &w.links), "title": fmt.Sprint(rnd.Int63())})
	case 4:
		do(`mutation($id: ID!) { deleteLink(id: $id) }`, map[string]any{"id": w.pick(rnd, &w.links)})
	case 5:
		do(`mutation($ids: [ID!]!, $a: [String!], $r: [String!]) { updateLinks(ids: $ids, patch: {addTags: $a, removeTags: $r}) { links { id } } }`,
			map[string]any{"ids": []string{w.pick(rnd, &w.links), w.pick(rnd, &w.links)}, "a": []string{"x" + name()}, "r": []string{name()}})
	case 6:
		do(`mutation($ids: [ID!]!) { deleteLinks(ids: $ids) { links { id } } }`, map[string]any{"ids": []string{w.pick(rnd, &w.links)}})
	case 7:
		if d := do(`mutation($n: String!) { createTag(input: {name: $n}) { id } }`, map[string]any{"n": name() + fmt.Sprint(rnd.Intn(5))}); d != nil {
			w.keep(&w.tags, str(t, d, "createTag", "id"))
		}
	case 8:
		do(`mutation($id: ID!, $n: String!) { renameTag(id: $id, name: $n) { id } }`,
			map[string]any{"id": w.pick(rnd, &w.tags), "n": name() + fmt.Sprint(rnd.Intn(50))})
	case 9:
		do(`mutation($id: ID!) { deleteTag(id: $id) }`, map[string]any{"id": w.pick(rnd, &w.tags)})
	case 10:
		do(`mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`, map[string]any{"l": w.pick(rnd, &w.links), "t": w.pick(rnd, &w.tags)})
	case 11:
		do(`mutation($l: ID!, $t: ID!) { untagLink(linkId: $l, tagId: $t) { id } }`, map[string]any{"l": w.pick(rnd, &w.links), "t": w.pick(rnd, &w.tags)})
	}
}

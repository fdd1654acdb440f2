package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// filterLink is a link as the filter tests read it back.
type filterLink struct {
	id                        string
	title                     *string
	unread, archived, favorit bool
	tags                      []string
	created, updated          time.Time
	url                       string
}

const filterFields = `id url title unread archived favorite tags { name } createdAt updatedAt`

// readFilterLinks reads every link of the caller, as the API shows them.
func readFilterLinks(t *testing.T, s *testServer, token string) []filterLink {
	t.Helper()
	var out []filterLink
	for _, n := range get(t, s.ok(t, token, `{ links(first: 100) { nodes { `+filterFields+` } } }`, nil), "links", "nodes").([]any) {
		l := filterLink{id: str(t, n, "id"), url: str(t, n, "url"), unread: get(t, n, "unread") == true,
			archived: get(t, n, "archived") == true, favorit: get(t, n, "favorite") == true}
		if title, ok := get(t, n, "title").(string); ok {
			l.title = &title
		}
		for _, tag := range get(t, n, "tags").([]any) {
			l.tags = append(l.tags, str(t, tag, "name"))
		}
		var err error
		if l.created, err = time.Parse(time.RFC3339Nano, str(t, n, "createdAt")); err != nil {
			t.Fatal(err)
		}
		if l.updated, err = time.Parse(time.RFC3339Nano, str(t, n, "updatedAt")); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// sortLinks sorts links in an order of LinkOrder, ties broken by id.
func sortLinks(links []filterLink, order string) []filterLink {
	links = slices.Clone(links)
	id := func(l filterLink) int64 { n, _ := strconv.ParseInt(l.id, 10, 64); return n }
	slices.SortFunc(links, func(a, b filterLink) int {
		var c int
		switch order {
		case "CREATED_DESC":
			c = b.created.Compare(a.created)
			if c == 0 {
				c = int(id(b) - id(a))
			}
		case "CREATED_ASC":
			c = a.created.Compare(b.created)
			if c == 0 {
				c = int(id(a) - id(b))
			}
		case "UPDATED_DESC":
			c = b.updated.Compare(a.updated)
			if c == 0 {
				c = int(id(b) - id(a))
			}
		case "TITLE_ASC":
			switch {
			case a.title == nil && b.title == nil:
			case a.title == nil:
				c = -1
			case b.title == nil:
				c = 1
			default:
				c = strings.Compare(*a.title, *b.title)
			}
			if c == 0 {
				c = int(id(a) - id(b))
			}
		}
		return c
	})
	return links
}

func filterIDs(links []filterLink, keep func(filterLink) bool) []string {
	ids := []string{}
	for _, l := range links {
		if keep == nil || keep(l) {
			ids = append(ids, l.id)
		}
	}
	return ids
}

// walkLinks reads every page of links(args) of size first, checking that each
// page's cursors carry on where it ends, and returns the ids in order and the
// totalCount.
func walkLinks(t *testing.T, s *testServer, token, args string, vars map[string]any, first int) ([]string, int) {
	t.Helper()
	decl := "$after: String"
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		typ := "[String!]"
		if k == "since" {
			typ = "Time"
		}
		decl += ", $" + k + ": " + typ
	}
	q := fmt.Sprintf(`query(%s) {
		links(first: %d, after: $after, %s) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, decl, first, args)
	ids := []string{}
	total := -1
	var after any
	for pages := 0; pages < 100; pages++ {
		v := map[string]any{"after": after}
		for k, x := range vars {
			v[k] = x
		}
		conn := get(t, s.ok(t, token, q, v), "links")
		total = int(get(t, conn, "totalCount").(float64))
		for _, e := range get(t, conn, "edges").([]any) {
			ids = append(ids, str(t, e, "node", "id"))
		}
		if get(t, conn, "pageInfo", "hasNextPage") != true {
			return ids, total
		}
		after = get(t, conn, "pageInfo", "endCursor")
	}
	t.Fatalf("links(%s): more than 100 pages", args)
	return nil, 0
}

// TestLinkFiltersAndOrders lists links by every filter and order, alone and
// together, a page of two at a time: each list holds the links it should, in
// the order it should, its totalCount agrees, and another account's links never
// show. Imported links keep their ADD_DATE and list by it, not by id.
func TestLinkFiltersAndOrders(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		create := `mutation($in: CreateLinkInput!) { createLink(input: $in) { id } }`
		for i, in := range []map[string]any{
			{"url": "https://example.com/go", "title": "go tour", "tags": []string{"go", "read"}, "unread": true},
			{"url": "https://example.com/rust", "title": "rust book", "tags": []string{"rust", "read"}, "favorite": true},
			{"url": "https://example.com/notitle", "tags": []string{"go"}, "archived": true},
			{"url": "https://example.com/zig", "title": "go tour", "tags": []string{"zig"}, "unread": true, "favorite": true},
			{"url": "https://example.com/plain"},
		} {
			s.ok(t, ann, create, map[string]any{"in": in})
			if i == 1 {
				// Imported between two saves, with dates years ago, two of them equal.
				html := `<DL><DT><A HREF="https://example.com/old1" ADD_DATE="1672531200" TAGS="go,old">old one</A>
<DT><A HREF="https://example.com/old2" ADD_DATE="1672531200" TAGS="old">old two</A>
<DT><A HREF="https://example.com/old3" ADD_DATE="1577836800" TOREAD="1">go tour</A>
<DT><A HREF="https://example.com/old4" ADD_DATE="1577836800"></A></DL>`
				s.ok(t, ann, importMutation, map[string]any{"h": html})
			}
		}
		s.ok(t, bob, create, map[string]any{"in": map[string]any{"url": "https://example.com/go", "title": "go tour", "tags": []string{"go", "read"}, "unread": true}})
		// A change makes UPDATED_DESC differ from CREATED_DESC.
		links := readFilterLinks(t, s, ann)
		first := sortLinks(links, "CREATED_ASC")[0]
		s.ok(t, ann, `mutation($id: ID!) { updateLink(id: $id, input: {favorite: true}) { id } }`, map[string]any{"id": first.id})
		links = readFilterLinks(t, s, ann)
		if len(links) != 9 {
			t.Fatalf("ann has %d links, want 9", len(links))
		}

		// updatedSince the change keeps the changed link alone.
		since := sortLinks(links, "UPDATED_DESC")[0].updated
		if got := filterIDs(links, func(l filterLink) bool { return !l.updated.Before(since) }); !slices.Equal(got, []string{first.id}) {
			t.Fatalf("links changed since %v: %v, want only %s", since, got, first.id)
		}
		newest := sortLinks(links, "CREATED_DESC")
		if newest[0].url != "https://example.com/plain" || !strings.Contains(newest[len(newest)-1].url, "/old") {
			t.Errorf("CREATED_DESC: got %v first and %v last, want the last saved first and the oldest import last", newest[0].url, newest[len(newest)-1].url)
		}
		has := func(name string) func(filterLink) bool {
			return func(l filterLink) bool { return slices.Contains(l.tags, name) }
		}
		cases := []struct {
			args string
			vars map[string]any
			keep func(filterLink) bool
		}{
			{"", nil, nil},
			{"unread: true", nil, func(l filterLink) bool { return l.unread }},
			{"unread: false", nil, func(l filterLink) bool { return !l.unread }},
			{"archived: true", nil, func(l filterLink) bool { return l.archived }},
			{"archived: false", nil, func(l filterLink) bool { return !l.archived }},
			{"favorite: true", nil, func(l filterLink) bool { return l.favorit }},
			{`tag: "go"`, nil, has("go")},
			{"tags: $tags", map[string]any{"tags": []string{"go", "read"}}, func(l filterLink) bool { return has("go")(l) && has("read")(l) }},
			{`tag: "old", tags: $tags`, map[string]any{"tags": []string{"go"}}, func(l filterLink) bool { return has("go")(l) && has("old")(l) }},
			{"anyTags: $any", map[string]any{"any": []string{"zig", "rust", "nope"}}, func(l filterLink) bool { return has("zig")(l) || has("rust")(l) }},
			{"excludeTags: $ex", map[string]any{"ex": []string{"go", "old"}}, func(l filterLink) bool { return !has("go")(l) && !has("old")(l) }},
			{"tags: $tags, excludeTags: $ex", map[string]any{"tags": []string{"read"}, "ex": []string{"rust"}}, func(l filterLink) bool { return has("read")(l) && !has("rust")(l) }},
			{"tags: []", nil, nil},
			{"updatedSince: $since", map[string]any{"since": since.Format(time.RFC3339Nano)}, func(l filterLink) bool { return !l.updated.Before(since) }},
			{`search: "go tour", unread: true`, nil, func(l filterLink) bool { return l.unread && l.title != nil && *l.title == "go tour" }},
			{`search: "example", unread: true, favorite: true, anyTags: $any`, map[string]any{"any": []string{"zig"}}, func(l filterLink) bool { return l.unread && l.favorit && has("zig")(l) }},
		}
		for _, order := range []string{"CREATED_DESC", "CREATED_ASC", "UPDATED_DESC", "TITLE_ASC"} {
			sorted := sortLinks(links, order)
			for _, c := range cases {
				args := strings.TrimPrefix(c.args+", orderBy: "+order, ", ")
				if c.args == "tags: []" {
					args = "tags: [], orderBy: " + order
				}
				want := filterIDs(sorted, c.keep)
				got, total := walkLinks(t, s, ann, args, c.vars, 2)
				if !slices.Equal(got, want) || total != len(want) {
					t.Errorf("links(%s): got %v (totalCount %d), want %v", args, got, total, want)
				}
			}
		}
		// The default order is CREATED_DESC.
		if got, _ := walkLinks(t, s, ann, "unread: false", nil, 3); !slices.Equal(got, filterIDs(newest, func(l filterLink) bool { return !l.unread })) {
			t.Errorf("links without orderBy: got %v, want CREATED_DESC", got)
		}
	})
}

// TestLinkCursorsKeepTheirOrder refuses a cursor under another order than the
// one it was made under, a cursor of another list, and bad lists of tag names,
// each with BAD_USER_INPUT and no data.
func TestLinkCursorsKeepTheirOrder(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		for i := 0; i < 3; i++ {
			s.ok(t, ann, `mutation($u: String!) { createLink(input: {url: $u, tags: ["t"]}) { id } }`, map[string]any{"u": fmt.Sprintf("https://example.com/%d", i)})
		}
		cursor := func(order string) string {
			return str(t, s.ok(t, ann, `query($o: LinkOrder) { links(first: 1, orderBy: $o) { pageInfo { endCursor } } }`, map[string]any{"o": order}), "links", "pageInfo", "endCursor")
		}
		tagCursor := str(t, s.ok(t, ann, `{ tags(first: 1) { pageInfo { endCursor } } }`, nil), "tags", "pageInfo", "endCursor")
		q := `query($a: String, $o: LinkOrder, $tags: [String!]) { links(first: 1, after: $a, orderBy: $o, tags: $tags) { nodes { id } } }`
		orders := []string{"CREATED_DESC", "CREATED_ASC", "UPDATED_DESC", "TITLE_ASC"}
		for _, made := range orders {
			c := cursor(made)
			for _, used := range orders {
				r := s.do(t, ann, q, map[string]any{"a": c, "o": used})
				if made == used {
					if len(r.Errors) > 0 {
						t.Errorf("cursor of %s under %s: %s", made, used, r.Raw)
					}
				} else if r.Code() != "BAD_USER_INPUT" || r.Data != nil {
					t.Errorf("cursor of %s under %s: got %s, want BAD_USER_INPUT", made, used, r.Raw)
				}
			}
		}
		// A nested list of links is CREATED_DESC.
		nested := `query($a: String) { me { links(first: 1, after: $a) { nodes { id } } } }`
		if r := s.do(t, ann, nested, map[string]any{"a": cursor("TITLE_ASC")}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("TITLE_ASC cursor in me.links: got %s, want BAD_USER_INPUT", r.Raw)
		}
		if r := s.do(t, ann, nested, map[string]any{"a": cursor("CREATED_DESC")}); len(r.Errors) > 0 {
			t.Errorf("CREATED_DESC cursor in me.links: %s", r.Raw)
		}
		many := make([]string, 21)
		for i := range many {
			many[i] = fmt.Sprintf("t%d", i)
		}
		for name, vars := range map[string]map[string]any{
			"a cursor of tags":  {"a": tagCursor},
			"junk":              {"a": "bm90IGEgY3Vyc29y"},
			"a forged order":    {"a": "bDE6TkVXRVNUOjE6MQ"},
			"21 tag names":      {"tags": many},
			"a blank tag name":  {"tags": []string{"t", " "}},
			"a cursor of links": {"a": cursor("CREATED_DESC"), "o": "TITLE_ASC"},
		} {
			if r := s.do(t, ann, q, vars); r.Code() != "BAD_USER_INPUT" || r.Data != nil {
				t.Errorf("%s: got %s, want BAD_USER_INPUT", name, r.Raw)
			}
		}
		if r := s.do(t, ann, `{ tags(first: 1, after: "`+cursor("CREATED_DESC")+`") { nodes { id } } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("a cursor of links in tags: got %s, want BAD_USER_INPUT", r.Raw)
		}
	})
}

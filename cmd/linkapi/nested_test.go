package main

import (
	"fmt"
	"reflect"
	"testing"

	"linkapi/internal/store/storetest"
)

// connectionFields selects all of a connection, to compare two answers whole.
const connectionFields = `totalCount edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor }`

// TestNestedPagesAnswerAsTheirOwnLists checks that a connection nested under a
// list, read for all of the list at once, answers every page (items, cursors,
// hasNextPage, endCursor, totalCount) as the same list asked for on its own
// does: a tag's links as tag(id) { links }, an account's links and tags as the
// root links and tags. Pages are asked with literals and with variables, and
// both cost the same few statements.
func TestNestedPagesAnswerAsTheirOwnLists(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		log := &statementLog{}
		// The nested pages of 100 under pages of 100 are priced far over the
		// complexity limit, which is not what this test is about.
		s := startServerEnv(t, url, log.attach(t), map[string]string{"LINKAPI_MAX_COMPLEXITY": "100000000"})
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		for i := 0; i < 7; i++ {
			tags := []string{fmt.Sprintf("t%d", i%2)}
			if i%3 == 0 {
				tags = append(tags, "third")
			}
			s.ok(t, ann, `mutation($u: String!, $t: [String!]) { createLink(input: {url: $u, tags: $t}) { id } }`,
				map[string]any{"u": fmt.Sprintf("https://example.com/%d", i), "t": tags})
		}
		// Bob's links carry tags of the same names, and must not show in Ann's.
		for i := 0; i < 3; i++ {
			s.ok(t, bob, `mutation($u: String!) { createLink(input: {url: $u, tags: ["t0", "third"]}) { id } }`,
				map[string]any{"u": fmt.Sprintf("https://example.org/%d", i)})
		}

		all := s.ok(t, ann, `{ links(first: 100) { edges { cursor } } tags(first: 100) { edges { cursor node { id } } } }`, nil)
		linkCursors := []any{nil}
		for _, e := range get(t, all, "links", "edges").([]any) {
			linkCursors = append(linkCursors, str(t, e, "cursor"))
		}
		tagCursors := []any{nil}
		var tagIDs []string
		for _, e := range get(t, all, "tags", "edges").([]any) {
			tagCursors = append(tagCursors, str(t, e, "cursor"))
			tagIDs = append(tagIDs, str(t, e, "node", "id"))
		}

		same := func(what string, got, want any) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: got %v, want %v", what, got, want)
			}
		}
		for _, first := range []int{0, 1, 2, 100} {
			for _, after := range linkCursors {
				vars := map[string]any{"f": first, "a": after}
				page := fmt.Sprintf(`links(first: %d%s) { %s }`, first, literalAfter(after), connectionFields)
				varPage := `links(first: $f, after: $a) { ` + connectionFields + ` }`

				own := map[string]any{}
				for _, id := range tagIDs {
					d := s.ok(t, ann, `query($id: ID!, $f: Int, $a: String) { tag(id: $id) { `+varPage+` } }`,
						map[string]any{"id": id, "f": first, "a": after})
					own[id] = get(t, d, "tag", "links")
				}
				d := s.ok(t, ann, `{ tags(first: 100) { nodes { id `+page+` } } }`, nil)
				for _, tag := range get(t, d, "tags", "nodes").([]any) {
					same(fmt.Sprintf("tags { links(first: %d, after: %v) } of tag %s", first, after, str(t, tag, "id")), get(t, tag, "links"), own[str(t, tag, "id")])
				}
				var literal, variable []string
				literal = log.during(func() { d = s.ok(t, ann, `{ links(first: 100) { nodes { tags { id `+page+` } } } }`, nil) })
				for _, l := range get(t, d, "links", "nodes").([]any) {
					for _, tag := range get(t, l, "tags").([]any) {
						same(fmt.Sprintf("links { tags { links(first: %d, after: %v) } } of tag %s", first, after, str(t, tag, "id")), get(t, tag, "links"), own[str(t, tag, "id")])
					}
				}
				variable = log.during(func() {
					d = s.ok(t, ann, `query($f: Int, $a: String) { links(first: 100) { nodes { tags { id `+varPage+` } } } }`, vars)
				})
				for _, l := range get(t, d, "links", "nodes").([]any) {
					for _, tag := range get(t, l, "tags").([]any) {
						same(fmt.Sprintf("links { tags { links(first: $f, after: $a) } } of tag %s", str(t, tag, "id")), get(t, tag, "links"), own[str(t, tag, "id")])
					}
				}
				// The page of links, their tags, the tags' links and their counts, and
				// the caller's account when the account cache has let it go.
				if min(len(literal), len(variable)) < 4 || max(len(literal), len(variable)) > 5 {
					t.Errorf("links { tags { links } }: %d statements with literals, %d with variables, want 4 to 5:\n%v\n%v", len(literal), len(variable), literal, variable)
				}

				root := get(t, s.ok(t, ann, `query($f: Int, $a: String) { `+varPage+` }`, vars), "links")
				same(fmt.Sprintf("me { links(first: %d, after: %v) }", first, after), get(t, s.ok(t, ann, `{ me { `+page+` } }`, nil), "me", "links"), root)
				d = s.ok(t, ann, `query($f: Int, $a: String) { links(first: 100) { nodes { account { `+varPage+` } } } }`, vars)
				for _, l := range get(t, d, "links", "nodes").([]any) {
					same(fmt.Sprintf("links { account { links(first: %d, after: %v) } }", first, after), get(t, l, "account", "links"), root)
				}
			}
			for _, after := range tagCursors {
				vars := map[string]any{"f": first, "a": after}
				page := fmt.Sprintf(`tags(first: %d%s) { %s }`, first, literalAfter(after), connectionFields)
				root := get(t, s.ok(t, ann, `query($f: Int, $a: String) { tags(first: $f, after: $a) { `+connectionFields+` } }`, vars), "tags")
				same(fmt.Sprintf("me { tags(first: %d, after: %v) }", first, after), get(t, s.ok(t, ann, `{ me { `+page+` } }`, nil), "me", "tags"), root)
				d := s.ok(t, ann, `{ links(first: 100) { nodes { account { `+page+` } } } }`, nil)
				for _, l := range get(t, d, "links", "nodes").([]any) {
					same(fmt.Sprintf("links { account { tags(first: %d, after: %v) } }", first, after), get(t, l, "account", "tags"), root)
				}
			}
		}

		// A bad page under a list is refused as it is at the root, once per parent.
		r := s.do(t, ann, `{ tags(first: 100) { nodes { links(first: 101) { totalCount } } } }`, nil)
		if r.Code() != "BAD_USER_INPUT" {
			t.Errorf("links(first: 101) under tags: got %q, want BAD_USER_INPUT: %s", r.Code(), r.Raw)
		}
		r = s.do(t, ann, `{ links(first: 100) { nodes { account { links(after: "nonsense") { totalCount } } } } }`, nil)
		if r.Code() != "BAD_USER_INPUT" {
			t.Errorf("links(after: nonsense) under account: got %q, want BAD_USER_INPUT: %s", r.Code(), r.Raw)
		}
	})
}

// literalAfter writes after as an argument, or nothing for nil.
func literalAfter(after any) string {
	if after == nil {
		return ""
	}
	return fmt.Sprintf(", after: %q", after)
}

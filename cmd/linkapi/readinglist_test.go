package main

import (
	"strings"
	"testing"
)

// linkFields is what the reading-list tests read of a link.
const linkFields = `id url title notes unread archived favorite faviconUrl previewImageUrl`

// TestLinkState saves and changes a link's reading-list state and notes: they
// default to false and null, each is set on its own, an empty string clears the
// notes, and notes too long are refused without a change.
func TestLinkState(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")

		plain := get(t, s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/plain"}) { `+linkFields+` } }`, nil), "createLink")
		wantLink(t, plain, map[string]any{"notes": nil, "unread": false, "archived": false, "favorite": false, "faviconUrl": nil, "previewImageUrl": nil})

		d := s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/later", notes: "read on the train", unread: true, favorite: true, fetchMetadata: false}) { `+linkFields+` } }`, nil)
		later := get(t, d, "createLink")
		wantLink(t, later, map[string]any{"title": nil, "notes": "read on the train", "unread": true, "archived": false, "favorite": true})
		id := str(t, later, "id")

		upd := `mutation($id: ID!, $in: UpdateLinkInput!) { updateLink(id: $id, input: $in) { ` + linkFields + ` } }`
		got := get(t, s.ok(t, ann, upd, map[string]any{"id": id, "in": map[string]any{"unread": false, "archived": true}}), "updateLink")
		wantLink(t, got, map[string]any{"notes": "read on the train", "unread": false, "archived": true, "favorite": true})
		got = get(t, s.ok(t, ann, upd, map[string]any{"id": id, "in": map[string]any{"notes": ""}}), "updateLink")
		wantLink(t, got, map[string]any{"notes": nil, "unread": false, "archived": true, "favorite": true})

		long := strings.Repeat("n", 8193)
		if r := s.do(t, ann, upd, map[string]any{"id": id, "in": map[string]any{"notes": long, "favorite": false}}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("updateLink with notes of 8193 characters: got %q, want BAD_USER_INPUT", r.Code())
		}
		if r := s.do(t, ann, `mutation($n: String) { createLink(input: {url: "https://example.com/long", notes: $n}) { id } }`, map[string]any{"n": long}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("createLink with notes of 8193 characters: got %q, want BAD_USER_INPUT", r.Code())
		}
		got = get(t, s.ok(t, ann, `query($id: ID!) { link(id: $id) { `+linkFields+` } }`, map[string]any{"id": id}), "link")
		wantLink(t, got, map[string]any{"notes": nil, "unread": false, "archived": true, "favorite": true})
		if n := get(t, s.ok(t, ann, `{ links { totalCount } }`, nil), "links", "totalCount"); n != float64(2) {
			t.Errorf("links after the refused create: got %v, want 2", n)
		}
	})
}

// TestDuplicateURLs refuses to save a URL the account already has, after
// normalisation, with CONFLICT naming the saved link, in createLink and in
// updateLink; another account, or the same link, may have it.
func TestDuplicateURLs(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		create := `mutation($u: String!) { createLink(input: {url: $u, tags: ["dup"]}) { id } }`
		first := str(t, s.ok(t, ann, create, map[string]any{"u": "https://example.com/page?x=1"}), "createLink", "id")
		other := str(t, s.ok(t, ann, create, map[string]any{"u": "https://example.com/other"}), "createLink", "id")

		for _, u := range []string{"https://example.com/page?x=1", "HTTPS://EXAMPLE.com:443/page?x=1#part"} {
			r := s.do(t, ann, create, map[string]any{"u": u})
			if r.Code() != "CONFLICT" || r.Errors[0].Extensions["existingLinkId"] != first {
				t.Errorf("createLink %s again: got %s, want CONFLICT with existingLinkId %s", u, r.Raw, first)
			}
		}
		// Path and query are kept as written: these are other pages.
		s.ok(t, ann, create, map[string]any{"u": "https://example.com/PAGE?x=1"})
		s.ok(t, ann, create, map[string]any{"u": "https://example.com/page?x=2"})
		// Bob has his own links.
		s.ok(t, bob, create, map[string]any{"u": "https://example.com/page?x=1"})

		upd := `mutation($id: ID!, $u: String!) { updateLink(id: $id, input: {url: $u, title: "moved"}) { id url title } }`
		r := s.do(t, ann, upd, map[string]any{"id": other, "u": "https://Example.com/page?x=1"})
		if r.Code() != "CONFLICT" || r.Errors[0].Extensions["existingLinkId"] != first {
			t.Errorf("updateLink to another link's URL: got %s, want CONFLICT with existingLinkId %s", r.Raw, first)
		}
		got := get(t, s.ok(t, ann, `query($id: ID!) { link(id: $id) { url title } }`, map[string]any{"id": other}), "link")
		if str(t, got, "url") != "https://example.com/other" || get(t, got, "title") != nil {
			t.Errorf("link after the refused update: got %v, want it unchanged", got)
		}
		// A link may take another spelling of its own URL.
		got = get(t, s.ok(t, ann, upd, map[string]any{"id": first, "u": "https://EXAMPLE.com/page?x=1"}), "updateLink")
		if str(t, got, "url") != "https://EXAMPLE.com/page?x=1" {
			t.Errorf("link after updating its own URL: got %v", got)
		}
		if n := get(t, s.ok(t, ann, `{ links { totalCount } }`, nil), "links", "totalCount"); n != float64(4) {
			t.Errorf("ann's links: got %v, want 4", n)
		}
	})
}

// wantLink checks the given fields of a link of a response.
func wantLink(t *testing.T, link any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got := get(t, link, k); got != v {
			t.Errorf("%s: got %v, want %v", k, got, v)
		}
	}
}

// TestCheckURL answers whether the caller has saved a URL, by its normalised
// form, as a browser extension asks before offering to save the page: null
// before, the link after, never another account's, and BAD_USER_INPUT for a URL
// that is not http or https.
func TestCheckURL(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		check := `query($u: String!) { checkUrl(url: $u) { link { id url unread } title description faviconUrl previewImageUrl } }`
		page := "https://Example.com:443/article?id=7#comments"

		got := get(t, s.ok(t, ann, check, map[string]any{"u": page}), "checkUrl")
		wantLink(t, got, map[string]any{"link": nil, "title": nil, "description": nil, "faviconUrl": nil, "previewImageUrl": nil})

		id := str(t, s.ok(t, ann, `mutation($u: String!) { createLink(input: {url: $u, unread: true}) { id } }`,
			map[string]any{"u": "https://example.com/article?id=7"}), "createLink", "id")
		for _, u := range []string{page, "HTTPS://EXAMPLE.COM/article?id=7", "https://example.com/article?id=7#top"} {
			got = get(t, s.ok(t, ann, check, map[string]any{"u": u}), "checkUrl")
			if get(t, got, "link") == nil || str(t, got, "link", "id") != id || get(t, got, "link", "unread") != true {
				t.Errorf("checkUrl(%s): got %v, want link %s", u, got, id)
			}
		}
		for _, u := range []string{"https://example.com/article?id=8", "http://example.com/article?id=7", "https://example.com/Article?id=7"} {
			if got = get(t, s.ok(t, ann, check, map[string]any{"u": u}), "checkUrl"); get(t, got, "link") != nil {
				t.Errorf("checkUrl(%s): got %v, want no link", u, got)
			}
		}
		if got = get(t, s.ok(t, bob, check, map[string]any{"u": page}), "checkUrl"); get(t, got, "link") != nil {
			t.Errorf("bob's checkUrl of ann's URL: got %v, want no link", got)
		}
		for _, u := range []string{"ftp://example.com/", "not a url", "", "javascript:alert(1)"} {
			if r := s.do(t, ann, check, map[string]any{"u": u}); r.Code() != "BAD_USER_INPUT" || r.Data != nil {
				t.Errorf("checkUrl(%q): got %s, want BAD_USER_INPUT", u, r.Raw)
			}
		}
	})
}

// TestReadingListRoundTrip imports a bookmark file carrying TOREAD, PRIVATE,
// ARCHIVED, FAVORITE and linkding's notes, exports it, and imports the export
// into another account: the state and notes survive both trips, the export
// marks every link PRIVATE and lists them oldest first, and a URL the account
// has already, spelt another way, is skipped.
func TestReadingListRoundTrip(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		file := `<!DOCTYPE NETSCAPE-Bookmark-file-1>
<DL><p>
<DT><A HREF="https://example.com/later" ADD_DATE="1700000000" PRIVATE="0" TOREAD="1" TAGS="queue">Read later</A>
<DD>An article.[linkding-notes]Start at part two.[/linkding-notes]
<DT><A HREF="https://example.com/done" ADD_DATE="1600000000" PRIVATE="1" TOREAD="0" ARCHIVED="1" FAVORITE="1">Done</A>
<DT><A HREF="https://EXAMPLE.com:443/done#again" ADD_DATE="1650000000">The same page</A>
</DL><p>`
		res := get(t, s.ok(t, ann, importMutation, map[string]any{"h": file}), "importBookmarks")
		if get(t, res, "imported") != float64(2) || get(t, res, "skipped") != float64(1) {
			t.Fatalf("import: got %v, want 2 imported and 1 skipped", res)
		}
		list := `{ links(orderBy: CREATED_ASC) { nodes { url title description notes unread archived favorite createdAt } } }`
		want := []map[string]any{
			{"url": "https://example.com/done", "title": "Done", "description": nil, "notes": nil, "unread": false, "archived": true, "favorite": true, "createdAt": "2020-09-13T12:26:40Z"},
			{"url": "https://example.com/later", "title": "Read later", "description": "An article.", "notes": "Start at part two.", "unread": true, "archived": false, "favorite": false, "createdAt": "2023-11-14T22:13:20Z"},
		}
		check := func(who, token string) {
			nodes := get(t, s.ok(t, token, list, nil), "links", "nodes").([]any)
			if len(nodes) != len(want) {
				t.Fatalf("%s's links: got %v, want %d", who, nodes, len(want))
			}
			for i, w := range want {
				wantLink(t, nodes[i], w)
			}
		}
		check("ann", ann)

		export := str(t, s.ok(t, ann, `{ exportBookmarks }`, nil), "exportBookmarks")
		done, later := strings.Index(export, "https://example.com/done"), strings.Index(export, "https://example.com/later")
		if done < 0 || later < done {
			t.Errorf("export lists the older link after the newer one:\n%s", export)
		}
		for _, part := range []string{
			`<A HREF="https://example.com/done" ADD_DATE="1600000000" PRIVATE="1" ARCHIVED="1" FAVORITE="1">Done</A>`,
			`<A HREF="https://example.com/later" ADD_DATE="1700000000" PRIVATE="1" TOREAD="1" TAGS="queue">Read later</A>`,
			`<DD>An article.[linkding-notes]Start at part two.[/linkding-notes]`,
		} {
			if !strings.Contains(export, part) {
				t.Errorf("export lacks %s:\n%s", part, export)
			}
		}
		res = get(t, s.ok(t, bob, importMutation, map[string]any{"h": export}), "importBookmarks")
		if get(t, res, "imported") != float64(2) {
			t.Fatalf("import of the export: got %v, want 2 imported", res)
		}
		check("bob", bob)
	})
}

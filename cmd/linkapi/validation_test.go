package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
)

// linkCount returns the totalCount of the caller's links.
func linkCount(t *testing.T, s *testServer, token string) int {
	t.Helper()
	n, ok := get(t, s.ok(t, token, linksCountQuery, nil), "links", "totalCount").(float64)
	if !ok {
		t.Fatal("links.totalCount is not a number")
	}
	return int(n)
}

// linkURLs returns the URLs of the links a links query (with its arguments) lists,
// sorted.
func linkURLs(t *testing.T, s *testServer, token, args string) []string {
	t.Helper()
	d := s.ok(t, token, `{ links(`+args+`) { totalCount nodes { url } } }`, nil)
	nodes, _ := get(t, d, "links", "nodes").([]any)
	urls := make([]string, 0, len(nodes))
	for i := range nodes {
		urls = append(urls, str(t, nodes, i, "url"))
	}
	sort.Strings(urls)
	if got := get(t, d, "links", "totalCount"); got != float64(len(urls)) {
		t.Errorf("links(%s): totalCount = %v, want %d", args, got, len(urls))
	}
	return urls
}

// owner makes an account with the default scopes and returns a token for it.
func owner(t *testing.T, s *testServer, email string) (int64, string) {
	t.Helper()
	id := s.createAccount(t, email, "owner-password", "links:write", "tags:write", "account:write")
	return id, s.login(t, email, "owner-password")
}

// adminToken makes an account with admin:write and returns a token for it.
func adminToken(t *testing.T, s *testServer) string {
	t.Helper()
	s.createAccount(t, "root@example.com", "root-password", "admin:write")
	return s.login(t, "root@example.com", "root-password")
}

func TestLinkURLMustBeHTTP(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		d := s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/ok"}) { id } }`, nil)
		id := str(t, d, "createLink", "id")

		for _, u := range []string{
			"javascript:alert(1)",
			"ftp://example.com/file",
			"not a url",
			"",
			"http://",
			"https://",
			"mailto:ann@example.com",
			"data:text/html,<script>alert(1)</script>",
			"//example.com/no-scheme",
			"/relative/path",
		} {
			t.Run(u, func(t *testing.T) {
				before := linkCount(t, s, token)
				r := s.do(t, token, `mutation($u: String!) { createLink(input: {url: $u, tags: ["new-tag"]}) { id } }`, map[string]any{"u": u})
				wantCode(t, r, "BAD_USER_INPUT")
				if r.Data != nil && r.Data["createLink"] != nil {
					t.Errorf("data.createLink = %v, want null", r.Data["createLink"])
				}
				if after := linkCount(t, s, token); after != before {
					t.Errorf("links after the refused create = %d, want %d", after, before)
				}

				r = s.do(t, token, `mutation($id: ID!, $u: String!) { updateLink(id: $id, input: {url: $u}) { id } }`, map[string]any{"id": id, "u": u})
				wantCode(t, r, "BAD_USER_INPUT")
				if got := str(t, s.ok(t, token, `query($id: ID!) { link(id: $id) { url } }`, map[string]any{"id": id}), "link", "url"); got != "https://example.com/ok" {
					t.Errorf("url after the refused update = %q, want https://example.com/ok", got)
				}
			})
		}
		// A refused create made no tag either.
		if got := get(t, s.ok(t, token, `{ tags { totalCount } }`, nil), "tags", "totalCount"); got != float64(0) {
			t.Errorf("tags.totalCount = %v, want 0", got)
		}
		for _, u := range []string{"http://example.com", "HTTPS://EXAMPLE.COM/UPPER"} {
			s.ok(t, token, `mutation($u: String!) { createLink(input: {url: $u}) { id } }`, map[string]any{"u": u})
		}
	})
}

func TestTagNamesUniquePerAccount(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, ann := owner(t, s, "ann@example.com")
		_, bob := owner(t, s, "bob@example.com")
		const createTag = `mutation($n: String!) { createTag(input: {name: $n}) { id name } }`

		s.ok(t, ann, createTag, map[string]any{"n": "go"})
		r := s.do(t, ann, createTag, map[string]any{"n": "go"})
		wantCode(t, r, "CONFLICT")

		other := str(t, s.ok(t, ann, createTag, map[string]any{"n": "rust"}), "createTag", "id")
		r = s.do(t, ann, `mutation($id: ID!) { renameTag(id: $id, name: "go") { id name } }`, map[string]any{"id": other})
		wantCode(t, r, "CONFLICT")
		d := s.ok(t, ann, `{ tags { totalCount nodes { name } } }`, nil)
		if got := get(t, d, "tags", "totalCount"); got != float64(2) {
			t.Errorf("ann's tags.totalCount = %v, want 2", got)
		}
		names := fmt.Sprint(get(t, d, "tags", "nodes"))
		if names != "[map[name:rust] map[name:go]]" && names != "[map[name:go] map[name:rust]]" {
			t.Errorf("ann's tags = %s, want go and rust, the rename refused", names)
		}

		// The same name in another account is fine, and so is renaming to it there.
		s.ok(t, bob, createTag, map[string]any{"n": "go"})
		bobRust := str(t, s.ok(t, bob, createTag, map[string]any{"n": "rust"}), "createTag", "id")
		s.ok(t, bob, `mutation($id: ID!) { renameTag(id: $id, name: "rusty") { id } }`, map[string]any{"id": bobRust})
		s.ok(t, ann, `mutation($id: ID!) { renameTag(id: $id, name: "rusty") { id } }`, map[string]any{"id": other})
		// Renaming a tag to its own name is not a conflict with itself.
		s.ok(t, ann, `mutation($id: ID!) { renameTag(id: $id, name: "rusty") { id } }`, map[string]any{"id": other})
	})
}

func TestAccountEmailsUnique(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		admin := adminToken(t, s)
		const create = `mutation($e: String!) { createAccount(input: {email: $e, password: "long-enough-password"}) { id email } }`
		accounts := func() float64 {
			return get(t, s.ok(t, admin, `{ accounts { totalCount } }`, nil), "accounts", "totalCount").(float64)
		}

		s.ok(t, admin, create, map[string]any{"e": "bob@example.com"})
		d := s.ok(t, admin, create, map[string]any{"e": "Carol@Example.com"})
		if got := str(t, d, "createAccount", "email"); got != "carol@example.com" {
			t.Errorf("createAccount email = %q, want it lower-cased to carol@example.com", got)
		}
		before := accounts()
		for _, e := range []string{"bob@example.com", "BOB@example.com", "Bob@Example.COM", "carol@example.com", "CAROL@EXAMPLE.COM", "root@example.com"} {
			t.Run(e, func(t *testing.T) {
				wantCode(t, s.do(t, admin, create, map[string]any{"e": e}), "CONFLICT")
			})
		}
		if after := accounts(); after != before {
			t.Errorf("accounts after the refused creates = %v, want %v", after, before)
		}
	})
}

func TestUnknownScopeInAccountMutations(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		admin := adminToken(t, s)
		id, _ := owner(t, s, "ann@example.com")

		for _, scopes := range [][]string{{"links:raed"}, {"links:read", "superuser"}, {"LINKS:READ"}} {
			t.Run(fmt.Sprint(scopes), func(t *testing.T) {
				r := s.do(t, admin, `mutation($s: [String!]) { createAccount(input: {email: "new@example.com", password: "long-enough-password", scopes: $s}) { id } }`,
					map[string]any{"s": scopes})
				wantCode(t, r, "BAD_USER_INPUT")
				r = s.do(t, "", loginMut, map[string]any{"e": "new@example.com", "p": "long-enough-password"})
				wantCode(t, r, "UNAUTHENTICATED")

				r = s.do(t, admin, `mutation($id: ID!, $s: [String!]!) { setAccountScopes(id: $id, scopes: $s) { scopes } }`,
					map[string]any{"id": idString(id), "s": scopes})
				wantCode(t, r, "BAD_USER_INPUT")
				d := s.ok(t, admin, `query($id: ID!) { account(id: $id) { scopes } }`, map[string]any{"id": idString(id)})
				if got := fmt.Sprint(get(t, d, "account", "scopes")); got != "[links:write tags:write account:write]" {
					t.Errorf("scopes after the refused setAccountScopes = %s, want [links:write tags:write account:write]", got)
				}
			})
		}
	})
}

func TestPageSizeBounds(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		admin := adminToken(t, s)
		for _, first := range []int{101, -1, 1000} {
			for _, q := range []struct{ token, query string }{
				{token, `query($f: Int) { links(first: $f) { totalCount } }`},
				{token, `query($f: Int) { tags(first: $f) { totalCount } }`},
				{token, `query($f: Int) { me { links(first: $f) { totalCount } } }`},
				{admin, `query($f: Int) { accounts(first: $f) { totalCount } }`},
			} {
				t.Run(fmt.Sprintf("%d %s", first, q.query), func(t *testing.T) {
					wantCode(t, s.do(t, q.token, q.query, map[string]any{"f": first}), "BAD_USER_INPUT")
				})
			}
		}
		for _, first := range []int{0, 1, 100} {
			s.ok(t, token, `query($f: Int) { links(first: $f) { totalCount } }`, map[string]any{"f": first})
		}
	})
}

func TestBadCursor(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		admin := adminToken(t, s)
		s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/a"}) { id } }`, nil)
		for _, after := range []string{
			"not-a-cursor",
			"!!!",
			"12",
			base64.RawURLEncoding.EncodeToString([]byte("v1:abc")),
			base64.RawURLEncoding.EncodeToString([]byte("v9:1")),
			base64.RawURLEncoding.EncodeToString([]byte("v1:-5")),
		} {
			t.Run(after, func(t *testing.T) {
				vars := map[string]any{"a": after}
				wantCode(t, s.do(t, token, `query($a: String) { links(after: $a) { totalCount } }`, vars), "BAD_USER_INPUT")
				wantCode(t, s.do(t, token, `query($a: String) { tags(after: $a) { totalCount } }`, vars), "BAD_USER_INPUT")
				wantCode(t, s.do(t, admin, `query($a: String) { accounts(after: $a) { totalCount } }`, vars), "BAD_USER_INPUT")
			})
		}
	})
}

func TestPaginationWalksEveryLink(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		var created []string
		for i := range 25 {
			d := s.ok(t, token, `mutation($u: String!) { createLink(input: {url: $u}) { id } }`,
				map[string]any{"u": fmt.Sprintf("https://example.com/%d", i)})
			created = append(created, str(t, d, "createLink", "id"))
		}
		want := slices.Clone(created)
		slices.Reverse(want)

		var seen []string
		var after any
		var sizes []int
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatalf("more than 5 pages of 10 for 25 links; seen %v", seen)
			}
			d := s.ok(t, token, `query($a: String) { links(first: 10, after: $a) {
				totalCount edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } }`,
				map[string]any{"a": after})
			if got := get(t, d, "links", "totalCount"); got != float64(25) {
				t.Errorf("page %d: totalCount = %v, want 25", page, got)
			}
			edges, _ := get(t, d, "links", "edges").([]any)
			nodes, _ := get(t, d, "links", "nodes").([]any)
			if len(edges) != len(nodes) {
				t.Fatalf("page %d: %d edges, %d nodes", page, len(edges), len(nodes))
			}
			sizes = append(sizes, len(nodes))
			for i := range nodes {
				if e, n := str(t, edges, i, "node", "id"), str(t, nodes, i, "id"); e != n {
					t.Errorf("page %d: edge %d is %s, node %d is %s", page, i, e, i, n)
				}
				seen = append(seen, str(t, nodes, i, "id"))
			}
			hasNext := get(t, d, "links", "pageInfo", "hasNextPage").(bool)
			if len(edges) > 0 {
				if got, want := get(t, d, "links", "pageInfo", "endCursor"), str(t, edges, len(edges)-1, "cursor"); got != want {
					t.Errorf("page %d: endCursor = %v, want the last edge's cursor %s", page, got, want)
				}
			}
			if !hasNext {
				break
			}
			after = get(t, d, "links", "pageInfo", "endCursor")
		}
		if fmt.Sprint(sizes) != "[10 10 5]" {
			t.Errorf("page sizes = %v, want [10 10 5]", sizes)
		}
		if !slices.Equal(seen, want) {
			t.Errorf("ids walked = %v, want newest first %v", seen, want)
		}
	})
}

func TestLinkSearchAndTagFilter(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		_, bob := owner(t, s, "bob@example.com")
		for _, l := range []struct {
			url, title string
			tags       []string
		}{
			{"https://example.com/GoLang", "Other", []string{"go"}},
			{"https://a.test/x", "All About GOLANG", []string{"go", "lang"}},
			{"https://b.test/y", "rust", []string{"lang"}},
			{"https://c.test/a_b", "underscore", nil},
			{"https://c.test/axb", "no underscore", nil},
			{"https://d.test/p", "100% pure", nil},
			{"https://d.test/q", "1000 things", nil},
		} {
			s.ok(t, token, `mutation($u: String!, $t: String, $g: [String!]) { createLink(input: {url: $u, title: $t, tags: $g}) { id } }`,
				map[string]any{"u": l.url, "t": l.title, "g": l.tags})
		}
		// Bob's link matches every search below and must never show up in Ann's lists.
		s.ok(t, bob, `mutation { createLink(input: {url: "https://bob.test/golang_a_b", title: "golang 100% rust", tags: ["go", "lang"]}) { id } }`, nil)

		for _, c := range []struct {
			args string
			want []string
		}{
			{`search: "golang"`, []string{"https://a.test/x", "https://example.com/GoLang"}},
			{`search: "GOLANG"`, []string{"https://a.test/x", "https://example.com/GoLang"}},
			{`search: "Rust"`, []string{"https://b.test/y"}},
			{`search: "%"`, []string{"https://d.test/p"}},
			{`search: "100%"`, []string{"https://d.test/p"}},
			{`search: "_"`, []string{"https://c.test/a_b"}},
			{`search: "a_b"`, []string{"https://c.test/a_b"}},
			{`search: "!"`, []string{}},
			{`search: "\\"`, []string{}},
			{`search: "nothing matches this"`, []string{}},
			{`tag: "go"`, []string{"https://a.test/x", "https://example.com/GoLang"}},
			{`tag: "lang"`, []string{"https://a.test/x", "https://b.test/y"}},
			{`tag: "no-such-tag"`, []string{}},
			{`tag: "lang", search: "rust"`, []string{"https://b.test/y"}},
		} {
			t.Run(c.args, func(t *testing.T) {
				if got := linkURLs(t, s, token, c.args); !slices.Equal(got, c.want) {
					t.Errorf("links(%s) = %v, want %v", c.args, got, c.want)
				}
			})
		}
	})
}

func TestQueryDepthLimit(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/a", tags: ["go"]}) { id } }`, nil)

		// Eight levels are allowed. (Through Link.tags twice they would cost more
		// than the complexity limit, which prices each at 100 tags.)
		s.ok(t, token, `{ links(first: 1) { nodes { tags { links(first: 1) { nodes { account { links(first: 1) { totalCount } } } } } } } }`, nil)

		for name, q := range map[string]string{
			"ten levels":    `{ links(first: 1) { nodes { tags { links(first: 1) { nodes { tags { links(first: 1) { nodes { tags { id } } } } } } } } } }`,
			"twelve levels": `{ links { nodes { tags { links { nodes { tags { links { nodes { tags { links { nodes { id } } } } } } } } } } } }`,
			"through a fragment": `{ links(first: 1) { ...deep } }
				fragment deep on LinkConnection { nodes { tags { links(first: 1) { nodes { tags { links(first: 1) { nodes { tags { id } } } } } } } } }`,
		} {
			t.Run(name, func(t *testing.T) {
				r := s.do(t, token, q, nil)
				wantCode(t, r, "DEPTH_LIMIT_EXCEEDED")
				if r.Data != nil {
					t.Errorf("data = %v, want none: the query must not run", r.Data)
				}
			})
		}

		// A deep mutation is refused before it runs: nothing is created.
		r := s.do(t, token, `mutation { createLink(input: {url: "https://example.com/deep"}) {
			tags { links { nodes { tags { links { nodes { tags { links { nodes { id } } } } } } } } } } }`, nil)
		wantCode(t, r, "DEPTH_LIMIT_EXCEEDED")
		if r.Data != nil {
			t.Errorf("data = %v, want none", r.Data)
		}
		if got := linkCount(t, s, token); got != 1 {
			t.Errorf("links after the refused deep mutation = %d, want 1", got)
		}
	})
}

// rawGet sends GET /graphql?query=q with token and returns the status and the
// decoded body, which may not be a GraphQL response.
func rawGet(t *testing.T, s *testServer, token, q string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+url.QueryEscape(q), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func TestGraphQLOverGET(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/a"}) { id } }`, nil)

		req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+url.QueryEscape(`{ links { totalCount nodes { url } } }`), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		r := s.send(t, req)
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("GET query: status %d, body %s", r.Status, r.Raw)
		}
		if got := str(t, r.Data, "links", "nodes", 0, "url"); got != "https://example.com/a" {
			t.Errorf("GET query: url = %q, want https://example.com/a", got)
		}

		for name, q := range map[string]string{
			"createLink": `mutation { createLink(input: {url: "https://example.com/via-get"}) { id } }`,
			"createTag":  `mutation { createTag(input: {name: "via-get"}) { id } }`,
		} {
			t.Run(name, func(t *testing.T) {
				status, body := rawGet(t, s, token, q)
				var r gqlResponse
				_ = json.Unmarshal([]byte(body), &r)
				if status == http.StatusOK && len(r.Errors) == 0 {
					t.Errorf("GET mutation: status 200 without errors, want a refusal (body %s)", body)
				}
				if r.Data != nil {
					t.Errorf("GET mutation: data = %v, want none", r.Data)
				}
			})
		}
		if got := linkCount(t, s, token); got != 1 {
			t.Errorf("links after mutations over GET = %d, want 1", got)
		}
		if got := get(t, s.ok(t, token, `{ tags { totalCount } }`, nil), "tags", "totalCount"); got != float64(0) {
			t.Errorf("tags after mutations over GET = %v, want 0", got)
		}
	})
}

// TestTransportRefusalsAreCoded: a request that gqlgen's transports refuse before
// any operation (a mutation over GET; variables, extensions or a body that are not
// JSON; a body that is not application/json; a method other than GET and POST) is
// answered like every other request error: a code on each error and no data
// entry, not even a null one. FuzzGraphQLRequest found these uncoded.
func TestTransportRefusalsAreCoded(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/r.db")
	_, token := owner(t, s, "ann@example.com")
	getReq := func(params url.Values) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+params.Encode(), nil)
		return req
	}
	post := func(body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"GET mutation", getReq(url.Values{"query": {`mutation { createTag(input: {name: "x"}) { id } }`}}), http.StatusMethodNotAllowed},
		{"GET variables not JSON", getReq(url.Values{"query": {`{ me { id } }`}, "variables": {`"x`}}), http.StatusBadRequest},
		{"GET variables not an object", getReq(url.Values{"query": {`{ me { id } }`}, "variables": {`"x"`}}), http.StatusBadRequest},
		{"GET extensions not JSON", getReq(url.Values{"query": {`{ me { id } }`}, "extensions": {`{`}}), http.StatusBadRequest},
		{"POST variables not JSON", post(`{"query": "{ me { id } }", "variables": {`), http.StatusBadRequest},
		{"POST variables not an object", post(`{"query": "{ me { id } }", "variables": [1]}`), http.StatusBadRequest},
		{"POST as text", withHeader(post(`{"query": "{ me { id } }"}`), "Content-Type", "text/plain"), http.StatusUnsupportedMediaType},
		{"POST without a content type", withHeader(post(`{"query": "{ me { id } }"}`), "Content-Type", ""), http.StatusUnsupportedMediaType},
		{"POST as GraphQL", withHeader(post(`{ me { id } }`), "Content-Type", "application/graphql"), http.StatusUnsupportedMediaType},
		{"PUT", withMethod(post(`{"query": "{ me { id } }"}`), http.MethodPut), http.StatusMethodNotAllowed},
		{"DELETE", withMethod(post(`{"query": "{ me { id } }"}`), http.MethodDelete), http.StatusMethodNotAllowed},
		{"GET upgrade", withHeader(getReq(url.Values{"query": {`{ me { id } }`}}), "Upgrade", "websocket"), http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.req.Header.Set("Authorization", "Bearer "+token)
			r := s.send(t, c.req)
			if r.Status != c.status || len(r.Errors) != 1 || r.Code() != "BAD_REQUEST" || strings.Contains(r.Raw, `"data"`) {
				t.Errorf("got %d %s, want %d, one BAD_REQUEST error and no data entry", r.Status, r.Raw, c.status)
			}
			if allow := r.Header.Get("Allow"); c.status == http.StatusMethodNotAllowed && allow == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
	if got := get(t, s.ok(t, token, `{ tags { totalCount } }`, nil), "tags", "totalCount"); got != float64(0) {
		t.Errorf("tags after a mutation over GET = %v, want 0", got)
	}
}

func withHeader(req *http.Request, key, value string) *http.Request {
	if value == "" {
		req.Header.Del(key)
	} else {
		req.Header.Set(key, value)
	}
	return req
}

func withMethod(req *http.Request, method string) *http.Request {
	req.Method = method
	return req
}

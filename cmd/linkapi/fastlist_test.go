package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"linkapi/graph"
	"linkapi/internal/store/storetest"
)

// TestFastListsAnswerAsGqlgen sends the same requests to a server that answers
// root links lists and me itself (graph/fastlist.go) and to one where gqlgen's executor
// answers every field, on the same database, and checks that the answers are the
// same: status, data and errors with their paths and codes. It also checks that
// the first server did answer the lists it should have, and left to gqlgen those
// it should not.
func TestFastListsAnswerAsGqlgen(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		fast := startServer(t, url)
		addr, _, stop := launch(t, map[string]string{"LINKAPI_DATABASE_URL": url, "LINKAPI_JWT_SECRET": testSecret}, nil,
			func(p *Program) { p.GenericLists = true })
		t.Cleanup(stop)
		generic := &testServer{URL: "http://" + addr, DBURL: url, Store: fast.Store}

		all := []string{"links:read", "links:write", "tags:read", "tags:write", "account:read", "account:write"}
		fast.createAccount(t, "ann@example.com", "ann-password", all...)
		fast.createAccount(t, "bob@example.com", "bob-password", "links:read", "links:write")
		fast.createAccount(t, "cid@example.com", "cid-password", "links:read", "links:write", "tags:read")
		fast.createAccount(t, "dee@example.com", "dee-password", all...)
		fast.createAccount(t, "root@example.com", "root-password", "admin:read", "admin:write")
		ann := fast.login(t, "ann@example.com", "ann-password")
		bob := fast.login(t, "bob@example.com", "bob-password")
		cid := fast.login(t, "cid@example.com", "cid-password")
		dee := fast.login(t, "dee@example.com", "dee-password") // no links at all
		root := fast.login(t, "root@example.com", "root-password")

		create := `mutation($in: CreateLinkInput!) { createLink(input: $in) { id } }`
		odd := "quote \" back\\slash\nnew\ttab\r\x01 <b>&amp; é ☃ \u2028"
		for i := range 7 {
			in := map[string]any{"url": fmt.Sprintf("https://example.com/%d", i), "tags": []string{"go", fmt.Sprintf("t%d", i%3)}, "fetchMetadata": false}
			switch i {
			case 1:
				in["title"], in["description"], in["notes"] = odd, "desc", "notes"
				in["favorite"], in["unread"] = true, true
			case 2:
				in["tags"] = []string{}
			case 3:
				in["title"], in["archived"] = "Three", true
			}
			fast.ok(t, ann, create, map[string]any{"in": in})
		}
		fast.ok(t, bob, create, map[string]any{"in": map[string]any{"url": "https://example.com/bob", "fetchMetadata": false}})
		fast.ok(t, cid, create, map[string]any{"in": map[string]any{"url": "https://example.com/cid", "title": "cid"}})
		second := str(t, fast.ok(t, ann, `{ links(first: 2) { pageInfo { endCursor } } }`, nil), "links", "pageInfo", "endCursor")
		annID := str(t, fast.ok(t, ann, `{ me { id } }`, nil), "me", "id")

		everything := `fragment L on Link { __typename id url title description notes unread archived favorite faviconUrl
			previewImageUrl createdAt updatedAt tags { __typename id name createdAt } account { __typename id email scopes createdAt } }`
		for _, c := range []struct {
			name  string
			query string
			vars  map[string]any
			fast  bool // answered without gqlgen's executor, for ann
		}{
			{"benchmark shape", `{ links(first: 20) { nodes { id url title tags { name } } } }`, nil, true},
			{"full shape", `{ links(first: 100) { totalCount nodes { id url title tags { name } account { email } } } }`, nil, true},
			{"every field", `{ links(first: 5) { __typename totalCount pageInfo { __typename hasNextPage endCursor }
				edges { __typename cursor node { ...L } } nodes { ...L again: id } } } ` + everything, nil, true},
			{"second page", `query($a: String) { links(first: 2, after: $a) { pageInfo { hasNextPage endCursor } edges { cursor node { id title } } } }`,
				map[string]any{"a": second}, true},
			{"aliases, skip and include", `query($y: Boolean!, $n: Boolean!) { page: links(first: 3) {
				n: nodes { i: id t: title @include(if: $y) tags @skip(if: $y) { name } ... on Link @include(if: $n) { url } } c: totalCount } }`,
				map[string]any{"y": true, "n": false}, true},
			{"filters", `{ links(first: 4, tag: "go", favorite: false, orderBy: TITLE_ASC) { totalCount nodes { id title tags { name } } } }`, nil, true},
			{"tags filter", `{ links(tags: ["t1"], excludeTags: ["t2"]) { nodes { id } } }`, nil, true},
			{"two roots", `{ a: links(first: 1) { nodes { id } } b: links(first: 2) { totalCount } me { email } }`, nil, true},
			{"totalCount alone", `{ links { totalCount } }`, nil, true},
			{"nested list, left to gqlgen", `{ links(first: 3) { nodes { id tags { name links(first: 2) { totalCount nodes { id } } } } } }`, nil, false},
			{"tag account, left to gqlgen", `{ links(first: 3) { nodes { tags { account { email } } } } }`, nil, false},
			{"account links, left to gqlgen", `{ links(first: 3) { nodes { account { links(first: 1) { totalCount } } } } }`, nil, false},
			{"bad first", `{ links(first: -1) { nodes { id } } }`, nil, false},
			{"bad cursor", `{ links(first: 2, after: "nope") { nodes { id } } }`, nil, false},
			{"another account", `query($id: ID) { links(accountId: $id) { nodes { id } } }`, map[string]any{"id": "999"}, false},
			{"mutation answer", `mutation { deleteLinks(ids: ["999999"]) { links { id tags { name } } failed: errors { index code } } }`, nil, false},
			{"me", `{ me { id email } }`, nil, true},
			{"me, every scalar", `{ me { __typename id email scopes createdAt } }`, nil, true},
			{"me, aliases and a fragment", `query($y: Boolean!) { me { i: id ... on Account { e: email @include(if: $y) s: scopes } } }`,
				map[string]any{"y": false}, true},
			{"me links, left to gqlgen", `{ me { id links(first: 1) { totalCount } } }`, nil, false},
		} {
			for _, who := range []struct {
				name, token string
			}{{"all scopes", ann}, {"links only", bob}, {"no account:read", cid}, {"no links", dee}, {"admin", root}, {"anonymous", ""}} {
				before := graph.FastListAnswers() + graph.FastMeAnswers()
				f := fast.do(t, who.token, c.query, c.vars)
				answered := graph.FastListAnswers() + graph.FastMeAnswers() - before
				g := generic.do(t, who.token, c.query, c.vars)
				if f.Status != g.Status || !sameJSON(t, f.Raw, g.Raw) {
					t.Errorf("%s, %s: the answers differ\nfast:    %d %s\ngeneric: %d %s", c.name, who.name, f.Status, f.Raw, g.Status, g.Raw)
				}
				if who.token == ann && c.fast != (answered > 0) {
					t.Errorf("%s, %s: answered %d lists without gqlgen's executor, want fast=%v: %s", c.name, who.name, answered, c.fast, f.Raw)
				}
			}
		}

		// An administrator's list of another account, and of every account.
		for _, q := range []string{
			`query($id: ID) { links(accountId: $id, first: 50) { totalCount nodes { id url tags { name } account { email } } } }`,
			`{ links(first: 50) { totalCount nodes { id account { id email } } } }`,
		} {
			f := fast.do(t, root, q, map[string]any{"id": annID})
			g := generic.do(t, root, q, map[string]any{"id": annID})
			if f.Status != g.Status || !sameJSON(t, f.Raw, g.Raw) {
				t.Errorf("admin %s: the answers differ\nfast:    %s\ngeneric: %s", q, f.Raw, g.Raw)
			}
		}
	})
}

// sameJSON reports whether two GraphQL responses hold the same value, their
// errors in any order: gqlgen resolves root fields concurrently, so the errors of
// several fail in the order they happen to.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y map[string]any
	for _, d := range []struct {
		raw string
		v   *map[string]any
	}{{a, &x}, {b, &y}} {
		if err := json.Unmarshal([]byte(d.raw), d.v); err != nil {
			t.Errorf("not JSON: %v: %s", err, d.raw)
			return false
		}
		if errs, ok := (*d.v)["errors"].([]any); ok {
			slices.SortFunc(errs, func(p, q any) int {
				pj, _ := json.Marshal(p)
				qj, _ := json.Marshal(q)
				return strings.Compare(string(pj), string(qj))
			})
		}
	}
	return reflect.DeepEqual(x, y)
}

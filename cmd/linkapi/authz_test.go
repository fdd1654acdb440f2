package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/safehttp"
	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

// This file is the authorisation matrix of API.md: every query and mutation of the
// schema, asked by every kind of caller, with the outcome the contract promises,
// and, for every refused write and every read, a check that the database is
// exactly as it was before.
//
// The callers, in the column order of the tables below:
//
//	anonymous         no Authorization header
//	no-scopes         an account holding no scope at all
//	read-only         the owner's account with a token narrowed at login to
//	                  links:read tags:read account:read, acting on the owner's objects
//	owner             the default scopes (links:write tags:write account:write),
//	                  acting on its own objects
//	other             the same scopes as owner, in another account, acting on the
//	                  owner's objects and naming the owner's accountId
//	admin             admin:write
//	admin-read        admin:read only
//	admin-read+write  admin:read plus the default write scopes: reads cross
//	                  accounts, writes must not
const (
	azAnon      = "anonymous"
	azNoScopes  = "no-scopes"
	azReadOnly  = "read-only"
	azOwner     = "owner"
	azOther     = "other"
	azAdmin     = "admin"
	azAdminRead = "admin-read"
	azAuditor   = "admin-read+write"
)

var azCallers = [...]string{azAnon, azNoScopes, azReadOnly, azOwner, azOther, azAdmin, azAdminRead, azAuditor}

// Expected outcomes of a cell: success, success with a null result, or an error
// code. An administrator who names a link and a tag of two accounts, both visible
// to it, gets BAD_USER_INPUT: the pair can never exist.
const (
	azOK       = "ok"
	azNull     = "null"
	azUnauth   = "UNAUTHENTICATED"
	azForbid   = "FORBIDDEN"
	azNotFound = "NOT_FOUND"
	azInput    = "BAD_USER_INPUT"
)

// azWant holds the expected outcome for each caller, in the order of azCallers.
type azWant [len(azCallers)]string

// azReadOnlyScopes are the scopes of the read-only caller's token.
var azReadOnlyScopes = []string{"links:read", "tags:read", "account:read"}

// azOp is a row of the matrix.
type azOp struct {
	name  string
	field string // the top-level field of query, whose result is checked
	query string
	write bool
	// fresh runs each cell against a new owner account, with a tagged link, for
	// operations that consume the owner (deleteAccount) or its credentials.
	fresh bool
	// vars returns the variables for caller c; it may create the objects the cell
	// consumes.
	vars func(t *testing.T, f *azFixture, c string) map[string]any
	want azWant
	// check, when set, runs after every successful cell with the result of field
	// and the database as it is afterwards.
	check func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot)
}

var azOps = []azOp{
	// Queries.
	{
		name: "me", field: "me",
		query: `{ me { id } }`,
		//         anonymous  no-scopes  read-only  owner  other  admin  admin-read  admin-read+write
		want: azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, _ *azSnapshot) {
			if id := azID(t, got); id != f.accountOf(c) {
				t.Errorf("me.id: got %d, want %d", id, f.accountOf(c))
			}
		},
	},
	{
		name: "login", field: "login",
		query: `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken account { id } } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"e": f.owner.email, "p": f.owner.password}
		},
		want: azWant{azOK, azOK, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, _ *azSnapshot) {
			if id := azID(t, get(t, got, "account")); id != f.owner.id {
				t.Errorf("login.account.id: got %d, want %d", id, f.owner.id)
			}
		},
	},
	{
		name: "link", field: "link",
		query: `query($id: ID!) { link(id: $id) { id } }`,
		vars:  azOwnerLink,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azNull, azOK, azOK, azOK},
		check: azCheckIDVar("id"),
	},
	{
		name: "link.tags+account", field: "link",
		query: `query($id: ID!) { link(id: $id) { id tags { id } account { id } } }`,
		vars:  azOwnerLink,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azNull, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameIDs(t, "link.tags", azListIDs(t, get(t, got, "tags")), after.tagIDsOfLink(f.owner.linkID))
			if id := azID(t, get(t, got, "account")); id != f.owner.id {
				t.Errorf("link.account.id: got %d, want %d", id, f.owner.id)
			}
		},
	},
	{
		name: "links", field: "links",
		query: `{ links(first: 100) { totalCount nodes { id } } }`,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "links", got, after.linkIDs(f.visibleAccount(c)))
		},
	},
	{
		name: "links.tag", field: "links",
		query: `query($tag: String) { links(first: 100, tag: $tag) { totalCount nodes { id } } }`,
		vars:  func(*testing.T, *azFixture, string) map[string]any { return map[string]any{"tag": "common"} },
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "links(tag)", got, after.linkIDsTagged(f.visibleAccount(c), "common"))
		},
	},
	{
		name: "links.accountId", field: "links",
		query: `query($acc: ID) { links(first: 100, accountId: $acc) { totalCount nodes { id } } }`,
		vars:  azOwnerAccountID,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azForbid, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "links(accountId)", got, after.linkIDs(f.owner.id))
		},
	},
	{
		name: "links.state+order", field: "links",
		query: `{ links(first: 100, unread: false, archived: false, favorite: false, updatedSince: "2000-01-01T00:00:00Z", orderBy: TITLE_ASC) { totalCount nodes { id } } }`,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "links(state)", got, after.linkIDs(f.visibleAccount(c)))
		},
	},
	{
		name: "links.tags", field: "links",
		query: `{ links(first: 100, tags: ["common"], anyTags: ["common", "none"], excludeTags: ["none"]) { totalCount nodes { id } } }`,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "links(tags)", got, after.linkIDsTagged(f.visibleAccount(c), "common"))
		},
	},
	{
		// Only the caller's own links count, an administrator's too.
		name: "checkUrl", field: "checkUrl",
		query: `query($u: String!) { checkUrl(url: $u) { link { id } title } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"u": "HTTPS://EXAMPLE.COM/" + f.owner.email}
		},
		want: azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, _ *azSnapshot) {
			link := get(t, got, "link")
			if c == azOwner || c == azReadOnly {
				if link == nil || azID(t, link) != f.owner.linkID {
					t.Errorf("checkUrl of the owner's URL: got %v, want link %d", link, f.owner.linkID)
				}
			} else if link != nil {
				t.Errorf("checkUrl of the owner's URL by %s: got %v, want no link", c, link)
			}
		},
	},
	{
		// A URL nobody saved: its page is fetched for whoever may read links.
		name: "checkUrl.page", field: "checkUrl",
		query: `query($u: String!) { checkUrl(url: $u) { link { id } title faviconUrl } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"u": f.page()}
		},
		want: azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, _ *azSnapshot) {
			if get(t, got, "link") != nil || get(t, got, "title") != azPageTitle {
				t.Errorf("checkUrl of an unsaved page: got %v, want no link and title %q", got, azPageTitle)
			}
		},
	},
	{
		name: "tag", field: "tag",
		query: `query($id: ID!) { tag(id: $id) { id } }`,
		vars:  azOwnerTag,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azNull, azOK, azOK, azOK},
		check: azCheckIDVar("id"),
	},
	{
		name: "tag.links+account", field: "tag",
		query: `query($id: ID!) { tag(id: $id) { id links(first: 100) { totalCount nodes { id } } account { id } } }`,
		vars:  azOwnerTag,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azNull, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "tag.links", get(t, got, "links"), after.linkIDsOfTag(f.owner.tagID))
			if id := azID(t, get(t, got, "account")); id != f.owner.id {
				t.Errorf("tag.account.id: got %d, want %d", id, f.owner.id)
			}
		},
	},
	{
		name: "tags", field: "tags",
		query: `{ tags(first: 100) { totalCount nodes { id } } }`,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "tags", got, after.tagIDs(f.visibleAccount(c)))
		},
	},
	{
		name: "tags.accountId", field: "tags",
		query: `query($acc: ID) { tags(first: 100, accountId: $acc) { totalCount nodes { id } } }`,
		vars:  azOwnerAccountID,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azForbid, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "tags(accountId)", got, after.tagIDs(f.owner.id))
		},
	},
	{
		name: "account", field: "account",
		query: `query($id: ID!) { account(id: $id) { id } }`,
		vars:  azOwnerAccount,
		want:  azWant{azUnauth, azForbid, azForbid, azForbid, azForbid, azOK, azOK, azOK},
		check: azCheckIDVar("id"),
	},
	{
		name: "account.links+tags", field: "account",
		query: `query($id: ID!) { account(id: $id) { id links(first: 100) { totalCount nodes { id } } tags(first: 100) { totalCount nodes { id } } } }`,
		vars:  azOwnerAccount,
		want:  azWant{azUnauth, azForbid, azForbid, azForbid, azForbid, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "account.links", get(t, got, "links"), after.linkIDs(f.owner.id))
			azSameConn(t, "account.tags", get(t, got, "tags"), after.tagIDs(f.owner.id))
		},
	},
	{
		name: "accounts", field: "accounts",
		query: `{ accounts(first: 100) { totalCount nodes { id } } }`,
		want:  azWant{azUnauth, azForbid, azForbid, azForbid, azForbid, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "accounts", got, after.accountIDs())
		},
	},
	{
		name: "me.links+tags", field: "me",
		query: `{ me { id links(first: 100) { totalCount nodes { id } } tags(first: 100) { totalCount nodes { id } } } }`,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			azSameConn(t, "me.links", get(t, got, "links"), after.linkIDs(f.accountOf(c)))
			azSameConn(t, "me.tags", get(t, got, "tags"), after.tagIDs(f.accountOf(c)))
		},
	},

	// Links.
	{
		name: "createLink", field: "createLink", write: true,
		query: `mutation($url: String!, $tags: [String!]) { createLink(input: {url: $url, tags: $tags}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"url": "https://example.com/" + f.uniq("new"), "tags": []string{"common"}}
		},
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: azCheckCreatedLink(false),
	},
	{
		name: "createLink.accountId", field: "createLink", write: true,
		query: `mutation($url: String!, $acc: ID, $tags: [String!]) { createLink(input: {url: $url, accountId: $acc, tags: $tags}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"url": "https://example.com/" + f.uniq("new"), "acc": azStr(f.owner.id), "tags": []string{"common"}}
		},
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azForbid, azOK, azForbid, azForbid},
		check: azCheckCreatedLink(true),
	},
	{
		name: "updateLink", field: "updateLink", write: true,
		query: `mutation($id: ID!, $title: String) { updateLink(id: $id, input: {title: $title}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"id": azStr(f.owner.linkID), "title": f.uniq("title")}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			l := after.link(f.owner.linkID)
			if l == nil || l.Title == nil || *l.Title != vars["title"] {
				t.Errorf("title after updateLink: got %v, want %q", l, vars["title"])
			}
		},
	},
	{
		name: "createLink.state", field: "createLink", write: true,
		query: `mutation($url: String!, $tags: [String!]) { createLink(input: {url: $url, tags: $tags, unread: true, favorite: true, notes: "n", fetchMetadata: false}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"url": "https://example.com/" + f.uniq("new"), "tags": []string{"common"}}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			azCheckCreatedLink(false)(t, f, c, vars, got, after)
			if l := after.link(azID(t, got)); l == nil || !l.Unread || !l.Favorite || l.Archived || l.Notes == nil || *l.Notes != "n" {
				t.Errorf("created link: got %+v, want unread, favorite and notes n", l)
			}
		},
	},
	{
		name: "createLink.fetch", field: "createLink", write: true,
		query: `mutation($url: String!, $tags: [String!]) { createLink(input: {url: $url, tags: $tags}) { id title } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"url": f.page(), "tags": []string{"common"}}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			azCheckCreatedLink(false)(t, f, c, vars, got, after)
			azCheckTitled(t, f, c, vars, got, after)
		},
	},
	{
		name: "createLink.fetch.accountId", field: "createLink", write: true,
		query: `mutation($url: String!, $acc: ID, $tags: [String!]) { createLink(input: {url: $url, accountId: $acc, tags: $tags, fetchMetadata: true}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"url": f.page(), "acc": azStr(f.owner.id), "tags": []string{"common"}}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azForbid, azOK, azForbid, azForbid},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			azCheckCreatedLink(true)(t, f, c, vars, got, after)
			azCheckTitled(t, f, c, vars, got, after)
		},
	},
	{
		name: "refreshLinkMetadata", field: "refreshLinkMetadata", write: true,
		query: `mutation($id: ID!) { refreshLinkMetadata(id: $id) { id title } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"id": azStr(f.newPageLink(t, f.owner.id))}
		},
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: azCheckTitled,
	},
	{
		name: "updateLink.state", field: "updateLink", write: true,
		query: `mutation($id: ID!, $notes: String) { updateLink(id: $id, input: {notes: $notes, archived: true}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"id": azStr(f.newLink(t, f.owner.id)), "notes": f.uniq("notes")}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			l := after.link(azParse(t, vars["id"]))
			if l == nil || !l.Archived || l.Notes == nil || *l.Notes != vars["notes"] {
				t.Errorf("link after updateLink: got %+v, want archived with notes %q", l, vars["notes"])
			}
		},
	},
	{
		// The whole set of tags: a tag not named comes off, a missing one is
		// created in the link's account. Like createLink's tags, it needs no
		// tags:write.
		name: "updateLink.tags", field: "updateLink", write: true,
		query: `mutation($id: ID!, $tags: [String!]) { updateLink(id: $id, input: {tags: $tags}) { id tags { name } } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			id := f.newLink(t, f.owner.id)
			f.pair(t, id, f.owner.tagID)
			f.pair(t, id, f.newTag(t, f.owner.id, ""))
			return map[string]any{"id": azStr(id), "tags": []string{"common", f.uniq("made")}}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			id := azParse(t, vars["id"])
			want := vars["tags"].([]string)
			var names []string
			for _, tagID := range after.tagIDsOfLink(id) {
				tag := after.tag(azParse(t, tagID))
				if tag == nil || tag.AccountID != f.owner.id {
					t.Errorf("link %d carries tag %v, not of its account %d", id, tag, f.owner.id)
					continue
				}
				names = append(names, tag.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Errorf("tags after updateLink: got %v, want %v", names, want)
			}
			if fmt.Sprint(get(t, got, "tags")) != fmt.Sprintf("[map[name:%s] map[name:%s]]", want[0], want[1]) {
				t.Errorf("updateLink answered tags %v, want %v", get(t, got, "tags"), want)
			}
		},
	},
	{
		name: "deleteLink", field: "deleteLink", write: true,
		query: `mutation($id: ID!) { deleteLink(id: $id) }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			id := f.newLink(t, f.owner.id)
			f.pair(t, id, f.owner.tagID)
			return map[string]any{"id": azStr(id)}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			id := azParse(t, vars["id"])
			if got != vars["id"] {
				t.Errorf("deleteLink returned %v, want %v", got, vars["id"])
			}
			if after.link(id) != nil || len(after.tagIDsOfLink(id)) > 0 {
				t.Errorf("link %d or its tag pairs are still there after deleteLink", id)
			}
		},
	},

	// Bulk writes: another account's link fails its item alone (NOT_FOUND), the
	// request succeeds and changes nothing.
	{
		name: "createLinks", field: "createLinks", write: true,
		query: `mutation($u: String!) { createLinks(inputs: [{url: $u}]) { links { id } errors { index code } } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"u": "https://example.com/" + f.uniq("bulk")}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			id := azParse(t, get(t, got, "links", 0, "id"))
			if l := after.link(id); l == nil || l.AccountID != f.accountOf(c) || l.URL != vars["u"] {
				t.Errorf("createLinks made %v, want %s in account %d", l, vars["u"], f.accountOf(c))
			}
		},
	},
	{
		name: "createLinks.accountId", field: "createLinks", write: true,
		query: `mutation($u: String!, $acc: ID) { createLinks(inputs: [{url: $u, accountId: $acc}]) { links { id } errors { index code } } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"u": "https://example.com/" + f.uniq("bulk"), "acc": azStr(f.owner.id)}
		},
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: azCheckBulk("createLinks", "FORBIDDEN"),
	},
	{
		name: "updateLinks", field: "updateLinks", write: true,
		query: `mutation($id: ID!) { updateLinks(ids: [$id], patch: {addTags: ["bulk-added"]}) { links { id } errors { index code } } }`,
		vars:  azOwnerLink,
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: azCheckBulk("updateLinks", "NOT_FOUND"),
	},
	{
		name: "deleteLinks", field: "deleteLinks", write: true,
		query: `mutation($id: ID!) { deleteLinks(ids: [$id]) { links { id } errors { index code } } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"id": azStr(f.newLink(t, f.owner.id))}
		},
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: azCheckBulk("deleteLinks", "NOT_FOUND"),
	},
	{
		name: "changes", field: "changes",
		query: `{ changes(first: 100) { nodes { objectType objectId link { account { id } } } } }`,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, _ *azSnapshot) {
			for _, n := range get(t, got, "nodes").([]any) {
				if l := get(t, n, "link"); l != nil && c != azAdmin && c != azAdminRead && c != azAuditor {
					if id := azID(t, get(t, l, "account")); id != f.visibleAccount(c) {
						t.Errorf("%s's changes name a link of account %d", c, id)
					}
				}
			}
		},
	},

	// Tags.
	{
		name: "createTag", field: "createTag", write: true,
		query: `mutation($name: String!) { createTag(input: {name: $name}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"name": f.uniq("tag")}
		},
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: azCheckCreatedTag(false),
	},
	{
		name: "createTag.accountId", field: "createTag", write: true,
		query: `mutation($name: String!, $acc: ID) { createTag(input: {name: $name, accountId: $acc}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"name": f.uniq("tag"), "acc": azStr(f.owner.id)}
		},
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azForbid, azOK, azForbid, azForbid},
		check: azCheckCreatedTag(true),
	},
	{
		name: "renameTag", field: "renameTag", write: true,
		query: `mutation($id: ID!, $name: String!) { renameTag(id: $id, name: $name) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"id": azStr(f.newTag(t, f.owner.id, "")), "name": f.uniq("renamed")}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			if tag := after.tag(azParse(t, vars["id"])); tag == nil || tag.Name != vars["name"] {
				t.Errorf("tag after renameTag: got %+v, want name %q", tag, vars["name"])
			}
		},
	},
	{
		name: "deleteTag", field: "deleteTag", write: true,
		query: `mutation($id: ID!) { deleteTag(id: $id) }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			id := f.newTag(t, f.owner.id, "")
			f.pair(t, f.owner.linkID, id)
			return map[string]any{"id": azStr(id)}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			id := azParse(t, vars["id"])
			if got != vars["id"] {
				t.Errorf("deleteTag returned %v, want %v", got, vars["id"])
			}
			if after.tag(id) != nil || len(after.linkIDsOfTag(id)) > 0 {
				t.Errorf("tag %d or its link pairs are still there after deleteTag", id)
			}
			if after.link(f.owner.linkID) == nil {
				t.Errorf("deleteTag deleted the tagged link %d", f.owner.linkID)
			}
		},
	},
	{
		name: "tagLink", field: "tagLink", write: true,
		query: `mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"l": azStr(f.owner.linkID), "t": azStr(f.newTag(t, f.owner.id, ""))}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			if !after.hasPair(azParse(t, vars["l"]), azParse(t, vars["t"])) {
				t.Errorf("tagLink succeeded but link %v does not carry tag %v", vars["l"], vars["t"])
			}
		},
	},
	{
		name: "untagLink", field: "untagLink", write: true,
		query: `mutation($l: ID!, $t: ID!) { untagLink(linkId: $l, tagId: $t) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			id := f.newTag(t, f.owner.id, "")
			f.pair(t, f.owner.linkID, id)
			return map[string]any{"l": azStr(f.owner.linkID), "t": azStr(id)}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			l, tg := azParse(t, vars["l"]), azParse(t, vars["t"])
			if after.hasPair(l, tg) {
				t.Errorf("untagLink succeeded but link %d still carries tag %d", l, tg)
			}
			if after.link(l) == nil || after.tag(tg) == nil {
				t.Errorf("untagLink deleted link %d or tag %d", l, tg)
			}
		},
	},
	// A link and a tag of two accounts can never be joined, whoever asks; the
	// pair invariant checked after every cell would catch a join that slipped by.
	{
		name: "tagLink.ownersLink+othersTag", field: "tagLink", write: true,
		query: `mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"l": azStr(f.owner.linkID), "t": azStr(f.other().tagID)}
		},
		want: azWant{azUnauth, azForbid, azForbid, azNotFound, azNotFound, azInput, azForbid, azNotFound},
	},
	{
		name: "tagLink.othersLink+ownersTag", field: "tagLink", write: true,
		query: `mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"l": azStr(f.other().linkID), "t": azStr(f.owner.tagID)}
		},
		want: azWant{azUnauth, azForbid, azForbid, azNotFound, azNotFound, azInput, azForbid, azNotFound},
	},

	// Accounts.
	{
		name: "createAccount", field: "createAccount", write: true,
		query: `mutation($email: String!) { createAccount(input: {email: $email, password: "new-account-password", scopes: ["links:read"]}) { id } }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			return map[string]any{"email": f.uniq("new") + "@example.com"}
		},
		want: azWant{azUnauth, azForbid, azForbid, azForbid, azForbid, azOK, azForbid, azForbid},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			a := after.account(azID(t, got))
			if a == nil || a.Email != vars["email"] || a.Scopes != "links:read" {
				t.Errorf("created account: got %+v, want email %v with scopes links:read", a, vars["email"])
			}
		},
	},
	{
		name: "setAccountScopes", field: "setAccountScopes", write: true, fresh: true,
		query: `mutation($id: ID!) { setAccountScopes(id: $id, scopes: ["links:read"]) { id } }`,
		vars:  azOwnerAccount,
		want:  azWant{azUnauth, azForbid, azForbid, azForbid, azForbid, azOK, azForbid, azForbid},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
			if a := after.account(f.owner.id); a == nil || a.Scopes != "links:read" {
				t.Errorf("account after setAccountScopes: got %+v, want scopes links:read", a)
			}
		},
	},
	{
		name: "deleteAccount", field: "deleteAccount", write: true, fresh: true,
		query: `mutation($id: ID!) { deleteAccount(id: $id) }`,
		vars:  azOwnerAccount,
		want:  azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			if got != vars["id"] {
				t.Errorf("deleteAccount returned %v, want %v", got, vars["id"])
			}
			if after.account(f.owner.id) != nil || len(after.linkIDs(f.owner.id)) > 0 || len(after.tagIDs(f.owner.id)) > 0 {
				t.Errorf("account %d, its links or its tags are still there after deleteAccount", f.owner.id)
			}
		},
	},
	{
		name: "changePassword", field: "changePassword", write: true, fresh: true,
		query: `mutation($cur: String!, $new: String!) { changePassword(currentPassword: $cur, newPassword: $new) }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			cur := "no-password-at-all"
			if p := f.party(c); p != nil {
				cur = p.password
			}
			return map[string]any{"cur": cur, "new": f.uniq("new-password")}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azOK, azOK, azForbid, azOK},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
			if got != true {
				t.Errorf("changePassword returned %v, want true", got)
			}
			p := f.party(c)
			if r := f.s.do(t, p.token, `{ me { id } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != azUnauth {
				t.Errorf("token issued before changePassword: got status %d code %q, want 401 %q", r.Status, r.Code(), azUnauth)
			}
			// Keep the caller usable for the cells that follow.
			p.password = vars["new"].(string)
			p.token = f.s.login(t, p.email, p.password)
		},
	},

	// Sessions. A refresh token is a credential of its own: anyone holding the
	// owner's may use it, alone or with a token of the owner's account, and a
	// caller of another account presenting it is refused.
	{
		name: "sessions", field: "sessions",
		query: `{ sessions { id } }`,
		want:  azWant{azUnauth, azForbid, azOK, azOK, azOK, azOK, azOK, azOK},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, _ *azSnapshot) {
			for _, id := range azListIDs(t, got) {
				if owner := queryInt(t, f.db, "SELECT account_id FROM sessions WHERE id = ?", id); owner != f.accountOf(c) {
					t.Errorf("sessions lists session %s of account %d to account %d", id, owner, f.accountOf(c))
				}
			}
		},
	},
	{
		name: "revokeSession", field: "revokeSession", write: true,
		query: `mutation($id: ID!) { revokeSession(id: $id) }`,
		vars: func(t *testing.T, f *azFixture, c string) map[string]any {
			tok := sessLoginAs(t, f.s, f.owner.email, f.owner.password)
			return map[string]any{"id": tokenPayload(t, tok.access)["sid"]}
		},
		want: azWant{azUnauth, azForbid, azForbid, azOK, azNotFound, azOK, azForbid, azNotFound},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, _ *azSnapshot) {
			if n := queryInt(t, f.db, "SELECT COUNT(*) FROM sessions WHERE id = ? AND ended_at IS NOT NULL", vars["id"]); got != vars["id"] || n != 1 {
				t.Errorf("revokeSession returned %v; session %v ended: %d", got, vars["id"], n)
			}
		},
	},
	{
		name: "refreshSession", field: "refreshSession",
		query: `mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken account { id } } }`,
		vars:  azOwnerRefreshToken,
		want:  azWant{azOK, azUnauth, azOK, azOK, azUnauth, azUnauth, azUnauth, azUnauth},
		check: func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, _ *azSnapshot) {
			if id := azID(t, get(t, got, "account")); id != f.owner.id {
				t.Errorf("refreshSession.account.id: got %d, want %d", id, f.owner.id)
			}
		},
	},
	{
		name: "logout", field: "logout",
		query: `mutation($r: String) { logout(refreshToken: $r) }`,
		vars:  azOwnerRefreshToken,
		want:  azWant{azOK, azUnauth, azOK, azOK, azUnauth, azUnauth, azUnauth, azUnauth},
		check: func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, _ *azSnapshot) {
			if n := queryInt(t, f.db, "SELECT COUNT(*) FROM sessions s JOIN refresh_tokens r ON r.session_id = s.id WHERE r.token_hash = ? AND s.ended_at IS NOT NULL",
				auth.HashAPIToken(vars["r"].(string))); got != true || n != 1 {
				t.Errorf("logout returned %v; the session ended: %d", got, n)
			}
		},
	},
}

// azNested is a nested field whose scope is not implied by the scope of the field
// that reaches it.
type azNested struct {
	field   string // Type.field
	top     string
	query   string
	vars    func(t *testing.T, f *azFixture, c string) map[string]any
	without []string // token scopes reaching the parent, but not the field
	with    []string // without plus the field's own scope
}

var azNestedFields = []azNested{
	{"Link.tags", "link", `query($id: ID!) { link(id: $id) { id tags { id } } }`, azOwnerLink,
		[]string{"links:read"}, []string{"links:read", "tags:read"}},
	{"Link.account", "link", `query($id: ID!) { link(id: $id) { id account { id } } }`, azOwnerLink,
		[]string{"links:read"}, []string{"links:read", "account:read"}},
	{"Tag.links", "tag", `query($id: ID!) { tag(id: $id) { id links { totalCount } } }`, azOwnerTag,
		[]string{"tags:read"}, []string{"tags:read", "links:read"}},
	{"Tag.account", "tag", `query($id: ID!) { tag(id: $id) { id account { id } } }`, azOwnerTag,
		[]string{"tags:read"}, []string{"tags:read", "account:read"}},
	{"Account.links", "me", `{ me { id links { totalCount } } }`, nil,
		[]string{"account:read"}, []string{"account:read", "links:read"}},
	{"Account.tags", "me", `{ me { id tags { totalCount } } }`, nil,
		[]string{"account:read"}, []string{"account:read", "tags:read"}},
}

// azArg is a request whose argument needs a scope of its own (@hasScope on the
// argument), asked with a token of the owner's holding scopes.
type azArg struct {
	name   string
	top    string
	query  string
	vars   map[string]any
	scopes []string
	want   string
	// ids returns the ids the answer must list when want is azOK.
	ids func(f *azFixture, after *azSnapshot) []string
}

// azLinksByTag filters links by tag, which tells which tag names exist: it needs
// tags:read, like reading Link.tags; without the argument, or with it null, links
// needs links:read alone.
const azLinksByTag = `query($tag: String) { links(first: 100, tag: $tag) { totalCount nodes { id } } }`

var azArgs = []azArg{
	{"links(tag) with links:read", "links", azLinksByTag, map[string]any{"tag": "common"},
		[]string{"links:read"}, azForbid, nil},
	{"links(tag) of a missing tag with links:read", "links", azLinksByTag, map[string]any{"tag": "no-such-tag"},
		[]string{"links:read"}, azForbid, nil},
	{"links(tag) with links:read tags:read", "links", azLinksByTag, map[string]any{"tag": "common"},
		[]string{"links:read", "tags:read"}, azOK,
		func(f *azFixture, after *azSnapshot) []string { return after.linkIDsTagged(f.owner.id, "common") }},
	{"links(tag: null) with links:read", "links", azLinksByTag, map[string]any{"tag": nil},
		[]string{"links:read"}, azOK, func(f *azFixture, after *azSnapshot) []string { return after.linkIDs(f.owner.id) }},
	{"links without tag with links:read", "links", azLinksByTag, nil,
		[]string{"links:read"}, azOK, func(f *azFixture, after *azSnapshot) []string { return after.linkIDs(f.owner.id) }},
	{"links(tags) with links:read", "links", azLinksByTags, map[string]any{"tags": []string{"common"}},
		[]string{"links:read"}, azForbid, nil},
	{"links(tags: []) with links:read", "links", azLinksByTags, map[string]any{"tags": []string{}},
		[]string{"links:read"}, azForbid, nil},
	{"links(anyTags) with links:read", "links", azLinksByTags, map[string]any{"any": []string{"common"}},
		[]string{"links:read"}, azForbid, nil},
	{"links(excludeTags) with links:read", "links", azLinksByTags, map[string]any{"ex": []string{"common"}},
		[]string{"links:read"}, azForbid, nil},
	{"links(tags, anyTags) with links:read tags:read", "links", azLinksByTags, map[string]any{"tags": []string{"common"}, "any": []string{"common"}},
		[]string{"links:read", "tags:read"}, azOK,
		func(f *azFixture, after *azSnapshot) []string { return after.linkIDsTagged(f.owner.id, "common") }},
	{"links(excludeTags) with links:read tags:read", "links", azLinksByTags, map[string]any{"ex": []string{"common"}},
		[]string{"links:read", "tags:read"}, azOK,
		func(f *azFixture, after *azSnapshot) []string {
			return azMinus(after.linkIDs(f.owner.id), after.linkIDsTagged(f.owner.id, "common"))
		}},
	{"links(tags: null, anyTags: null, excludeTags: null) with links:read", "links", azLinksByTags, map[string]any{"tags": nil, "any": nil, "ex": nil},
		[]string{"links:read"}, azOK, func(f *azFixture, after *azSnapshot) []string { return after.linkIDs(f.owner.id) }},
	{"checkUrl with tags:read", "checkUrl", `{ checkUrl(url: "https://example.com/") { link { id } } }`, nil,
		[]string{"tags:read"}, azForbid, nil},
}

// azLinksByTags filters links by lists of tag names, each needing tags:read.
const azLinksByTags = `query($tags: [String!], $any: [String!], $ex: [String!]) { links(first: 100, tags: $tags, anyTags: $any, excludeTags: $ex) { totalCount nodes { id } } }`

// azMinus returns the ids of all that are not in some.
func azMinus(all, some []string) []string {
	out := []string{}
	for _, id := range all {
		if !slices.Contains(some, id) {
			out = append(out, id)
		}
	}
	return out
}

// TestAuthz runs the authorisation matrix on every database, against a server
// that fetches pages from a test site (and from no other host: every other
// name is unknown to its resolver).
func TestAuthz(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		site := newPageSite(t)
		site.html("/az", "text/html", "<title>"+azPageTitle+"</title>")
		s := startFetchingServer(t, dbURL, safehttp.Options{
			Resolver: fakeDNS{"pages.test": addrs("127.0.0.1")}, Allow: []netip.AddrPort{site.addr()},
		}, nil)
		f := azSetup(t, s, site)

		t.Run("matrix", func(t *testing.T) {
			for _, o := range azOps {
				t.Run(o.name, func(t *testing.T) {
					for i, c := range azCallers {
						t.Run(c, func(t *testing.T) { f.run(t, o, c, o.want[i]) })
					}
				})
			}
		})

		t.Run("nested", func(t *testing.T) {
			for _, n := range azNestedFields {
				t.Run(n.field, func(t *testing.T) {
					var vars map[string]any
					if n.vars != nil {
						vars = n.vars(t, f, azOwner)
					}
					name := n.field[strings.Index(n.field, ".")+1:]
					t.Run("without", func(t *testing.T) {
						r, _, ok := f.expect(t, f.ownerToken(t, n.without), n.top, n.query, vars, azForbid, false)
						if ok && len(r.Errors[0].Path) > 0 {
							if last := r.Errors[0].Path[len(r.Errors[0].Path)-1]; last != name {
								t.Errorf("error path: got %v, want it to end in %q", r.Errors[0].Path, name)
							}
						}
					})
					t.Run("with", func(t *testing.T) {
						f.expect(t, f.ownerToken(t, n.with), n.top, n.query, vars, azOK, false)
					})
				})
			}
		})

		t.Run("arguments", func(t *testing.T) {
			for _, a := range azArgs {
				t.Run(a.name, func(t *testing.T) {
					r, after, ok := f.expect(t, f.ownerToken(t, a.scopes), a.top, a.query, a.vars, a.want, false)
					if ok && a.ids != nil {
						azSameConn(t, a.name, r.Data[a.top], a.ids(f, after))
					}
				})
			}
		})

		// Narrowing an account takes effect on its next request with the same
		// token, and widening it never gives a token more than it carries:
		// effective scopes are the token's intersected with the account's.
		t.Run("setAccountScopes", func(t *testing.T) {
			g := f.withFreshOwner(t, azOwner)
			token := g.owner.token
			setScopes := func(scopes ...string) {
				t.Helper()
				if scopes == nil {
					scopes = []string{}
				}
				s.ok(t, g.token(azAdmin), `mutation($id: ID!, $s: [String!]!) { setAccountScopes(id: $id, scopes: $s) { id } }`,
					map[string]any{"id": azStr(g.owner.id), "s": scopes})
			}
			// Each createLink saves a URL of its own: the same one twice is CONFLICT.
			createLink := `mutation($u: String!) { createLink(input: {url: $u}) { id } }`
			createTag := `mutation($n: String!) { createTag(input: {name: $n}) { id } }`
			links := `{ links { totalCount } }`
			me := `{ me { id } }`
			other := g.other()
			steps := []struct {
				scopes []string // the account's scopes before the step; nil keeps them
				name   string
				field  string
				query  string
				vars   map[string]any
				write  bool
				want   string
			}{
				{nil, "default/createLink", "createLink", createLink, nil, true, azOK},
				{[]string{"links:read"}, "links:read/createLink", "createLink", createLink, nil, true, azForbid},
				{nil, "links:read/createTag", "createTag", createTag, map[string]any{"n": g.uniq("narrowed")}, true, azForbid},
				{nil, "links:read/links", "links", links, nil, false, azOK},
				{nil, "links:read/me", "me", me, nil, false, azForbid},
				{[]string{"admin:write"}, "admin:write/createLink", "createLink", createLink, nil, true, azOK},
				{nil, "admin:write/link of other", "link", `query($id: ID!) { link(id: $id) { id } }`,
					map[string]any{"id": azStr(other.linkID)}, false, azNull},
				{nil, "admin:write/links of other", "links", `query($a: ID) { links(accountId: $a) { totalCount } }`,
					map[string]any{"a": azStr(other.id)}, false, azForbid},
				{nil, "admin:write/accounts", "accounts", `{ accounts { totalCount } }`, nil, false, azForbid},
				{nil, "admin:write/updateLink of other", "updateLink", `mutation($id: ID!) { updateLink(id: $id, input: {title: "x"}) { id } }`,
					map[string]any{"id": azStr(other.linkID)}, true, azNotFound},
				{nil, "admin:write/createTag in other", "createTag", `mutation($a: ID) { createTag(input: {name: "x", accountId: $a}) { id } }`,
					map[string]any{"a": azStr(other.id)}, true, azForbid},
				{[]string{}, "none/me", "me", me, nil, false, azForbid},
				{nil, "none/links", "links", links, nil, false, azForbid},
				{nil, "none/createLink", "createLink", createLink, nil, true, azForbid},
				{[]string{"links:write", "tags:write", "account:write"}, "default again/createLink", "createLink", createLink, nil, true, azOK},
				{nil, "default again/me", "me", me, nil, false, azOK},
			}
			for _, st := range steps {
				if st.scopes != nil {
					setScopes(st.scopes...)
				}
				if st.query == createLink {
					st.vars = map[string]any{"u": "https://example.com/" + g.uniq("narrowed")}
				}
				t.Run(st.name, func(t *testing.T) {
					f.expect(t, token, st.field, st.query, st.vars, st.want, st.write)
				})
			}
		})
	})
}

// azParty is an account the matrix acts as or on.
type azParty struct {
	id       int64
	email    string
	password string
	token    string // all the account's scopes
	roToken  string // azReadOnlyScopes; the owner's only
	linkID   int64  // a link carrying tagID
	tagID    int64  // the account's tag "common"
}

// azFixture is the data of one database, made once and shared by every cell.
// Cells that consume the owner run on a copy with a fresh owner; the other
// parties are shared.
type azFixture struct {
	s       *testServer
	db      *sql.DB // a connection of the test's own, for snapshots
	owner   *azParty
	parties map[string]*azParty // every caller but anonymous, read-only and owner
	narrow  map[string]string   // owner tokens by their scopes, for nested fields
	seq     *int
	// site serves the pages the server fetches, each titled azPageTitle.
	site *pageSite
}

// azPageTitle is the title of every page of the matrix's site.
const azPageTitle = "Matrix page"

// page returns a URL of the matrix's site no link has yet.
func (f *azFixture) page() string { return f.site.url("pages.test", "/az?"+f.uniq("page")) }

// newPageLink saves, through the store, a link of account to a page of the site,
// without its metadata.
func (f *azFixture) newPageLink(t *testing.T, account int64) int64 {
	t.Helper()
	l, err := f.s.Store.CreateLink(azSystem(), linkapi.LinkCreate{URL: f.page(), AccountID: &account})
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}

// azCheckTitled checks that the link the cell made or refreshed has the page's
// title and icon.
func azCheckTitled(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
	t.Helper()
	l := after.link(azID(t, got))
	if l == nil || l.Title == nil || *l.Title != azPageTitle || l.FaviconURL == nil {
		t.Errorf("link after the fetch: got %+v, want title %q and a favicon", l, azPageTitle)
	}
}

func azSetup(t *testing.T, s *testServer, site *pageSite) *azFixture {
	t.Helper()
	db, err := store.Open(context.Background(), s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &azFixture{s: s, db: db.SQL(), parties: map[string]*azParty{}, narrow: map[string]string{}, seq: new(int), site: site}

	f.owner = f.newParty(t, "owner", auth.DefaultScopes...)
	f.owner.roToken = azLogin(t, s, f.owner.email, f.owner.password, azReadOnlyScopes)
	f.parties[azOther] = f.newParty(t, "other", auth.DefaultScopes...)
	f.parties[azNoScopes] = f.newParty(t, "noscopes")
	f.parties[azAdmin] = f.newParty(t, "admin", "admin:write")
	f.parties[azAdminRead] = f.newParty(t, "adminread", "admin:read")
	f.parties[azAuditor] = f.newParty(t, "auditor", "admin:read", "links:write", "tags:write", "account:write")

	// Owner, other and admin each save a link tagged "common", a tag name every
	// one of them has, so that a create naming it could join the wrong one.
	for _, p := range []*azParty{f.owner, f.other(), f.parties[azAdmin]} {
		d := s.ok(t, p.token, `mutation($url: String!) { createLink(input: {url: $url, title: "seed", tags: ["common"]}) { id tags { id } } }`,
			map[string]any{"url": "https://example.com/" + p.email})
		p.linkID = azID(t, get(t, d, "createLink"))
		p.tagID = azID(t, get(t, d, "createLink", "tags", 0))
	}
	// A link of the auditor's own, so that its own lists are not trivially empty.
	f.newLink(t, f.parties[azAuditor].id)
	return f
}

func (f *azFixture) newParty(t *testing.T, name string, scopes ...string) *azParty {
	t.Helper()
	p := &azParty{email: name + "@example.com", password: name + "-password"}
	p.id = f.s.createAccount(t, p.email, p.password, scopes...)
	p.token = f.s.login(t, p.email, p.password)
	return p
}

// withFreshOwner returns a copy of f whose owner is a new account with a tagged
// link, logged in only as the caller c needs.
func (f *azFixture) withFreshOwner(t *testing.T, c string) *azFixture {
	t.Helper()
	name := f.uniq("owner")
	p := &azParty{email: name + "@example.com", password: name + "-password"}
	p.id = f.s.createAccount(t, p.email, p.password, auth.DefaultScopes...)
	p.tagID = f.newTag(t, p.id, "common")
	p.linkID = f.newLink(t, p.id)
	f.pair(t, p.linkID, p.tagID)
	switch c {
	case azOwner:
		p.token = f.s.login(t, p.email, p.password)
	case azReadOnly:
		p.roToken = azLogin(t, f.s, p.email, p.password, azReadOnlyScopes)
	}
	g := *f
	g.owner = p
	return &g
}

func (f *azFixture) other() *azParty { return f.parties[azOther] }

// party returns the account caller c acts as; nil for anonymous.
func (f *azFixture) party(c string) *azParty {
	switch c {
	case azAnon:
		return nil
	case azOwner, azReadOnly:
		return f.owner
	}
	p := f.parties[c]
	if p == nil {
		panic("authz: unknown caller " + c)
	}
	return p
}

func (f *azFixture) token(c string) string {
	switch p := f.party(c); {
	case p == nil:
		return ""
	case c == azReadOnly:
		return p.roToken
	default:
		return p.token
	}
}

func (f *azFixture) accountOf(c string) int64 {
	if p := f.party(c); p != nil {
		return p.id
	}
	return 0
}

// visibleAccount is the account whose objects c's unfiltered lists show: 0 (all)
// for a holder of admin:read.
func (f *azFixture) visibleAccount(c string) int64 {
	switch c {
	case azAdmin, azAdminRead, azAuditor:
		return 0
	}
	return f.accountOf(c)
}

// ownerToken returns a token of the owner's carrying just scopes.
func (f *azFixture) ownerToken(t *testing.T, scopes []string) string {
	t.Helper()
	key := strings.Join(slices.Sorted(slices.Values(scopes)), " ")
	if f.narrow[key] == "" {
		f.narrow[key] = azLogin(t, f.s, f.owner.email, f.owner.password, scopes)
	}
	return f.narrow[key]
}

func (f *azFixture) uniq(prefix string) string {
	*f.seq++
	return fmt.Sprintf("%s-%d", prefix, *f.seq)
}

// azSystem is the context of the command-line tools: every scope, no account.
func azSystem() context.Context { return auth.NewContext(context.Background(), auth.System()) }

// newLink saves a link in account through the store.
func (f *azFixture) newLink(t *testing.T, account int64) int64 {
	t.Helper()
	l, err := f.s.Store.CreateLink(azSystem(), linkapi.LinkCreate{URL: "https://example.com/" + f.uniq("link"), AccountID: &account})
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}

// newTag makes a tag in account through the store; name "" makes a new name.
func (f *azFixture) newTag(t *testing.T, account int64, name string) int64 {
	t.Helper()
	if name == "" {
		name = f.uniq("tag")
	}
	tag, err := f.s.Store.CreateTag(azSystem(), linkapi.TagCreate{Name: name, AccountID: &account})
	if err != nil {
		t.Fatal(err)
	}
	return tag.ID
}

func (f *azFixture) pair(t *testing.T, link, tag int64) {
	t.Helper()
	if _, err := f.s.Store.TagLink(azSystem(), link, tag); err != nil {
		t.Fatal(err)
	}
}

// run plays one cell of the matrix.
func (f *azFixture) run(t *testing.T, o azOp, c, want string) {
	t.Helper()
	if o.fresh {
		f = f.withFreshOwner(t, c)
	}
	var vars map[string]any
	if o.vars != nil {
		vars = o.vars(t, f, c)
	}
	fetched := f.site.total()
	r, after, ok := f.expect(t, f.token(c), o.field, o.query, vars, want, o.write)
	if n := f.site.total() - fetched; n > 0 && want != azOK && want != azNull {
		t.Errorf("the refused %s fetched %d pages, want none", o.name, n)
	}
	if ok && want == azOK && o.check != nil {
		o.check(t, f, c, vars, r.Data[o.field], after)
	}
}

// expect sends query with token and checks that field's outcome is want. A read,
// and a write that is refused, must leave the database as it was; and no pair may
// ever join a link and a tag of two accounts. ok reports whether the outcome was
// the one wanted.
func (f *azFixture) expect(t *testing.T, token, field, query string, vars map[string]any, want string, write bool) (r *gqlResponse, after *azSnapshot, ok bool) {
	t.Helper()
	before := f.snapshot(t)
	r = f.s.do(t, token, query, vars)
	after = f.snapshot(t)
	after.checkPairs(t)
	if r.Status != http.StatusOK {
		t.Errorf("HTTP status: got %d, want %d", r.Status, http.StatusOK)
	}
	var got any
	if r.Data != nil {
		got = r.Data[field]
	}
	code := r.Code()
	ok = true
	switch want {
	case azOK, azNull:
		if code != "" || len(r.Errors) > 0 {
			t.Errorf("got %q (%s), want success", code, r.Raw)
			ok = false
		} else if want == azNull && got != nil {
			t.Errorf("got %v, want null", got)
			ok = false
		} else if want == azOK && got == nil {
			t.Errorf("got null, want a result (%s)", r.Raw)
			ok = false
		}
	default:
		if code != want {
			t.Errorf("got %q, want %q (%s)", code, want, r.Raw)
			ok = false
		}
	}
	refused := want != azOK && want != azNull
	if refused && got != nil {
		t.Errorf("refused %s returned data: %v", field, got)
	}
	if !write || refused {
		azSame(t, before, after)
	}
	return r, after, ok
}

// azLogin logs in asking for just scopes.
func azLogin(t *testing.T, s *testServer, email, password string, scopes []string) string {
	t.Helper()
	d := s.ok(t, "", `mutation($e: String!, $p: String!, $s: [String!]) { login(email: $e, password: $p, scopes: $s) { accessToken } }`,
		map[string]any{"e": email, "p": password, "s": scopes})
	return str(t, d, "login", "accessToken")
}

// Variables naming the owner's objects.

// azOwnerRefreshToken logs the owner in afresh and names its refresh token.
func azOwnerRefreshToken(t *testing.T, f *azFixture, _ string) map[string]any {
	return map[string]any{"r": sessLoginAs(t, f.s, f.owner.email, f.owner.password).refresh}
}

func azOwnerLink(_ *testing.T, f *azFixture, _ string) map[string]any {
	return map[string]any{"id": azStr(f.owner.linkID)}
}

func azOwnerTag(_ *testing.T, f *azFixture, _ string) map[string]any {
	return map[string]any{"id": azStr(f.owner.tagID)}
}

func azOwnerAccount(_ *testing.T, f *azFixture, _ string) map[string]any {
	return map[string]any{"id": azStr(f.owner.id)}
}

func azOwnerAccountID(_ *testing.T, f *azFixture, _ string) map[string]any {
	return map[string]any{"acc": azStr(f.owner.id)}
}

// Checks of successful cells.

// azCheckIDVar checks that the result is the object the variable name names.
func azCheckIDVar(name string) func(*testing.T, *azFixture, string, map[string]any, any, *azSnapshot) {
	return func(t *testing.T, _ *azFixture, _ string, vars map[string]any, got any, _ *azSnapshot) {
		if id := azStr(azID(t, got)); id != vars[name] {
			t.Errorf("id: got %s, want %v", id, vars[name])
		}
	}
}

// azCheckCreatedLink checks that the new link landed in the caller's account, or
// the owner's, and carries that account's tag "common", not another's.
func azCheckCreatedLink(inOwners bool) func(*testing.T, *azFixture, string, map[string]any, any, *azSnapshot) {
	return func(t *testing.T, f *azFixture, c string, _ map[string]any, got any, after *azSnapshot) {
		want := f.accountOf(c)
		if inOwners {
			want = f.owner.id
		}
		id := azID(t, got)
		l := after.link(id)
		if l == nil {
			t.Fatalf("created link %d is not in the database", id)
		}
		if l.AccountID != want {
			t.Errorf("link's account: got %d, want %d", l.AccountID, want)
		}
		tags := after.tagIDsOfLink(id)
		if len(tags) != 1 {
			t.Fatalf("link's tags: got %v, want one", tags)
		}
		if tag := after.tag(azParse(t, tags[0])); tag.Name != "common" || tag.AccountID != want {
			t.Errorf("link's tag: got %q of account %d, want %q of account %d", tag.Name, tag.AccountID, "common", want)
		}
	}
}

// azCheckCreatedTag checks that the new tag landed in the caller's account, or the
// owner's.
func azCheckCreatedTag(inOwners bool) func(*testing.T, *azFixture, string, map[string]any, any, *azSnapshot) {
	return func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
		want := f.accountOf(c)
		if inOwners {
			want = f.owner.id
		}
		tag := after.tag(azID(t, got))
		if tag == nil || tag.AccountID != want || tag.Name != vars["name"] {
			t.Errorf("created tag: got %+v, want %q in account %d", tag, vars["name"], want)
		}
	}
}

// azSameConn checks a connection's nodes and totalCount against want.
func azSameConn(t *testing.T, what string, conn any, want []string) {
	t.Helper()
	azSameIDs(t, what, azListIDs(t, get(t, conn, "nodes")), want)
	if n := get(t, conn, "totalCount"); n != float64(len(want)) {
		t.Errorf("%s.totalCount: got %v, want %d", what, n, len(want))
	}
}

func azSameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got ids %v, want %v", what, got, want)
	}
}

// azListIDs returns the sorted ids of a list of objects.
func azListIDs(t *testing.T, list any) []string {
	t.Helper()
	items, ok := list.([]any)
	if !ok {
		t.Fatalf("%v is not a list", list)
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, str(t, it, "id"))
	}
	slices.Sort(ids)
	return ids
}

// azID returns the id of an object in a response.
func azID(t *testing.T, obj any) int64 {
	t.Helper()
	return azParse(t, str(t, obj, "id"))
}

func azParse(t *testing.T, id any) int64 {
	t.Helper()
	s, _ := id.(string)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("id %v is not a number", id)
	}
	return n
}

func azStr(id int64) string { return strconv.FormatInt(id, 10) }

// azSnapshot is every row of the database that authorisation protects.
type azSnapshot struct {
	Accounts []azAccountRow
	Links    []azLinkRow
	Tags     []azTagRow
	Pairs    []azPairRow
}

type azAccountRow struct {
	ID                int64
	Email             string
	Scopes            string
	PasswordHash      string
	PasswordChangedAt time.Time
	UpdatedAt         time.Time
}

type azLinkRow struct {
	ID                         int64
	AccountID                  int64
	URL                        string
	Title                      *string
	Description                *string
	Notes                      *string
	Unread, Archived, Favorite bool
	FaviconURL                 *string
	PreviewImageURL            *string
	UpdatedAt                  time.Time
}

type azTagRow struct {
	ID        int64
	AccountID int64
	Name      string
}

type azPairRow struct {
	LinkID    int64
	TagID     int64
	AccountID int64
}

func (f *azFixture) snapshot(t *testing.T) *azSnapshot {
	t.Helper()
	var s azSnapshot
	for _, q := range []struct {
		sql string
		row func(*sql.Rows) error
	}{
		{"SELECT id, email, scopes, password_hash, password_changed_at, updated_at FROM accounts ORDER BY id", func(rs *sql.Rows) error {
			var a azAccountRow
			err := rs.Scan(&a.ID, &a.Email, &a.Scopes, &a.PasswordHash, &a.PasswordChangedAt, &a.UpdatedAt)
			s.Accounts = append(s.Accounts, a)
			return err
		}},
		{"SELECT id, account_id, url, title, description, notes, unread, archived, favorite, favicon_url, preview_image_url, updated_at FROM links ORDER BY id", func(rs *sql.Rows) error {
			var l azLinkRow
			err := rs.Scan(&l.ID, &l.AccountID, &l.URL, &l.Title, &l.Description, &l.Notes, &l.Unread, &l.Archived, &l.Favorite,
				&l.FaviconURL, &l.PreviewImageURL, &l.UpdatedAt)
			s.Links = append(s.Links, l)
			return err
		}},
		{"SELECT id, account_id, name FROM tags ORDER BY id", func(rs *sql.Rows) error {
			var tg azTagRow
			err := rs.Scan(&tg.ID, &tg.AccountID, &tg.Name)
			s.Tags = append(s.Tags, tg)
			return err
		}},
		{"SELECT link_id, tag_id, account_id FROM link_tags ORDER BY link_id, tag_id", func(rs *sql.Rows) error {
			var p azPairRow
			err := rs.Scan(&p.LinkID, &p.TagID, &p.AccountID)
			s.Pairs = append(s.Pairs, p)
			return err
		}},
	} {
		if err := eachRow(f.db, q.sql, q.row); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	}
	return &s
}

// lines renders every row as one line, for comparison and diffs.
func (s *azSnapshot) lines() []string {
	var out []string
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	opt := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return strconv.Quote(*p)
	}
	for _, a := range s.Accounts {
		out = append(out, fmt.Sprintf("account %d %s scopes=%q hash=%s password_changed_at=%s updated_at=%s",
			a.ID, a.Email, a.Scopes, a.PasswordHash, ts(a.PasswordChangedAt), ts(a.UpdatedAt)))
	}
	for _, l := range s.Links {
		out = append(out, fmt.Sprintf("link %d account=%d url=%s title=%s description=%s notes=%s unread=%t archived=%t favorite=%t favicon=%s preview=%s updated_at=%s",
			l.ID, l.AccountID, l.URL, opt(l.Title), opt(l.Description), opt(l.Notes), l.Unread, l.Archived, l.Favorite,
			opt(l.FaviconURL), opt(l.PreviewImageURL), ts(l.UpdatedAt)))
	}
	for _, tg := range s.Tags {
		out = append(out, fmt.Sprintf("tag %d account=%d name=%q", tg.ID, tg.AccountID, tg.Name))
	}
	for _, p := range s.Pairs {
		out = append(out, fmt.Sprintf("pair link=%d tag=%d account=%d", p.LinkID, p.TagID, p.AccountID))
	}
	return out
}

// azSame fails t unless before and after hold the same rows, listing the rows
// that went (-) and came (+).
func azSame(t *testing.T, before, after *azSnapshot) {
	t.Helper()
	b, a := before.lines(), after.lines()
	if slices.Equal(b, a) {
		return
	}
	var diff []string
	for _, l := range b {
		if !slices.Contains(a, l) {
			diff = append(diff, "- "+l)
		}
	}
	for _, l := range a {
		if !slices.Contains(b, l) {
			diff = append(diff, "+ "+l)
		}
	}
	t.Errorf("data changed:\n%s", strings.Join(diff, "\n"))
}

// checkPairs fails t for a pair whose link, tag and own account_id disagree.
func (s *azSnapshot) checkPairs(t *testing.T) {
	t.Helper()
	for _, p := range s.Pairs {
		l, tg := s.link(p.LinkID), s.tag(p.TagID)
		if l == nil || tg == nil || l.AccountID != p.AccountID || tg.AccountID != p.AccountID {
			t.Errorf("pair %+v joins link %+v and tag %+v", p, l, tg)
		}
	}
}

func (s *azSnapshot) account(id int64) *azAccountRow {
	for i := range s.Accounts {
		if s.Accounts[i].ID == id {
			return &s.Accounts[i]
		}
	}
	return nil
}

func (s *azSnapshot) link(id int64) *azLinkRow {
	for i := range s.Links {
		if s.Links[i].ID == id {
			return &s.Links[i]
		}
	}
	return nil
}

func (s *azSnapshot) tag(id int64) *azTagRow {
	for i := range s.Tags {
		if s.Tags[i].ID == id {
			return &s.Tags[i]
		}
	}
	return nil
}

func (s *azSnapshot) hasPair(link, tag int64) bool {
	return slices.ContainsFunc(s.Pairs, func(p azPairRow) bool { return p.LinkID == link && p.TagID == tag })
}

func azSorted(ids []string) []string {
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	return ids
}

// linkIDs returns the ids of account's links, or of every link for account 0.
func (s *azSnapshot) linkIDs(account int64) []string {
	var ids []string
	for _, l := range s.Links {
		if account == 0 || l.AccountID == account {
			ids = append(ids, azStr(l.ID))
		}
	}
	return azSorted(ids)
}

// linkIDsTagged returns linkIDs(account) narrowed to links carrying a tag called name.
func (s *azSnapshot) linkIDsTagged(account int64, name string) []string {
	var ids []string
	for _, l := range s.Links {
		if account != 0 && l.AccountID != account {
			continue
		}
		for _, p := range s.Pairs {
			if tg := s.tag(p.TagID); p.LinkID == l.ID && tg != nil && tg.Name == name {
				ids = append(ids, azStr(l.ID))
				break
			}
		}
	}
	return azSorted(ids)
}

// tagIDs returns the ids of account's tags, or of every tag for account 0.
func (s *azSnapshot) tagIDs(account int64) []string {
	var ids []string
	for _, tg := range s.Tags {
		if account == 0 || tg.AccountID == account {
			ids = append(ids, azStr(tg.ID))
		}
	}
	return azSorted(ids)
}

func (s *azSnapshot) tagIDsOfLink(link int64) []string {
	var ids []string
	for _, p := range s.Pairs {
		if p.LinkID == link {
			ids = append(ids, azStr(p.TagID))
		}
	}
	return azSorted(ids)
}

func (s *azSnapshot) linkIDsOfTag(tag int64) []string {
	var ids []string
	for _, p := range s.Pairs {
		if p.TagID == tag {
			ids = append(ids, azStr(p.LinkID))
		}
	}
	return azSorted(ids)
}

func (s *azSnapshot) accountIDs() []string {
	var ids []string
	for _, a := range s.Accounts {
		ids = append(ids, azStr(a.ID))
	}
	return azSorted(ids)
}

// azCheckBulk checks a bulk write of one item on the owner's objects: the
// callers who may not write them (other, and an administrator who may only
// read across accounts) get the item refused with code and a null link.
func azCheckBulk(field, code string) func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
	return func(t *testing.T, f *azFixture, c string, vars map[string]any, got any, after *azSnapshot) {
		errs := get(t, got, "errors").([]any)
		link := get(t, got, "links", 0)
		if c == azOther || c == azAuditor {
			if len(errs) != 1 || str(t, errs[0], "code") != code || link != nil {
				t.Errorf("%s by %s: got %v, want the item refused with %s", field, c, got, code)
			}
			return
		}
		if len(errs) != 0 || link == nil {
			t.Errorf("%s by %s: got %v, want the item done", field, c, got)
			return
		}
		id := azParse(t, get(t, link, "id"))
		gone := after.link(id) == nil
		if gone != (field == "deleteLinks") {
			t.Errorf("%s by %s: link %d there afterwards: %v", field, c, id, !gone)
		}
	}
}

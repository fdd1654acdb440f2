package main

import (
	"fmt"
	"slices"
	"testing"

	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

const updateLinkTags = `mutation($id: ID!, $tags: [String!], $title: String) {
	updateLink(id: $id, input: {tags: $tags, title: $title}) { id title tags { name } } }`

// linkTagNames returns the names of the tags updateLink answered with.
func linkTagNames(t *testing.T, d map[string]any) []string {
	t.Helper()
	names := []string{}
	for _, tag := range get(t, d, "updateLink", "tags").([]any) {
		names = append(names, str(t, tag, "name"))
	}
	return names
}

// TestUpdateLinkTags replaces a link's tags by name: missing tags are created,
// tags not named come off the link (and stay), null leaves them, [] clears
// them; bad names and too many change nothing. The statements sent do not grow
// with the number of names.
func TestUpdateLinkTags(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		log := &statementLog{}
		s := startServerWith(t, url, log.attach(t))
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:read")
		ann := s.login(t, "ann@example.com", "ann-password")
		d := s.ok(t, ann, `mutation { createLink(input: {url: "https://go.dev/", tags: ["go", "old"]}) { id } }`, nil)
		id := str(t, d, "createLink", "id")
		set := func(tags any) []string {
			t.Helper()
			return linkTagNames(t, s.ok(t, ann, updateLinkTags, map[string]any{"id": id, "tags": tags}))
		}

		if got := set([]string{" go ", "reading", "go"}); !slices.Equal(got, []string{"go", "reading"}) {
			t.Errorf("tags after setting go, reading: %v", got)
		}
		tags := s.ok(t, ann, `{ tags { nodes { name } } }`, nil)
		if got := fmt.Sprint(get(t, tags, "tags", "nodes")); got != "[map[name:reading] map[name:old] map[name:go]]" {
			t.Errorf("tags of the account: %s, want reading created and old kept", got)
		}
		d = s.ok(t, ann, updateLinkTags, map[string]any{"id": id, "title": "Go"})
		if got := linkTagNames(t, d); !slices.Equal(got, []string{"go", "reading"}) {
			t.Errorf("tags after an update without tags: %v, want them unchanged", got)
		}

		for name, tags := range map[string]any{
			"an empty name": []string{"go", "  "},
			"too many":      manyNames(linkapi.MaxTagsPerLink + 1),
		} {
			if r := s.do(t, ann, updateLinkTags, map[string]any{"id": id, "tags": tags, "title": "changed"}); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("%s: got %q, want BAD_USER_INPUT", name, r.Code())
			}
		}
		d = s.ok(t, ann, `query($id: ID!) { link(id: $id) { title tags { name } } }`, map[string]any{"id": id})
		if got := fmt.Sprint(get(t, d, "link")); got != "map[tags:[map[name:go] map[name:reading]] title:Go]" {
			t.Errorf("link after refused updates: %s, want it unchanged", got)
		}

		// As many statements for two names as for the most a link may carry.
		count := func(names []string) int {
			return len(log.during(func() { set(names) }))
		}
		set([]string{})
		few := count([]string{"a-1", "a-2"})
		set([]string{})
		many := count(manyNames(linkapi.MaxTagsPerLink))
		if few < 5 || many != few {
			t.Errorf("statements for 2 new tags: %d, for %d: %d; want the same, at least 5", few, linkapi.MaxTagsPerLink, many)
		}
		if got := set([]string{}); len(got) != 0 {
			t.Errorf("tags after []: %v", got)
		}
	})
}

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t-%03d", i)
	}
	return out
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"linkapi/internal/bookmarks"
)

// cli runs the command against s's database with the server's secret.
func (s *testServer) cli(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	return runCLIEnv(t, map[string]string{"LINKAPI_DATABASE_URL": s.DBURL, "LINKAPI_JWT_SECRET": testSecret}, stdin, args...)
}

func (s *testServer) okCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := s.cli(t, stdin, args...)
	if r.Err != nil {
		t.Fatalf("linkapi %s: %v\nstdout: %s", strings.Join(args, " "), r.Err, r.Stdout)
	}
	return r.Stdout
}

// parseState decodes an export, failing the test on anything but one State.
func parseState(t *testing.T, out string) bookmarks.State {
	t.Helper()
	var st bookmarks.State
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("the export is not a State: %v\n%s", err, out)
	}
	return st
}

// withoutIDs returns st re-encoded with its ids cleared.
func withoutIDs(t *testing.T, st bookmarks.State) string {
	t.Helper()
	for i := range st.Tags {
		st.Tags[i].ID = 0
	}
	for i := range st.Links {
		st.Links[i].ID = 0
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// feedCounts counts the caller's change feed rows by "KIND objectType".
func feedCounts(t *testing.T, s *testServer, token string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	after := any(nil)
	for {
		d := s.ok(t, token, `query($a: String) { changes(after: $a, first: 100) { nodes { kind objectType } pageInfo { hasNextPage endCursor } } }`, map[string]any{"a": after})
		for _, n := range get(t, d, "changes", "nodes").([]any) {
			m := n.(map[string]any)
			counts[m["kind"].(string)+" "+m["objectType"].(string)]++
		}
		if get(t, d, "changes", "pageInfo", "hasNextPage") != true {
			return counts
		}
		after = get(t, d, "changes", "pageInfo", "endCursor")
	}
}

// TestJSONExportImportRoundTrip exports an account as JSON through the command,
// imports it into a fresh account and exports that: the two are equal but for
// the ids, with every field, the dates, a tag without links and the change feed
// rows of the import.
func TestJSONExportImportRoundTrip(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")

		s.ok(t, ann, `mutation { createTag(input: {name: "someday"}) { id } }`, nil)
		create := `mutation($i: CreateLinkInput!) { createLink(input: $i) { id } }`
		for _, in := range []map[string]any{
			{"url": "https://example.com/a?x=1&y=<2>", "title": "Ä & <b>", "description": "two\nlines", "notes": "mine", "fetchMetadata": false,
				"unread": true, "tags": []any{"go", "read later"}},
			{"url": "https://example.com/b", "archived": true, "favorite": true, "tags": []any{"go"}, "fetchMetadata": false},
			{"url": "https://example.com/c", "title": "C", "fetchMetadata": false},
		} {
			s.ok(t, ann, create, map[string]any{"i": in})
		}
		id := str(t, s.ok(t, ann, `{ links(search: "example.com/c") { nodes { id } } }`, nil), "links", "nodes", 0, "id")
		s.ok(t, ann, `mutation($id: ID!) { updateLink(id: $id, input: {notes: "later", favorite: true}) { id } }`, map[string]any{"id": id})

		out := s.okCLI(t, "", "export", "--email", "ann@example.com", "--format", "json")
		if again := s.okCLI(t, "", "export", "--email", "ann@example.com", "--format", "json"); again != out {
			t.Errorf("two exports differ:\n%s\n%s", out, again)
		}
		st := parseState(t, out)
		if st.Version != 1 || len(st.Links) != 3 || len(st.Tags) != 3 {
			t.Fatalf("export = %+v, want version 1, 3 links, 3 tags", st)
		}
		if !regexp.MustCompile(`^\{\n  "version": 1,\n  "tags": \[\n    \{\n      "id": \d+,\n      "name": "go",\n      "createdAt": "20`).MatchString(out) {
			t.Errorf("the export does not start with version, then tags by name, keys in schema order:\n%s", out)
		}
		first := st.Links[0]
		if first.URL != "https://example.com/a?x=1&y=<2>" || *first.Title != "Ä & <b>" || *first.Description != "two\nlines" ||
			*first.Notes != "mine" || !first.Unread || first.Archived || !slices.Equal(first.Tags, []string{"go", "read later"}) {
			t.Errorf("first link = %+v", first)
		}
		if !strings.Contains(out, `"url": "https://example.com/a?x=1&y=<2>"`) {
			t.Errorf("the URL is escaped in the file:\n%s", out)
		}
		if l := st.Links[1]; l.Title != nil || l.Description != nil || l.Notes != nil || !l.Archived || !l.Favorite {
			t.Errorf("second link = %+v, want null title, description, notes; archived and favorite", l)
		}
		if l := st.Links[2]; !l.UpdatedAt.After(l.CreatedAt) || *l.Notes != "later" {
			t.Errorf("updated link = %+v, want its later updatedAt and notes", l)
		}
		for i := 1; i < len(st.Links); i++ {
			a, b := st.Links[i-1], st.Links[i]
			if a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID {
				t.Errorf("links %d and %d out of order (createdAt, then id)", i-1, i)
			}
		}

		path := filepath.Join(t.TempDir(), "ann.json")
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		said := s.okCLI(t, "", "import", "--email", "bob@example.com", "--format", "json", "--file", path)
		if want := "imported 3 links into bob@example.com; skipped 0 already there or repeated, 0 invalid; created 3 tags\n"; said != want {
			t.Errorf("import said %q, want %q", said, want)
		}
		back := s.okCLI(t, "", "export", "--email", "bob@example.com", "--format", "json")
		if got, want := withoutIDs(t, parseState(t, back)), withoutIDs(t, st); got != want {
			t.Errorf("after the round trip, modulo ids:\n%s\nwant\n%s", got, want)
		}
		if got := feedCounts(t, s, bob); got["CREATED Link"] != 3 || got["CREATED Tag"] != 3 || len(got) != 2 {
			t.Errorf("bob's feed after the import = %v, want 3 link and 3 tag creations", got)
		}

		// Again, from standard input: every URL is there already.
		said = s.okCLI(t, out, "import", "--email", "bob@example.com", "--format", "json")
		if want := "imported 0 links into bob@example.com; skipped 3 already there or repeated, 0 invalid; created 0 tags\n"; said != want {
			t.Errorf("second import said %q, want %q", said, want)
		}

		// netscape is the default's name.
		if def, named := s.okCLI(t, "", "export", "--email", "ann@example.com"),
			s.okCLI(t, "", "export", "--email", "ann@example.com", "--format", "netscape"); def != named || !strings.Contains(def, "NETSCAPE-Bookmark-file-1") {
			t.Errorf("--format netscape differs from the default:\n%s\n%s", def, named)
		}
		for _, args := range [][]string{
			{"export", "--email", "ann@example.com", "--format", "xml"},
			{"import", "--email", "ann@example.com", "--format", "JSON"},
		} {
			if r := s.cli(t, out, args...); r.Err == nil || !strings.Contains(r.Err.Error(), "--format is netscape or json") {
				t.Errorf("linkapi %s: got %v, want the formats named", strings.Join(args, " "), r.Err)
			}
		}
	})
}

// TestJSONImportRefusals feeds bad JSON to the command: each is refused with
// what is wrong, and the account, its tags and its change feed are as before.
func TestJSONImportRefusals(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "cat@example.com", "cat-password", "links:write", "tags:write", "account:write")
		cat := s.login(t, "cat@example.com", "cat-password")
		s.ok(t, cat, `mutation { createLink(input: {url: "https://example.com/kept", tags: ["old"], fetchMetadata: false}) { id } }`, nil)
		before := s.okCLI(t, "", "export", "--email", "cat@example.com", "--format", "json")
		feed := feedCounts(t, s, cat)

		link := func(url string, extra string) string {
			return `{"url": "` + url + `", "title": null, "description": null, "notes": null, "unread": false, "archived": false, "favorite": false, "tags": ["new"], "createdAt": "2024-01-02T03:04:05Z", "updatedAt": "2024-01-02T03:04:05Z"` + extra + `}`
		}
		good := link("https://example.com/good", "")
		tags := `"tags": [{"name": "fresh", "createdAt": "2024-01-01T00:00:00Z"}]`
		long := strings.Repeat("x", 200)
		for name, c := range map[string]struct{ in, want string }{
			"not JSON":         {"<!DOCTYPE NETSCAPE-Bookmark-file-1>", "not a linkapi JSON export: line 1"},
			"cut short":        {`{"version": 1, "links": [` + good, "not a linkapi JSON export"},
			"a syntax error":   {"{\"version\": 1,\n\"links\": [" + good + ",,]}", "line 2"},
			"no version":       {`{"links": []}`, `no "version"`},
			"version 2":        {`{"version": 2, "links": [], "folders": []}`, "version 2 of the JSON export; this linkapi reads version 1"},
			"version as text":  {`{"version": "1", "links": []}`, `version "1"`},
			"an unknown key":   {`{"version": 1, "links": [` + link("https://example.com/x", `, "favourite": true`) + `]}`, `unknown field "favourite"`},
			"a wrong type":     {`{"version": 1, "links": [{"url": "https://example.com/x", "unread": "yes"}]}`, "not a linkapi JSON export"},
			"two values":       {`{"version": 1, "links": []} {}`, "after top-level value"},
			"a link sans url":  {`{"version": 1, ` + tags + `, "links": [` + good + `, {"title": "t"}]}`, "link 2 has no url"},
			"a bad URL":        {`{"version": 1, ` + tags + `, "links": [` + good + `, ` + link("ftp://example.com/f", "") + `, ` + link("https://example.com/h", "") + `]}`, `link 2 ("ftp://example.com/f"): url must use http or https`},
			"a bad link tag":   {`{"version": 1, "links": [` + good + `, ` + strings.Replace(link("https://example.com/t", ""), `["new"]`, `["`+long+`"]`, 1) + `]}`, "link 2"},
			"a bad tag":        {`{"version": 1, "tags": [{"name": "  ", "createdAt": "2024-01-01T00:00:00Z"}], "links": [` + good + `]}`, "tag 1"},
			"a bad date":       {`{"version": 1, "links": [{"url": "https://example.com/d", "createdAt": "yesterday"}]}`, "not a linkapi JSON export"},
			"an empty file":    {"", "not a linkapi JSON export"},
			"an array":         {`[]`, "not a linkapi JSON export"},
			"too long a title": {`{"version": 1, "links": [` + good + `, ` + strings.Replace(link("https://example.com/l", ""), `"title": null`, `"title": "`+strings.Repeat("t", 2000)+`"`, 1) + `]}`, "link 2"},
		} {
			r := s.cli(t, c.in, "import", "--email", "cat@example.com", "--format", "json")
			if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) || r.Stdout != "" {
				t.Errorf("%s: got %v (stdout %q), want an error with %q", name, r.Err, r.Stdout, c.want)
			}
		}
		if after := s.okCLI(t, "", "export", "--email", "cat@example.com", "--format", "json"); after != before {
			t.Errorf("refused imports changed the account:\n%s\nwas\n%s", after, before)
		}
		if got := feedCounts(t, s, cat); !mapsEqual(got, feed) {
			t.Errorf("refused imports wrote feed rows: %v, was %v", got, feed)
		}

		// A good file with a repeat and a link already there imports the rest,
		// with the tag that no link carries and its date; a tag that only a link
		// names is new today.
		in := `{"version": 1, ` + tags + `, "links": [` + good + `, ` + good + `, ` + link("https://example.com/kept", "") + `]}`
		said := s.okCLI(t, in, "import", "--email", "cat@example.com", "--format", "json")
		if want := "imported 1 links into cat@example.com; skipped 2 already there or repeated, 0 invalid; created 2 tags\n"; said != want {
			t.Errorf("import said %q, want %q", said, want)
		}
		st := parseState(t, s.okCLI(t, "", "export", "--email", "cat@example.com", "--format", "json"))
		var names []string
		for _, tg := range st.Tags {
			names = append(names, tg.Name+"@"+tg.CreatedAt.Format("2006-01-02"))
		}
		if len(names) != 3 || names[0] != "fresh@2024-01-01" || !strings.HasPrefix(names[1], "new@") || names[1] == "new@2024-01-02" || !strings.HasPrefix(names[2], "old@") {
			t.Errorf("tags after the import = %v", names)
		}
		if st.Links[0].URL != "https://example.com/good" || st.Links[0].CreatedAt.Format("2006-01-02T15:04:05Z") != "2024-01-02T03:04:05Z" {
			t.Errorf("imported link = %+v, want its date kept and listed first", st.Links[0])
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestStateSchemaMatchesTheDocs checks that docs/import-export.md's description
// of the JSON export names every key the export writes, in the order it writes
// them.
func TestStateSchemaMatchesTheDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "import-export.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("<!-- json-export-schema -->"))
	if !ok {
		t.Fatal("docs/import-export.md has no <!-- json-export-schema --> example")
	}
	_, rest, _ = bytes.Cut(rest, []byte("```json\n"))
	example, _, _ := bytes.Cut(rest, []byte("```"))
	var st bookmarks.State
	dec := json.NewDecoder(bytes.NewReader(example))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("the documented example is not a State: %v", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(example) {
		t.Errorf("the documented example is not as the export writes it:\n%s\nwant\n%s", example, buf.String())
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/bookmarks"
	"linkapi/internal/linkapi"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "bookmarks", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const importMutation = `mutation($h: String!, $a: ID) { importBookmarks(html: $h, accountId: $a) { imported skipped invalid tagsCreated } }`

func importCounts(t *testing.T, d map[string]any) [4]float64 {
	t.Helper()
	r := get(t, d, "importBookmarks").(map[string]any)
	return [4]float64{r["imported"].(float64), r["skipped"].(float64), r["invalid"].(float64), r["tagsCreated"].(float64)}
}

func TestImportAndExportBookmarks(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		bobID := s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "reader@example.com", "reader-password", "links:read", "tags:read")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		reader := s.login(t, "reader@example.com", "reader-password")
		firefox := readTestdata(t, "firefox.html")

		// Refused imports change nothing.
		for name, c := range map[string]struct {
			token string
			vars  map[string]any
			want  string
		}{
			"anonymous":        {"", map[string]any{"h": firefox}, "UNAUTHENTICATED"},
			"read-only":        {reader, map[string]any{"h": firefox}, "FORBIDDEN"},
			"another account":  {ann, map[string]any{"h": firefox, "a": formatInt(bobID)}, "FORBIDDEN"},
			"export of bob's":  {ann, nil, "FORBIDDEN"},
			"reader exporting": {reader, nil, ""},
		} {
			q := importMutation
			if c.vars == nil {
				q = `query($a: ID) { exportBookmarks(accountId: $a) }`
				if name == "export of bob's" {
					c.vars = map[string]any{"a": formatInt(bobID)}
				}
			}
			if got := s.do(t, c.token, q, c.vars).Code(); got != c.want {
				t.Errorf("%s: got %q, want %q", name, got, c.want)
			}
		}
		if d := s.ok(t, ann, `{ links { totalCount } }`, nil); get(t, d, "links", "totalCount") != float64(0) {
			t.Fatalf("refused imports left links: %v", d)
		}

		// A Firefox export: its place: entry is invalid, the rest come in with tags
		// and their original dates.
		got := importCounts(t, s.ok(t, ann, importMutation, map[string]any{"h": firefox}))
		if got[0] != 8 || got[1] != 0 || got[2] != 1 {
			t.Errorf("first import: got imported/skipped/invalid %v, want 8/0/1", got[:3])
		}
		d := s.ok(t, ann, `{ links(search: "effective_go") { nodes { url title createdAt tags { name } } } }`, nil)
		if created := str(t, d, "links", "nodes", 0, "createdAt"); !strings.HasPrefix(created, "20") || strings.HasPrefix(created, time.Now().UTC().Format("2006-01-02")) {
			t.Errorf("createdAt = %s, want the file's ADD_DATE", created)
		}
		// The same file again adds nothing.
		got = importCounts(t, s.ok(t, ann, importMutation, map[string]any{"h": firefox}))
		if got[0] != 0 || got[1] != 8 || got[3] != 0 {
			t.Errorf("second import: got %v, want 0 imported, 8 skipped, 0 tags", got)
		}
		// Duplicates inside a file are skipped; broken HTML is read leniently.
		for _, f := range []string{"duplicates.html", "broken.html", "chrome.html", "pinboard.html", "linkding.html", "shaarli.html"} {
			s.ok(t, ann, importMutation, map[string]any{"h": readTestdata(t, f)})
		}

		// Export, then import into bob: the same URLs, titles and tags.
		exported := str(t, s.ok(t, ann, `{ exportBookmarks }`, nil), "exportBookmarks")
		marks, err := bookmarks.Parse(strings.NewReader(exported))
		if err != nil {
			t.Fatal(err)
		}
		total := get(t, s.ok(t, ann, `{ links { totalCount } }`, nil), "links", "totalCount").(float64)
		if float64(len(marks)) != total {
			t.Errorf("export holds %d bookmarks, want %v", len(marks), total)
		}
		got = importCounts(t, s.ok(t, bob, importMutation, map[string]any{"h": exported}))
		if got[0] != total || got[2] != 0 {
			t.Errorf("re-import of the export into bob: got %v, want %v imported, none invalid", got, total)
		}
		annSet, bobSet := linkSet(t, s, ann), linkSet(t, s, bob)
		if !slices.Equal(annSet, bobSet) {
			t.Errorf("after the round trip bob's links differ from ann's:\n%v\n%v", annSet, bobSet)
		}
	})
}

// linkSet lists an account's links as "url|title|tags" lines, sorted.
func linkSet(t *testing.T, s *testServer, token string) []string {
	t.Helper()
	var out []string
	after := any(nil)
	for {
		d := s.ok(t, token, `query($a: String) { links(first: 100, after: $a) { nodes { url title tags { name } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"a": after})
		for _, n := range get(t, d, "links", "nodes").([]any) {
			m := n.(map[string]any)
			var tags []string
			for _, tg := range m["tags"].([]any) {
				tags = append(tags, tg.(map[string]any)["name"].(string))
			}
			out = append(out, fmt.Sprintf("%v|%v|%s", m["url"], m["title"], strings.Join(tags, ",")))
		}
		if get(t, d, "links", "pageInfo", "hasNextPage") != true {
			break
		}
		after = get(t, d, "links", "pageInfo", "endCursor")
	}
	slices.Sort(out)
	return out
}

// TestImportExportCommands moves 5,000 links in through the CLI and out again.
func TestImportExportCommands(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ops@example.com", "ops-password", "links:write", "tags:write")
		var marks []bookmarks.Bookmark
		for i := 0; i < 5000; i++ {
			marks = append(marks, bookmarks.Bookmark{
				URL: fmt.Sprintf("https://example.com/%d", i), Title: fmt.Sprintf("Page %d", i),
				Tags: []string{fmt.Sprintf("t%d", i%50), "bulk"}, AddDate: time.Unix(1600000000+int64(i), 0),
			})
		}
		marks = append(marks, marks[10]) // a repeat
		var file bytes.Buffer
		if err := bookmarks.Write(&file, marks); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "in.html")
		if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		run := func(stdin string, args ...string) (string, error) {
			var out, errOut bytes.Buffer
			p := &Program{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
				Getenv: env(map[string]string{"LINKAPI_DATABASE_URL": s.DBURL, "LINKAPI_JWT_SECRET": testSecret})}
			err := p.Run(context.Background(), args)
			return out.String(), err
		}
		out, err := run("", "import", "--email", "ops@example.com", "--file", path)
		if err != nil {
			t.Fatal(err)
		}
		if want := "imported 5000 links into ops@example.com; skipped 1 already there or repeated, 0 invalid; created 51 tags"; strings.TrimSpace(out) != want {
			t.Errorf("import said %q, want %q", out, want)
		}
		out, err = run("", "export", "--email", "ops@example.com")
		if err != nil {
			t.Fatal(err)
		}
		back, err := bookmarks.Parse(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != 5000 {
			t.Fatalf("export has %d bookmarks, want 5000", len(back))
		}
		b := back[1234]
		if b.URL != "https://example.com/1234" || b.Title != "Page 1234" || !b.AddDate.Equal(time.Unix(1600001234, 0)) ||
			!slices.Equal(b.Tags, []string{"bulk", "t34"}) {
			t.Errorf("exported entry 1234 = %+v", b)
		}
		for _, args := range [][]string{
			{"import", "--email", "nobody@example.com"},
			{"import"},
			{"import", "--email", "ops@example.com", "--file", filepath.Join(t.TempDir(), "missing.html")},
			{"export", "--email", "nobody@example.com"},
		} {
			if _, err := run("", args...); err == nil {
				t.Errorf("%v: got success, want an error", args)
			}
		}
	})
}

// TestExportOverTheAPIIsBounded fills an account past MaxExportText: the API
// refuses its export with BAD_USER_INPUT and points to the command, which still
// writes every link; a smaller account exports as before.
func TestExportOverTheAPIIsBounded(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		long := strings.Repeat("a", linkapi.MaxURLLength-40)
		var in []linkapi.LinkImport
		for size := 0; size <= linkapi.MaxExportText; {
			u := fmt.Sprintf("https://example.com/%d/%s", len(in), long)
			size += len(u)
			in = append(in, linkapi.LinkImport{LinkCreate: linkapi.LinkCreate{URL: u}})
		}
		n := len(in) // the first n-1 are within the bound, all n past it
		sys := auth.NewContext(context.Background(), auth.System())
		if _, err := s.Store.ImportLinks(sys, &id, in[:n-1]); err != nil {
			t.Fatal(err)
		}
		if r := s.do(t, ann, `{ exportBookmarks }`, nil); r.Code() != "" {
			t.Fatalf("an export just under the bound: got %q (%.200s)", r.Code(), r.Raw)
		}
		if _, err := s.Store.ImportLinks(sys, &id, in[n-1:]); err != nil {
			t.Fatal(err)
		}
		r := s.do(t, ann, `{ exportBookmarks }`, nil)
		if r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "linkapi export") {
			t.Errorf("an export over the bound: got %q (%.200s), want BAD_USER_INPUT naming linkapi export", r.Code(), r.Raw)
		}
		out := okCLI(t, s.DBURL, "", "export", "--email", "ann@example.com")
		if got := strings.Count(out.Stdout, "<DT><A "); got != n {
			t.Errorf("linkapi export wrote %d links, want %d", got, n)
		}
	})
}

package bookmarks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// ts is an ADD_DATE as Parse returns it.
func ts(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func parseFile(t testing.TB, name string) []Bookmark {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bs, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return bs
}

func parseString(t testing.TB, s string) []Bookmark {
	t.Helper()
	bs, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return bs
}

// diffBookmarks reports the first difference between two lists, or "".
func diffBookmarks(got, want []Bookmark) string {
	var b strings.Builder
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			fmt.Fprintf(&b, "missing [%d]: %#v\n", i, want[i])
		case i >= len(want):
			fmt.Fprintf(&b, "extra [%d]: %#v\n", i, got[i])
		case !reflect.DeepEqual(got[i], want[i]):
			fmt.Fprintf(&b, "[%d]\n got: %#v\nwant: %#v\n", i, got[i], want[i])
		}
	}
	return b.String()
}

func TestParseTestdata(t *testing.T) {
	tests := []struct {
		file string
		want []Bookmark
	}{
		{"firefox.html", []Bookmark{
			{URL: "https://www.mozilla.org/en-US/firefox/central/", Title: "Getting Started", AddDate: ts(1693526400)},
			{URL: "https://go.dev/doc/effective_go", Title: "Effective Go - The Go Programming Language",
				Description: "Tips for writing clear, idiomatic Go code.",
				Tags:        []string{"go", "docs", "reading list"}, AddDate: ts(1694612345)},
			// The folder's own <DD> ("Add bookmarks to this folder…") belongs to nobody.
			{URL: "place:sort=8&maxResults=10", Title: "Most Visited", AddDate: ts(1693526400)},
			{URL: "https://www.google.com/search?q=netscape+bookmark+format&hl=en&num=20",
				Title: "netscape bookmark format - Google Search", Tags: []string{"search"}, AddDate: ts(1701388800)},
			{URL: "https://ja.wikipedia.org/wiki/%E6%97%A5%E6%9C%AC%E8%AA%9E", Title: "日本語 - Wikipedia",
				Description: "日本語の記事。 Ünïcödé & émoji 🦀 in a description.",
				Tags:        []string{"日本語", "wiki"}, AddDate: ts(1704067260)},
			{URL: "https://blog.rust-lang.org/", Title: "🦀 Rust Blog — “news” & releases",
				Tags: []string{"rust", "blog"}, AddDate: ts(1709251200)},
			{URL: "https://example.com/search?a=1&b=2&c=%3Cx%3E", Title: `Tom & Jerry <3 "quotes" 'single'`,
				Description: "Line one & <two>", AddDate: ts(1711929600)},
			{URL: "https://developer.mozilla.org/en-US/docs/Web/HTML", Title: "HTML: HyperText Markup Language | MDN",
				AddDate: ts(1714521600)},
			{URL: "https://news.ycombinator.com/", Title: "Hacker News", Tags: []string{"news", "hn"}, AddDate: ts(1716902400)},
		}},
		{"chrome.html", []Bookmark{
			{URL: "https://mail.google.com/mail/u/0/#inbox", Title: "Gmail", AddDate: ts(1672531260)},
			{URL: "https://github.com/golang/go/issues?q=is%3Aissue+is%3Aopen+label%3ANeedsFix", Title: "Issues · golang/go", AddDate: ts(1675209600)},
			{URL: "https://pkg.go.dev/golang.org/x/net/html", Title: "html package - golang.org/x/net/html - Go Packages", AddDate: ts(1677628860)},
			{URL: "https://www.postgresql.org/docs/current/index.html", Title: "PostgreSQL: Documentation", AddDate: ts(1680307200)},
			{URL: "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", Title: "Rick Astley - Never Gonna Give You Up (Official Music Video) - YouTube", AddDate: ts(1682899200)},
			{URL: "https://www.bbc.co.uk/news", Title: "Home - BBC News", AddDate: ts(1685577600)},
		}},
		{"pinboard.html", []Bookmark{
			{URL: "https://danluu.com/cocktail-ideas/", Title: "Some programming blogs to consider",
				Description: "A list of blogs worth reading, with notes on why.",
				Tags:        []string{"programming", "culture"}, AddDate: ts(1455560473), Unread: true},
			{URL: "https://jvns.ca/blog/2016/10/10/what-even-is-a-container/", Title: "What even is a container: namespaces and cgroups",
				Tags: []string{"containers", "linux", "zines"}, AddDate: ts(1476138010), Private: true},
			{URL: "https://www.example.org/a?x=1&y=2", Title: "Untagged & private=0",
				Description: `Quote: "less is more" — said someone <somewhere>.`, AddDate: ts(1500000000)},
			// Tags are case-sensitive; only the exact duplicate "kernel" goes.
			{URL: "https://lwn.net/Articles/1000000/", Title: "LWN: An article",
				Tags: []string{"kernel", "to read", "Kernel"}, AddDate: ts(1600000000)},
		}},
		{"linkding.html", []Bookmark{
			{URL: "https://github.com/sissbruecker/linkding", Title: "GitHub - sissbruecker/linkding: Self-hosted bookmark manager",
				Description: "Self-hosted bookmark manager that is designed be to be minimal, fast, and easy to set up using Docker.",
				Tags:        []string{"bookmarks", "self-hosted"}, AddDate: ts(1688169600)},
			{URL: "https://example.com/unread", Title: "Unread, private, no tags", AddDate: ts(1688256000), Unread: true, Private: true},
		}},
		{"shaarli.html", []Bookmark{
			{URL: "https://shaarli.readthedocs.io/", Title: "Shaarli documentation",
				Description: "The personal, minimalist, super-fast, database free, bookmarking service.\n\nMarkdown is **supported**:\n- one\n- two",
				Tags:        []string{"shaarli", "docs", "self-hosted"}, AddDate: ts(1717243200)},
			{URL: "?AbCdEf", Title: "A private note", Description: "Notes in Shaarli have a relative URL.",
				Tags: []string{"note"}, AddDate: ts(1717243300), Private: true},
		}},
		{"broken.html", []Bookmark{
			{URL: "https://unquoted.example/path?a=1&b=2", Title: "Unquoted attributes",
				Description: "description that is never closed", Tags: []string{"x", "y"}, AddDate: ts(1600000000)},
			{URL: "https://two.example/", Title: "Unclosed anchor"},
			// <a name=…> without HREF and HREF="" are skipped, with their <DD> and the stray text.
			{URL: "https://spaces.example/", Title: "Title with newlines"},
			{URL: "https://single.example/", Title: "single quotes",
				Description: "inline <b> desc & more © 2024", Tags: []string{"single"}},
			{URL: "https://nested.example/", Title: "Bold title second line"},
			{URL: "https://script.example/", Title: "About tags", Description: "not raw"},
			// The first of two HREFs wins; a millisecond ADD_DATE is understood.
			{URL: "https://after.example/", Title: "After too many closing tags", Tags: []string{"after"}, AddDate: ts(1700000000)},
			{URL: "https://eof.example/", Title: "no closing tags at the end of the file"},
		}},
		{"duplicates.html", []Bookmark{
			{URL: "https://go.dev/", Title: "The Go Programming Language", Tags: []string{"go"}, AddDate: ts(1600000001)},
			{URL: "https://go.dev/", Title: "Go", Description: "The same URL again, in another folder.",
				Tags: []string{"golang", "lang"}, AddDate: ts(1600000002)},
			{URL: "https://go.dev", Title: "Go without trailing slash", AddDate: ts(1600000003)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := parseFile(t, tt.file)
			if d := diffBookmarks(got, tt.want); d != "" {
				t.Errorf("Parse(%s):\n%s", tt.file, d)
			}
		})
	}
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Bookmark
	}{
		{"empty", "", nil},
		{"not html", `{"url": "https://example.com/"}`, nil},
		{"bare anchor", `<a href="https://a.example/">A</a>`, []Bookmark{{URL: "https://a.example/", Title: "A"}}},
		{"no title", `<DT><A HREF="https://a.example/"></A>`, []Bookmark{{URL: "https://a.example/"}}},
		{"state flags", `<DT><A HREF="https://a.example/" TOREAD="Yes" PRIVATE="true" ARCHIVED="1" FAVORITE="1" TOREAD="0">A</A>
<DT><A HREF="https://b.example/" TOREAD="0" PRIVATE="no" ARCHIVED="" FAVORITE="2">B</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A", Unread: true, Private: true, Archived: true, Favorite: true},
				{URL: "https://b.example/", Title: "B"}}},
		{"linkding notes", `<DT><A HREF="https://a.example/">A</A><DD>desc [linkding-notes] line one
line two &amp; more [/linkding-notes]
<DT><A HREF="https://b.example/">B</A><DD>[linkding-notes]only notes
<DT><A HREF="https://c.example/">C</A><DD>before [linkding-notes]n[/linkding-notes] after`,
			[]Bookmark{{URL: "https://a.example/", Title: "A", Description: "desc", Notes: "line one\nline two & more"},
				{URL: "https://b.example/", Title: "B", Notes: "only notes"},
				{URL: "https://c.example/", Title: "C", Description: "before  after", Notes: "n"}}},
		{"self-closing anchor", `<DT><A HREF="https://a.example/"/>Text<DT><A HREF="https://b.example/">B</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "Text"}, {URL: "https://b.example/", Title: "B"}}},
		{"whitespace href skipped", `<DT><A HREF="  ">x</A><DD>d<DT><A HREF="https://b.example/">B</A>`,
			[]Bookmark{{URL: "https://b.example/", Title: "B"}}},
		{"url tabs and newlines removed", "<A HREF=\"\n https://a.exa\tmple/p\r\nath \">A</A>",
			[]Bookmark{{URL: "https://a.example/path", Title: "A"}}},
		{"entities in url", `<A HREF="https://a.example/?q=a&amp;b=&lt;c&gt;&#x26;d&#38;e&quot;">A</A>`,
			[]Bookmark{{URL: `https://a.example/?q=a&b=<c>&d&e"`, Title: "A"}}},
		{"raw ampersand in url", `<A HREF="https://a.example/?a=1&b=2&copy=3">A</A>`,
			[]Bookmark{{URL: "https://a.example/?a=1&b=2&copy=3", Title: "A"}}},
		{"mixed case tags and attributes", `<dT><a HrEf="https://a.example/" tAgS="t" Add_Date="5">A</A><dD>D</Dd>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A", Description: "D", Tags: []string{"t"}, AddDate: ts(5)}}},
		{"anchor in anchor", `<DT><A HREF="https://a.example/">A<A HREF="https://b.example/">B</A></A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A"}, {URL: "https://b.example/", Title: "B"}}},
		{"dd before any bookmark", `<DL><DD>orphan<DT><A HREF="https://a.example/">A</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A"}}},
		{"folder description not attached", `<DT><A HREF="https://a.example/">A</A><DT><H3>F</H3><DD>folder<DL><p></DL>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A"}}},
		{"dd after end of list not attached", `<DL><DT><A HREF="https://a.example/">A</A></DL><DD>x`,
			[]Bookmark{{URL: "https://a.example/", Title: "A"}}},
		{"two dds kept", `<DT><A HREF="https://a.example/">A</A><DD>one<DD>two`,
			[]Bookmark{{URL: "https://a.example/", Title: "A", Description: "one\ntwo"}}},
		{"empty dd", `<DT><A HREF="https://a.example/">A</A><DD>   <DT><A HREF="https://b.example/">B</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A"}, {URL: "https://b.example/", Title: "B"}}},
		{"dd with markup and breaks", "<DT><A HREF=\"https://a.example/\">A</A><DD> <i>one</i><br>two\r\nthree\rfour \n",
			[]Bookmark{{URL: "https://a.example/", Title: "A", Description: "one\ntwo\nthree\nfour"}}},
		{"title whitespace", "<A HREF=\"https://a.example/\">\n\t a \u00a0 b\r\n</A>",
			[]Bookmark{{URL: "https://a.example/", Title: "a b"}}},
		{"comment inside title", `<A HREF="https://a.example/">a<!-- c -->b</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "ab"}}},
		{"tags normalised", `<A HREF="https://a.example/" TAGS=" b , a,,b,  to   read ,a , ,">A</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A", Tags: []string{"b", "a", "to read"}}}},
		{"only commas", `<A HREF="https://a.example/" TAGS=" , ,">A</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A"}}},
		{"duplicate attributes first wins", `<A HREF="https://a.example/" TAGS="x" ADD_DATE="7" href="https://b.example/" tags="y" add_date="8">A</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "A", Tags: []string{"x"}, AddDate: ts(7)}}},
		{"invalid utf-8 and nul", "<A HREF=\"https://a.example/\xff\" TAGS=\"t\xfe\">a\x00b\xffc</A><DD>d\x00\xff",
			[]Bookmark{{URL: "https://a.example/\uFFFD", Title: "ab\uFFFDc", Description: "d\uFFFD", Tags: []string{"t\uFFFD"}}}},
		{"script does not swallow", `<A HREF="https://a.example/">x <script>y<A HREF="https://b.example/">B</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "x y"}, {URL: "https://b.example/", Title: "B"}}},
		{"plaintext does not swallow", `<A HREF="https://a.example/"><plaintext>x</A><A HREF="https://b.example/">B</A>`,
			[]Bookmark{{URL: "https://a.example/", Title: "x"}, {URL: "https://b.example/", Title: "B"}}},
		{"unterminated attribute", `<A HREF="https://a.example/">A</A><A HREF="https://b.example/`,
			[]Bookmark{{URL: "https://a.example/", Title: "A"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseString(t, tt.in)
			if d := diffBookmarks(got, tt.want); d != "" {
				t.Errorf("Parse(%q):\n%s", tt.in, d)
			}
		})
	}
}

func TestParseAddDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"1700000000", ts(1700000000)},
		{" 1700000000 ", ts(1700000000)},
		{"+1700000000", ts(1700000000)},
		{"1", ts(1)},
		{"99999999999", ts(99999999999)},        // still seconds: year 5138
		{"253402300799", ts(253402300799)},      // still seconds: the end of year 9999
		{"253402300800", ts(253402300)},         // milliseconds from here on
		{"1700000000123", ts(1700000000)},       // milliseconds
		{"1700000000123456", ts(1700000000)},    // microseconds (Firefox's internal unit)
		{"1700000000123456789", ts(1700000000)}, // nanoseconds
		{"", time.Time{}},
		{"0", time.Time{}},
		{"-1700000000", time.Time{}},
		{"1700000000.5", time.Time{}},
		{"2023-11-14", time.Time{}},
		{"0x10", time.Time{}},
		{"99999999999999999999", time.Time{}}, // overflows int64
		{"abc", time.Time{}},
	}
	for _, tt := range tests {
		in := `<A HREF="https://a.example/" ADD_DATE="` + tt.in + `">A</A>`
		got := parseString(t, in)
		if len(got) != 1 {
			t.Fatalf("ADD_DATE=%q: %d bookmarks", tt.in, len(got))
		}
		if !reflect.DeepEqual(got[0].AddDate, tt.want) {
			t.Errorf("ADD_DATE=%q: got %v, want %v", tt.in, got[0].AddDate, tt.want)
		}
	}
}

// generate writes a Firefox-style file with n bookmarks in nested folders
// of 100.
func generate(n int) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			if i > 0 {
				b.WriteString("    </DL><p>\n")
			}
			fmt.Fprintf(&b, "    <DT><H3 ADD_DATE=\"1600000000\" LAST_MODIFIED=\"1600000000\">Folder %d</H3>\n    <DD>About folder %d\n    <DL><p>\n", i/100, i/100)
		}
		fmt.Fprintf(&b, "        <DT><A HREF=\"https://example.com/%d?a=1&amp;b=%d\" ADD_DATE=\"%d\" LAST_MODIFIED=\"1700000000\" ICON=\"data:image/png;base64,iVBORw0KGgo=\"", i, i, 1600000000+i)
		if i%3 != 0 {
			fmt.Fprintf(&b, " TAGS=\"tag%d,common\"", i%7)
		}
		fmt.Fprintf(&b, ">Bookmark &lt;%d&gt; — ünïcode</A>\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "        <DD>Description of %d &amp; more\n", i)
		}
	}
	b.WriteString("    </DL><p>\n</DL><p>\n")
	return b.Bytes()
}

func TestParse5000(t *testing.T) {
	const n = 5000
	got, err := Parse(bytes.NewReader(generate(n)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d bookmarks, want %d", len(got), n)
	}
	for i, b := range got {
		want := Bookmark{
			URL:     fmt.Sprintf("https://example.com/%d?a=1&b=%d", i, i),
			Title:   fmt.Sprintf("Bookmark <%d> — ünïcode", i),
			AddDate: ts(int64(1600000000 + i)),
		}
		if i%3 != 0 {
			want.Tags = []string{fmt.Sprintf("tag%d", i%7), "common"}
		}
		if i%2 == 0 {
			want.Description = fmt.Sprintf("Description of %d & more", i)
		}
		if !reflect.DeepEqual(b, want) {
			t.Fatalf("[%d]\n got: %#v\nwant: %#v", i, b, want)
		}
	}
}

func TestWriteFormat(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []Bookmark{
		{URL: "https://a.example/?x=1&y=<2>", Title: `A "quoted" <title> & 'more'`, Description: "line 1\nline 2 & <b>",
			Tags: []string{"go", " to read ", "", "a\"b"}, AddDate: time.Date(2023, 11, 14, 22, 13, 20, 999, time.FixedZone("X", 3600))},
		{URL: "https://b.example/", Title: "B"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file.
     It will be read and overwritten.
     DO NOT EDIT! -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
    <DT><A HREF="https://a.example/?x=1&amp;y=&lt;2&gt;" ADD_DATE="1699996400" TAGS="go,to read,a&#34;b">A &#34;quoted&#34; &lt;title&gt; &amp; &#39;more&#39;</A>
    <DD>line 1
line 2 &amp; &lt;b&gt;
    <DT><A HREF="https://b.example/">B</A>
</DL><p>
`
	if got := buf.String(); got != want {
		t.Errorf("Write:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n") || !strings.HasSuffix(buf.String(), "<DL><p>\n</DL><p>\n") {
		t.Errorf("Write(nil) = %q", buf.String())
	}
	if got := parseString(t, buf.String()); len(got) != 0 {
		t.Errorf("Parse(Write(nil)) = %v", got)
	}
}

func TestWriteErrors(t *testing.T) {
	for _, bs := range [][]Bookmark{
		{{URL: "https://a.example/"}, {URL: ""}},
		{{URL: " \t"}},
		{{URL: "https://a.example/", Tags: []string{"a,b"}}},
	} {
		var buf bytes.Buffer
		if err := Write(&buf, bs); err == nil {
			t.Errorf("Write(%v): no error", bs)
		}
		if buf.Len() != 0 {
			t.Errorf("Write(%v) wrote %d bytes before failing", bs, buf.Len())
		}
	}
	// A failing writer's error is returned.
	bs := []Bookmark{{URL: "https://a.example/"}}
	if err := Write(failWriter{}, bs); !errors.Is(err, errWrite) {
		t.Errorf("Write to failing writer: %v", err)
	}
}

var errWrite = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteDates(t *testing.T) {
	bs := []Bookmark{
		{URL: "https://zero.example/"},
		{URL: "https://before-1970.example/", AddDate: time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)},
		{URL: "https://epoch.example/", AddDate: time.Unix(0, 0)},
		{URL: "https://year-10000.example/", AddDate: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{URL: "https://local.example/", AddDate: time.Date(2024, 2, 29, 12, 0, 0, 500_000_000, time.FixedZone("CET", 3600))},
	}
	var buf bytes.Buffer
	if err := Write(&buf, bs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "ADD_DATE"); n != 1 {
		t.Errorf("%d ADD_DATE attributes, want 1:\n%s", n, buf.String())
	}
	got := parseString(t, buf.String())
	want := []Bookmark{
		{URL: "https://zero.example/"},
		{URL: "https://before-1970.example/"},
		{URL: "https://epoch.example/"},
		{URL: "https://year-10000.example/"},
		{URL: "https://local.example/", AddDate: time.Date(2024, 2, 29, 11, 0, 0, 0, time.UTC)},
	}
	if d := diffBookmarks(got, want); d != "" {
		t.Error(d)
	}
}

func TestRoundTrip(t *testing.T) {
	bs := []Bookmark{
		{URL: "https://a.example/?q=<script>&x=\"1\"&y='2'", Title: `<b>bold</b> & "quoted" 'single' > less <`,
			Description: "multi\nline\n\n  indented & <escaped> \"desc\" 'x'\n</DL><DT><A HREF=\"https://evil.example/\">",
			Tags:        []string{"to read", "c++", "<tag>", "a&b", `"q"`, "日本語"}, AddDate: ts(1700000000)},
		{URL: "https://b.example/&amp;", Title: "&amp; &lt; already-escaped-looking text &#39;", Description: "&copy; &nbsp;"},
		{URL: "javascript:alert(%22hi%22)", Title: "bookmarklet", Tags: []string{"tool"}},
		{URL: "https://b.example/&amp;", Title: "duplicate URL", AddDate: ts(1)},
		{URL: "https://c.example/", Title: "", Description: "no title"},
		{URL: "https://e.example/", Title: "read later", Description: "the description", Notes: "my notes\non two lines & <b>",
			Unread: true, Private: true, Archived: true, Favorite: true},
		{URL: "https://f.example/", Notes: "notes alone", Favorite: true},
		{URL: "https://g.example/", Description: "a [linkding-notes] marker in the text", Notes: "and notes"},
		{URL: "https://d.example/", Title: "🦀 emoji ü", AddDate: ts(maxUnix)},
	}
	var buf bytes.Buffer
	if err := Write(&buf, bs); err != nil {
		t.Fatal(err)
	}
	got := parseString(t, buf.String())
	if d := diffBookmarks(got, bs); d != "" {
		t.Errorf("round trip:\n%s\nfile:\n%s", d, buf.String())
	}
}

// Every test file survives Write→Parse unchanged.
func TestRoundTripTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		bs := parseFile(t, name)
		var buf bytes.Buffer
		if err := Write(&buf, bs); err != nil {
			t.Fatalf("%s: Write: %v", name, err)
		}
		if d := diffBookmarks(parseString(t, buf.String()), bs); d != "" {
			t.Errorf("%s: round trip:\n%s", name, d)
		}
	}
}

// spaces yields n bytes of spaces without holding them.
type spaces struct{ n int64 }

func (s *spaces) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	for i := range p {
		p[i] = ' '
	}
	s.n -= int64(len(p))
	return len(p), nil
}

func TestParseSizeLimit(t *testing.T) {
	a := `<DT><A HREF="https://a.example/">A</A>`
	// Exactly MaxFileBytes is accepted.
	r := io.MultiReader(strings.NewReader(a), &spaces{MaxFileBytes - int64(len(a))})
	bs, err := Parse(r)
	if err != nil || len(bs) != 1 {
		t.Fatalf("Parse(%d bytes) = %d bookmarks, %v", MaxFileBytes, len(bs), err)
	}
	// One byte more is refused.
	r = io.MultiReader(strings.NewReader(a), &spaces{MaxFileBytes - int64(len(a)) + 1})
	bs, err = Parse(r)
	if !errors.Is(err, ErrTooLarge) || bs != nil {
		t.Fatalf("Parse(%d bytes) = %d bookmarks, %v; want ErrTooLarge", MaxFileBytes+1, len(bs), err)
	}
}

func TestParseCountLimit(t *testing.T) {
	entries := func(n int) io.Reader {
		var b bytes.Buffer
		b.WriteString(header)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "<DT><A HREF=\"https://e.example/%d\">%d</A>\n", i, i)
		}
		return &b
	}
	bs, err := Parse(entries(MaxBookmarks))
	if err != nil || len(bs) != MaxBookmarks {
		t.Fatalf("Parse(%d entries) = %d bookmarks, %v", MaxBookmarks, len(bs), err)
	}
	if last := bs[len(bs)-1]; last.URL != fmt.Sprintf("https://e.example/%d", MaxBookmarks-1) {
		t.Errorf("last bookmark %+v", last)
	}
	bs, err = Parse(entries(MaxBookmarks + 1))
	if !errors.Is(err, ErrTooManyBookmarks) || bs != nil {
		t.Fatalf("Parse(%d entries) = %d bookmarks, %v; want ErrTooManyBookmarks", MaxBookmarks+1, len(bs), err)
	}
	// Entries without HREF do not count.
	var b bytes.Buffer
	for i := 0; i < MaxBookmarks+10; i++ {
		b.WriteString("<DT><A>x</A>")
	}
	b.WriteString(`<DT><A HREF="https://a.example/">A</A>`)
	if bs, err := Parse(&b); err != nil || len(bs) != 1 {
		t.Errorf("Parse(many entries without HREF) = %d bookmarks, %v", len(bs), err)
	}
}

// adversarialSize is the size of each hostile input: large enough that a
// quadratic step (tag deduplication, repeated <DD>s, ...) would not finish within
// the test binary's timeout, small enough to keep the suite quick. Speed itself is
// measured by BenchmarkParseAdversarial, not asserted here.
const adversarialSize = 4 << 20

// TestParseAdversarial feeds hostile inputs and checks what comes out.
func TestParseAdversarial(t *testing.T) {
	for _, tt := range adversarialCases(adversarialSize) {
		bs, err := Parse(strings.NewReader(tt.in))
		switch {
		case tt.want < 0 && !errors.Is(err, ErrTooManyBookmarks):
			t.Errorf("%s: got %d bookmarks, %v; want ErrTooManyBookmarks", tt.name, len(bs), err)
		case tt.want >= 0 && (err != nil || len(bs) != tt.want):
			t.Errorf("%s: got %d bookmarks, %v; want %d", tt.name, len(bs), err, tt.want)
		}
	}
}

// BenchmarkParseAdversarial parses hostile inputs of nearly MaxFileBytes.
func BenchmarkParseAdversarial(b *testing.B) {
	for _, tt := range adversarialCases(MaxFileBytes - 1<<20) {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(tt.in)))
			for b.Loop() {
				_, _ = Parse(strings.NewReader(tt.in))
			}
		})
	}
}

type adversarialCase struct {
	name, in string
	want     int // bookmarks; -1 for ErrTooManyBookmarks
}

func adversarialCases(size int) []adversarialCase {
	fill := func(prefix, unit, suffix string) string {
		return prefix + strings.Repeat(unit, (size-len(prefix)-len(suffix))/len(unit)) + suffix
	}
	var tags strings.Builder
	tags.WriteString(`<A HREF="https://a.example/" TAGS="`)
	for i := 0; tags.Len() < size; i++ {
		fmt.Fprintf(&tags, "t%d,", i)
	}
	tags.WriteString(`">x</A>`)
	a := `<DT><A HREF="https://a.example/">x</A>`
	return []adversarialCase{
		{"distinct tags", tags.String(), 1},
		{"same tag", fill(`<A HREF="https://a.example/" TAGS="`, "t,", `">x</A>`), 1},
		{"closed dds", fill(a, "<DD>x</DD>", ""), 1},
		{"open dds", fill(a, "<DD>x", ""), 1},
		{"attributes", fill(`<A HREF="https://a.example/" `, `x="y" `, ">x</A>"), 1},
		{"nested folders", fill("", "<DL><p><DT><H3>f</H3>", ""), 0},
		{"long title", fill(`<A HREF="https://a.example/">`, "word ", ""), 1},
		{"long url", fill(`<A HREF="https://a.example/`, "aaaa", `">x</A>`), 1},
		{"entities", fill(`<A HREF="https://a.example/">`, "&amp;&#x1F980;&", ""), 1},
		{"less-than signs", fill("", "<", ""), 0},
		{"comment", fill("<!--", "-", ""), 0},
		{"many bookmarks", fill("", "<A HREF=x>", ""), -1},
	}
}

func TestParseReadError(t *testing.T) {
	errRead := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(`<A HREF="https://a.example/">A</A>`), iotest.ErrReader(errRead))
	bs, err := Parse(r)
	if !errors.Is(err, errRead) || bs != nil {
		t.Errorf("Parse = %v, %v; want the read error", bs, err)
	}
}

// checkNormalised reports how a bookmark returned by Parse breaks the
// normalisation the package documents.
func checkNormalised(b Bookmark) error {
	for _, s := range append([]string{b.URL, b.Title, b.Description, b.Notes}, b.Tags...) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return fmt.Errorf("invalid UTF-8 or NUL in %q", s)
		}
	}
	switch {
	case b.URL == "" || strings.ContainsAny(b.URL, "\t\r\n"):
		return fmt.Errorf("URL %q", b.URL)
	case strings.TrimFunc(b.URL, func(r rune) bool { return r <= ' ' }) != b.URL:
		return fmt.Errorf("URL %q not trimmed", b.URL)
	case strings.Join(strings.Fields(b.Title), " ") != b.Title:
		return fmt.Errorf("title %q not collapsed", b.Title)
	case strings.TrimSpace(b.Description) != b.Description || strings.Contains(b.Description, "\r"):
		return fmt.Errorf("description %q not normalised", b.Description)
	case strings.TrimSpace(b.Notes) != b.Notes || strings.Contains(b.Notes, "\r") || strings.Contains(b.Notes, notesEnd):
		return fmt.Errorf("notes %q not normalised", b.Notes)
	case b.Tags != nil && len(b.Tags) == 0:
		return fmt.Errorf("empty non-nil tags")
	}
	seen := map[string]bool{}
	for _, t := range b.Tags {
		if t == "" || seen[t] || strings.Contains(t, ",") || strings.Join(strings.Fields(t), " ") != t {
			return fmt.Errorf("tags %q", b.Tags)
		}
		seen[t] = true
	}
	if !b.AddDate.IsZero() {
		if b.AddDate.Location() != time.UTC || b.AddDate.Nanosecond() != 0 || b.AddDate.Unix() <= 0 || b.AddDate.Unix() > maxUnix {
			return fmt.Errorf("AddDate %v", b.AddDate)
		}
	}
	return nil
}

func TestParsedTestdataNormalised(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.html")
	for _, f := range files {
		for i, b := range parseFile(t, filepath.Base(f)) {
			if err := checkNormalised(b); err != nil {
				t.Errorf("%s [%d]: %v", f, i, err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.html")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`<DT><A HREF="https://a.example/" TAGS="a, b,a" ADD_DATE="1700000000123">x &amp; y</A><DD>d`))
	f.Add([]byte("<a href=\"\xff\x00\">\x00<br><script>x</A><dd>\r\n&#13;&#0;"))
	f.Add([]byte(`<DL><DT><H3>F</H3><DD>folder<DL><DT><A HREF=x>t</DL></DL></DL><DD>y`))
	f.Add([]byte(`<DT><A HREF="https://a.example/" TOREAD="yes" PRIVATE=1 ARCHIVED="0">x</A><DD>a[linkding-notes]b[/linkding-notes]c[linkding-notes] d`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Parse: %v", err) // inputs are far below the limits
		}
		for i, b := range bs {
			if err := checkNormalised(b); err != nil {
				t.Fatalf("[%d]: %v", i, err)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, bs); err != nil {
			t.Fatalf("Write: %v", err)
		}
		again, err := Parse(&buf)
		if err != nil {
			t.Fatalf("Parse(Write): %v", err)
		}
		if d := diffBookmarks(again, bs); d != "" {
			t.Fatalf("round trip:\n%s", d)
		}
	})
}

func BenchmarkParse5000(b *testing.B) {
	data := generate(5000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		bs, err := Parse(bytes.NewReader(data))
		if err != nil || len(bs) != 5000 {
			b.Fatalf("Parse = %d, %v", len(bs), err)
		}
	}
}

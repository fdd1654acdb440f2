package pagemeta_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"linkapi/internal/linkapi"
	"linkapi/internal/pagemeta"
)

// FuzzParse: whatever the page, Parse returns valid, capped text without control
// characters and URLs a link could hold, and always a favicon.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		`<!doctype html><html><head><title>T</title><meta property="og:title" content="O"><meta name=description content="D">` +
			`<meta property=og:image content="/i.png"><link rel="shortcut icon" href="f.ico"><base href="https://cdn.example.com/x/"></head><body>`,
		`<meta name=twitter:title content="&amp;&#0;&#x1F600;"><link rel=apple-touch-icon href="//h/a.png"><title>a<b>c</title>`,
		`<base href="javascript:alert(1)"><link rel=icon href="http://u:p@h/"><meta property=og:image content="data:,x">`,
		"<title>\x00\x01\xff\xfe</title><meta name=description content=\"" + strings.Repeat("é ", 5000) + "\">",
		`<svg><title>x</title></svg><meta property=og:image content="http://[::1]:80/a"><link rel=icon href="http://%zz/">`,
		`<head><noscript><title>n</title></noscript><script><title>s</title></script><base href="/p/"><link rel=icon href="?q#f">`,
	} {
		f.Add(seed)
	}
	base, _ := url.Parse("https://example.com/dir/page?x=1")
	f.Fuzz(func(t *testing.T, doc string) {
		p := pagemeta.Parse(strings.NewReader(doc), base)
		for _, c := range []struct {
			name string
			s    string
			max  int
		}{{"title", p.Title, pagemeta.MaxTitleLength}, {"description", p.Description, pagemeta.MaxDescriptionLength}} {
			if !utf8.ValidString(c.s) || utf8.RuneCountInString(c.s) > c.max || strings.IndexFunc(c.s, unicode.IsControl) >= 0 {
				t.Fatalf("%s %q: invalid, control characters or over %d characters", c.name, c.s, c.max)
			}
			if c.s != strings.TrimSpace(c.s) || strings.Contains(c.s, "  ") {
				t.Fatalf("%s %q: white space not collapsed", c.name, c.s)
			}
		}
		if p.FaviconURL == "" {
			t.Fatal("no favicon")
		}
		for _, u := range []string{p.FaviconURL, p.PreviewImageURL} {
			if u == "" {
				continue
			}
			if err := linkapi.ValidateURL(u); err != nil {
				t.Fatalf("URL %q: %v", u, err)
			}
			if parsed, _ := url.Parse(u); parsed == nil || parsed.User != nil {
				t.Fatalf("URL %q carries credentials", u)
			}
		}
	})
}

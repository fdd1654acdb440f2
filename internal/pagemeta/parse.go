package pagemeta

import (
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"linkapi/internal/linkapi"
)

// Page is what a page says about itself. Every field may be empty except
// FaviconURL, which falls back to /favicon.ico on the page's origin. The URLs are
// absolute http or https URLs of at most linkapi.MaxURLLength bytes.
type Page struct {
	Title           string
	Description     string
	FaviconURL      string
	PreviewImageURL string
	// FinalURL is the URL the page was read from, after redirects.
	FinalURL string
}

// Text caps, in characters: those of a link's title and description.
const (
	MaxTitleLength       = linkapi.MaxTitleLength
	MaxDescriptionLength = linkapi.MaxDescriptionLength
)

// candidates collects every source of each field; the first non-empty one by
// preference wins.
type candidates struct {
	ogTitle, twitterTitle, title                 string
	ogDescription, twitterDescription, metaDesc  string
	ogImage, twitterImage                        string
	icon, appleTouchIcon                         string
	base                                         string
	haveTitle, haveBase, haveIcon, haveAppleIcon bool
}

// Parse reads HTML, already decoded to UTF-8, and returns its metadata, the
// relative URLs in it resolved against pageURL (or the document's first
// <base href>). It reads the head only: it stops at </head> or at the body's
// first tag. Title prefers og:title, then twitter:title, then <title>;
// Description og:description, twitter:description, then <meta name=description>;
// PreviewImageURL og:image (og:image:url, og:image:secure_url), then
// twitter:image (twitter:image:src); FaviconURL the first <link rel=icon> (or
// "shortcut icon"), then apple-touch-icon, then /favicon.ico. Parse never fails:
// what it cannot read it leaves empty.
func Parse(r io.Reader, pageURL *url.URL) Page {
	var c candidates
	z := html.NewTokenizer(r)
	z.SetMaxBuf(64 << 10) // one token of at most 64 KiB; a longer one ends the parse
	inTitle := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return c.page(pageURL)
		case html.TextToken:
			if inTitle && !c.haveTitle {
				c.title += string(z.Text())
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Title:
				if inTitle {
					inTitle, c.haveTitle = false, true
				}
			case atom.Head:
				return c.page(pageURL)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Body:
				return c.page(pageURL)
			case atom.Title:
				inTitle = tt == html.StartTagToken && !c.haveTitle
			case atom.Meta, atom.Link, atom.Base:
				if hasAttr {
					c.element(a, attrs(z))
				}
			}
		}
	}
}

// attrs returns a tag's attributes by lower-case name, the first of each name.
func attrs(z *html.Tokenizer) map[string]string {
	m := map[string]string{}
	for {
		k, v, more := z.TagAttr()
		if _, seen := m[string(k)]; !seen {
			m[string(k)] = string(v)
		}
		if !more {
			return m
		}
	}
}

func (c *candidates) element(a atom.Atom, at map[string]string) {
	switch a {
	case atom.Base:
		if href, ok := at["href"]; ok && !c.haveBase {
			c.base, c.haveBase = href, true
		}
	case atom.Link:
		href := at["href"]
		if strings.TrimSpace(href) == "" {
			return
		}
		for _, rel := range strings.Fields(strings.ToLower(at["rel"])) {
			switch rel {
			case "icon":
				if !c.haveIcon {
					c.icon, c.haveIcon = href, true
				}
			case "apple-touch-icon", "apple-touch-icon-precomposed":
				if !c.haveAppleIcon {
					c.appleTouchIcon, c.haveAppleIcon = href, true
				}
			}
		}
	case atom.Meta:
		content, ok := at["content"]
		if !ok {
			return
		}
		// Open Graph says property=, Twitter name=; pages mix them up.
		for _, key := range []string{at["property"], at["name"]} {
			switch strings.ToLower(strings.TrimSpace(key)) {
			case "og:title":
				setFirst(&c.ogTitle, content)
			case "twitter:title":
				setFirst(&c.twitterTitle, content)
			case "og:description":
				setFirst(&c.ogDescription, content)
			case "twitter:description":
				setFirst(&c.twitterDescription, content)
			case "description":
				setFirst(&c.metaDesc, content)
			case "og:image", "og:image:url", "og:image:secure_url":
				setFirst(&c.ogImage, content)
			case "twitter:image", "twitter:image:src":
				setFirst(&c.twitterImage, content)
			}
		}
	}
}

// setFirst keeps the first non-blank value of a field.
func setFirst(dst *string, v string) {
	if *dst == "" && strings.TrimSpace(v) != "" {
		*dst = v
	}
}

func (c *candidates) page(pageURL *url.URL) Page {
	base := pageURL
	if c.haveBase && pageURL != nil {
		if b := resolve(pageURL, c.base); b != nil {
			base = b
		}
	}
	p := Page{
		Title:           firstText(MaxTitleLength, c.ogTitle, c.twitterTitle, c.title),
		Description:     firstText(MaxDescriptionLength, c.ogDescription, c.twitterDescription, c.metaDesc),
		PreviewImageURL: firstURL(base, c.ogImage, c.twitterImage),
		FaviconURL:      firstURL(base, c.icon, c.appleTouchIcon),
	}
	if p.FaviconURL == "" && pageURL != nil {
		p.FaviconURL = firstURL(pageURL, "/favicon.ico")
	}
	if pageURL != nil {
		p.FinalURL = pageURL.String()
	}
	return p
}

func firstText(max int, vs ...string) string {
	for _, v := range vs {
		if s := cleanText(v, max); s != "" {
			return s
		}
	}
	return ""
}

func firstURL(base *url.URL, refs ...string) string {
	if base == nil {
		return ""
	}
	for _, ref := range refs {
		if u := resolve(base, ref); u != nil {
			if s := u.String(); len(s) <= linkapi.MaxURLLength {
				return s
			}
		}
	}
	return ""
}

// resolve returns ref resolved against base when the result is an http or https
// URL with a host and no credentials, nil otherwise (data:, javascript:, ...).
func resolve(base *url.URL, ref string) *url.URL {
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(ref) // as browsers do
	if ref == "" || len(ref) > linkapi.MaxURLLength {
		return nil
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	u := base.ResolveReference(r)
	u.Fragment, u.RawFragment = "", ""
	if u.User != nil || linkapi.ValidateURL(u.String()) != nil {
		return nil
	}
	return u
}

// cleanText makes s valid UTF-8 without control characters or NUL, collapses
// white space to single spaces, trims it, and cuts it to at most max characters,
// the last one an ellipsis when it was cut.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == '\uFEFF':
			space = b.Len() > 0
			continue
		case unicode.IsControl(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
		if n > max {
			break
		}
	}
	out := b.String()
	if utf8.RuneCountInString(out) > max {
		rs := []rune(out)[:max-1]
		out = strings.TrimRightFunc(string(rs), unicode.IsSpace) + "…"
	}
	return out
}

// Package bookmarks reads and writes the Netscape bookmark file format
// (NETSCAPE-Bookmark-file-1), the HTML dialect that browsers, Pinboard,
// linkding, Shaarli and most bookmark services use to import and export
// bookmarks.
//
// The package knows nothing about accounts, stores or validation rules: Parse
// turns a file into a flat list of [Bookmark] values in file order, and Write
// turns such a list back into a file. Deduplication, URL validation and
// length limits are the caller's job.
//
// # Normalisation
//
// Parse returns values in a normalised form, and that form survives a
// Write→Parse round trip unchanged:
//
//   - All strings are valid UTF-8 (invalid bytes become U+FFFD) and contain no
//     NUL characters.
//   - URL: entities decoded; ASCII tab, CR and LF removed anywhere, and leading
//     and trailing spaces and control characters removed (as browsers do).
//     Entries whose URL is then empty are skipped. The URL is not otherwise
//     checked: javascript:, place: (Firefox smart folders), file: and relative
//     URLs are returned as they are.
//   - Title: runs of white space collapsed to one space, trimmed.
//   - Description: CR LF and CR turned into LF, trimmed; inner line breaks
//     are kept.
//   - Tags: split on commas, white space collapsed and trimmed, empty tags
//     dropped, exact duplicates (case-sensitive) dropped keeping the first;
//     nil when there are none. Folder names never become tags.
//   - Notes: the text between [linkding-notes] and [/linkding-notes] in the
//     <DD>, as linkding writes notes beside the description, cleaned as the
//     description is; the description is what remains around it.
//   - Unread, Private, Archived, Favorite: from TOREAD, PRIVATE, ARCHIVED and
//     FAVORITE; "1", "yes" and "true" (in any case) are true, anything else
//     false.
//   - AddDate: UTC, whole seconds; the zero time when ADD_DATE is absent,
//     not a positive integer, or out of range. Values too large to be seconds
//     before the year 10000 are read as milliseconds, microseconds or
//     nanoseconds, which some exporters write.
package bookmarks

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
)

// Limits on what Parse accepts.
const (
	// MaxFileBytes is the largest input Parse reads.
	MaxFileBytes = 20 << 20
	// MaxBookmarks is the largest number of bookmarks Parse returns.
	MaxBookmarks = 100000
)

var (
	// ErrTooLarge is returned (wrapped) by Parse when the input is larger than
	// MaxFileBytes.
	ErrTooLarge = errors.New("bookmarks: file too large")
	// ErrTooManyBookmarks is returned (wrapped) by Parse when the input holds
	// more than MaxBookmarks bookmarks.
	ErrTooManyBookmarks = errors.New("bookmarks: too many bookmarks")
)

// Bookmark is one entry of a bookmark file.
type Bookmark struct {
	URL         string
	Title       string
	Description string    // from the <DD> that follows the <DT><A>
	Notes       string    // from [linkding-notes]...[/linkding-notes] in that <DD>
	Tags        []string  // from TAGS="a,b"; folder names are not tags
	AddDate     time.Time // from ADD_DATE (unix seconds); zero when absent or bad
	Unread      bool      // TOREAD, as Pinboard and linkding write it
	Private     bool      // PRIVATE: not shared, on services that share bookmarks
	Archived    bool      // ARCHIVED
	Favorite    bool      // FAVORITE
}

// Markers of the notes in a <DD>, as linkding writes them.
const (
	notesStart = "[linkding-notes]"
	notesEnd   = "[/linkding-notes]"
)

// splitNotes takes the notes out of a cleaned description: after the last
// notesStart (Write puts the notes last), up to the notesEnd that follows.
func splitNotes(desc string) (description, notes string) {
	start := strings.LastIndex(desc, notesStart)
	if start < 0 {
		return desc, ""
	}
	rest := desc[start+len(notesStart):]
	end := strings.Index(rest, notesEnd)
	if end < 0 {
		end = len(rest)
	}
	notes = strings.TrimSpace(rest[:end])
	after := ""
	if end < len(rest) {
		after = rest[end+len(notesEnd):]
	}
	return strings.TrimSpace(desc[:start] + after), notes
}

// flag reads a boolean attribute such as TOREAD="1".
func flag(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true":
		return true
	}
	return false
}

// parser state: where text tokens go.
const (
	stateNone  = iota // text is ignored
	stateTitle        // text belongs to the title of bookmarks[cur]
	stateDesc         // text belongs to the description of bookmarks[cur]
)

// Parse reads a Netscape bookmark file leniently and returns its bookmarks in
// file order. Broken HTML (unclosed or mismatched tags, stray text, mixed
// case), nested folders, missing DD or TAGS, unknown attributes and entities
// are all handled; <A> elements without a usable HREF are skipped. Duplicate
// URLs are all returned.
//
// Parse refuses input over MaxFileBytes with an error wrapping ErrTooLarge
// and stops with an error wrapping ErrTooManyBookmarks when the file holds
// more than MaxBookmarks entries; on any error it returns no bookmarks.
func Parse(r io.Reader) ([]Bookmark, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bookmarks: read: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxFileBytes)
	}

	p := parser{cur: -1, last: -1}
	z := xhtml.NewTokenizer(bytes.NewReader(data))
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			p.finish()
			p.setLast(-1)
			if err := z.Err(); err != io.EOF {
				// Cannot happen with a bytes.Reader, but do not lose it.
				return nil, fmt.Errorf("bookmarks: %w", err)
			}
			return p.out, nil
		case xhtml.TextToken:
			if p.state != stateNone {
				p.buf.Write(z.Text())
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			// A bookmark file is not a real HTML document: never let a stray
			// <script>, <style>, <textarea> or <plaintext> swallow the rest.
			if tt == xhtml.StartTagToken {
				z.NextIsNotRawText()
			}
			name, hasAttr := z.TagName()
			if err := p.startTag(z, string(name), hasAttr); err != nil {
				return nil, err
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			p.endTag(string(name))
		}
	}
}

type parser struct {
	out   []Bookmark
	state int
	cur   int          // index in out of the bookmark that text goes to
	last  int          // index in out of the bookmark that a following <DD> describes, or -1
	buf   bytes.Buffer // text of the title or description being read
	desc  bytes.Buffer // description of out[last] so far, from one or more <DD>s
}

// setLast makes i (or -1 for none) the bookmark that a following <DD>
// describes, storing the description collected for the previous one.
// Descriptions are collected apart so that many <DD>s cost linear time.
func (p *parser) setLast(i int) {
	if p.last >= 0 && p.desc.Len() > 0 {
		b := &p.out[p.last]
		b.Description, b.Notes = splitNotes(p.desc.String())
	}
	p.desc.Reset()
	p.last = i
}

// finish ends the title or description being collected, if any.
func (p *parser) finish() {
	switch p.state {
	case stateTitle:
		p.out[p.cur].Title = cleanTitle(p.buf.String())
	case stateDesc:
		if d := cleanDescription(p.buf.String()); d != "" {
			if p.desc.Len() > 0 { // a second <DD> for the same entry: keep both
				p.desc.WriteByte('\n')
			}
			p.desc.WriteString(d)
		}
	}
	p.state = stateNone
	p.buf.Reset()
}

func (p *parser) startTag(z *xhtml.Tokenizer, name string, hasAttr bool) error {
	switch name {
	case "a":
		p.finish()
		p.setLast(-1)
		var href, tags, addDate string
		var seenHref, seenTags, seenDate bool
		flags := map[string]bool{}
		seenFlag := map[string]bool{}
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			// As in HTML, the first of duplicated attributes wins.
			switch string(k) {
			case "href":
				if !seenHref {
					href, seenHref = string(v), true
				}
			case "tags":
				if !seenTags {
					tags, seenTags = string(v), true
				}
			case "add_date":
				if !seenDate {
					addDate, seenDate = string(v), true
				}
			case "toread", "private", "archived", "favorite":
				if !seenFlag[string(k)] {
					flags[string(k)], seenFlag[string(k)] = flag(string(v)), true
				}
			}
		}
		u := cleanURL(href)
		if u == "" {
			return nil // no HREF: skipped, and its text ignored
		}
		if len(p.out) >= MaxBookmarks {
			return fmt.Errorf("%w: more than %d", ErrTooManyBookmarks, MaxBookmarks)
		}
		p.out = append(p.out, Bookmark{URL: u, Tags: cleanTags(tags), AddDate: parseDate(addDate),
			Unread: flags["toread"], Private: flags["private"], Archived: flags["archived"], Favorite: flags["favorite"]})
		p.cur = len(p.out) - 1
		p.setLast(p.cur)
		p.state = stateTitle
	case "dd":
		p.finish()
		if p.last >= 0 {
			p.cur = p.last
			p.state = stateDesc
		}
	case "dt", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "title":
		// A new entry, folder or list: whatever was open is over, and a
		// later <DD> (such as a folder's description) is not ours.
		p.finish()
		p.setLast(-1)
	case "br":
		if p.state != stateNone {
			p.buf.WriteByte('\n')
		}
	}
	return nil
}

func (p *parser) endTag(name string) {
	switch name {
	case "a":
		if p.state == stateTitle {
			p.finish()
		}
	case "dd", "dt":
		p.finish()
	case "dl", "h1", "h2", "h3", "h4", "h5", "h6", "title":
		p.finish()
		p.setLast(-1)
	}
}

// cleanString makes s valid UTF-8 without NUL characters.
func cleanString(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func cleanURL(s string) string {
	s = cleanString(s)
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

func cleanTitle(s string) string {
	s = cleanString(s)
	if collapsed(s) {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// collapsed reports whether s has no leading or trailing white space and no
// white space but single spaces, that is whether strings.Fields would leave
// it as it is.
func collapsed(s string) bool {
	prevSpace := true // so that leading white space counts
	for _, r := range s {
		if unicode.IsSpace(r) {
			if r != ' ' || prevSpace {
				return false
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
}

func cleanDescription(s string) string {
	s = cleanString(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(s)
}

func cleanTags(s string) []string {
	var tags []string
	var seen map[string]bool
	for t := range strings.SplitSeq(s, ",") {
		t = cleanTitle(t)
		if t == "" || seen[t] {
			continue
		}
		if seen == nil {
			seen = make(map[string]bool)
		}
		seen[t] = true
		tags = append(tags, t)
	}
	return tags
}

// maxUnix is the last second of year 9999.
const maxUnix = 253402300799

// parseDate reads an ADD_DATE value. It is meant to be unix seconds, but
// values too large for that are taken as milliseconds, microseconds or
// nanoseconds. Anything else gives the zero time.
func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	// Seconds up to the year 9999; beyond that, the first finer unit that
	// fits. (Milliseconds before 1978 are misread as seconds, which is no
	// loss for bookmarks.)
	for _, div := range []int64{1, 1e3, 1e6, 1e9} {
		if sec := n / div; sec <= maxUnix {
			if sec <= 0 {
				return time.Time{}
			}
			return time.Unix(sec, 0).UTC()
		}
	}
	return time.Time{}
}

// Write writes bookmarks as a Netscape bookmark file that browsers and
// bookmark services import: the NETSCAPE-Bookmark-file-1 DOCTYPE, a UTF-8
// META, TITLE and H1 "Bookmarks", and one <DT><A HREF ADD_DATE TAGS> per
// bookmark, followed by a <DD> when the description or the notes are not
// empty, the notes between [linkding-notes] and [/linkding-notes] after the
// description, as linkding writes them. PRIVATE, TOREAD, ARCHIVED and FAVORITE
// are written as "1" when set and left out otherwise. All text is HTML-escaped. ADD_DATE is written in whole seconds, and omitted for a
// zero AddDate or one outside 1970-01-01T00:00:01Z to the end of year 9999.
// TAGS is omitted when there are no tags; tags are trimmed and empty ones
// left out.
//
// Write returns an error, before writing anything, when a bookmark has an
// empty URL or a tag containing a comma, since neither could be read back.
func Write(w io.Writer, bookmarks []Bookmark) error {
	for i, b := range bookmarks {
		if strings.TrimSpace(b.URL) == "" {
			return fmt.Errorf("bookmarks: bookmark %d: empty URL", i)
		}
		for _, t := range b.Tags {
			if strings.Contains(t, ",") {
				return fmt.Errorf("bookmarks: bookmark %d: tag %q contains a comma", i, t)
			}
		}
	}

	bw := bufio.NewWriter(w)
	bw.WriteString(header)
	var tags []string
	for _, b := range bookmarks {
		bw.WriteString("    <DT><A HREF=\"")
		bw.WriteString(html.EscapeString(b.URL))
		bw.WriteByte('"')
		if sec := b.AddDate.Unix(); sec > 0 && sec <= maxUnix {
			bw.WriteString(" ADD_DATE=\"")
			bw.WriteString(strconv.FormatInt(sec, 10))
			bw.WriteByte('"')
		}
		tags = tags[:0]
		for _, t := range b.Tags {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		for _, f := range []struct {
			name string
			on   bool
		}{{"PRIVATE", b.Private}, {"TOREAD", b.Unread}, {"ARCHIVED", b.Archived}, {"FAVORITE", b.Favorite}} {
			if f.on {
				bw.WriteString(" " + f.name + "=\"1\"")
			}
		}
		if len(tags) > 0 {
			bw.WriteString(" TAGS=\"")
			bw.WriteString(html.EscapeString(strings.Join(tags, ",")))
			bw.WriteByte('"')
		}
		bw.WriteByte('>')
		bw.WriteString(html.EscapeString(b.Title))
		bw.WriteString("</A>\n")
		if b.Description != "" || b.Notes != "" {
			bw.WriteString("    <DD>")
			bw.WriteString(html.EscapeString(b.Description))
			// A description that holds the notes marker itself gets an empty
			// notes block after it, which the reader, taking the last marker,
			// finds instead of mistaking the description's tail for notes.
			if b.Notes != "" || strings.Contains(b.Description, notesStart) {
				bw.WriteString(notesStart + html.EscapeString(b.Notes) + notesEnd)
			}
			bw.WriteByte('\n')
		}
	}
	bw.WriteString("</DL><p>\n")
	return bw.Flush()
}

const header = `<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file.
     It will be read and overwritten.
     DO NOT EDIT! -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
`

package bookmarks

import (
	"errors"
	"io"
	"strings"

	"linkapi/internal/linkapi"
)

// ReadImports parses a bookmark file into links to import, with their unread,
// archived and favorite state and notes; PRIVATE is read and left aside, every
// link being private to its account. A file over the size or
// count limits is BAD_USER_INPUT; so is one with nothing that looks like a
// bookmark, which is more likely the wrong file than an empty export.
func ReadImports(r io.Reader) ([]linkapi.LinkImport, error) {
	marks, err := Parse(r)
	switch {
	case errors.Is(err, ErrTooLarge):
		return nil, linkapi.Errorf(linkapi.EINVALID, "the bookmark file is larger than %d bytes", MaxFileBytes)
	case errors.Is(err, ErrTooManyBookmarks):
		return nil, linkapi.Errorf(linkapi.EINVALID, "the bookmark file holds more than %d bookmarks", MaxBookmarks)
	case err != nil:
		return nil, linkapi.Errorf(linkapi.EINVALID, "the bookmark file cannot be read")
	}
	out := make([]linkapi.LinkImport, len(marks))
	for i, m := range marks {
		out[i] = linkapi.LinkImport{
			LinkCreate: linkapi.LinkCreate{URL: m.URL, Title: optional(m.Title), Description: optional(m.Description),
				Notes: optional(m.Notes), Unread: m.Unread, Archived: m.Archived, Favorite: m.Favorite, Tags: m.Tags},
			CreatedAt: m.AddDate,
		}
	}
	return out, nil
}

// WriteLinks writes links with their tags (keyed by link id) as a bookmark file.
// Every link is marked PRIVATE: an account's links are its own, and a service
// that shares bookmarks should not share them on import.
func WriteLinks(w io.Writer, links []*linkapi.Link, tags map[int64][]*linkapi.Tag) error {
	marks := make([]Bookmark, len(links))
	for i, l := range links {
		m := Bookmark{URL: l.URL, AddDate: l.CreatedAt, Private: true, Unread: l.Unread, Archived: l.Archived, Favorite: l.Favorite}
		if l.Notes != nil {
			m.Notes = *l.Notes
		}
		if l.Title != nil {
			m.Title = *l.Title
		}
		if l.Description != nil {
			m.Description = *l.Description
		}
		for _, t := range tags[l.ID] {
			// The format separates tags with commas, so a comma in a name cannot
			// survive the trip; a space keeps the name readable.
			m.Tags = append(m.Tags, strings.ReplaceAll(t.Name, ",", " "))
		}
		marks[i] = m
	}
	return Write(w, marks)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

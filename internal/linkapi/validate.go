package linkapi

import (
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field limits, matching the database columns.
const (
	MaxURLLength         = 2048
	MaxTitleLength       = 512
	MaxDescriptionLength = 8192
	MaxNotesLength       = 8192
	MaxTagNameLength     = 64
	MaxEmailLength       = 320
)

// MaxSearchLength bounds a links search, in characters: a substring search scans
// every link of the account at a cost that grows with the search's length. The
// LIKE pattern made of the longest search, every character escaped or four bytes
// long, stays far below SQLite's LIKE pattern limit of 50,000 bytes.
const MaxSearchLength = 200

// ValidateURL returns BAD_USER_INPUT unless s is an absolute http or https URL with
// a host name, of valid UTF-8 without control characters.
func ValidateURL(s string) error {
	if s == "" || len(s) > MaxURLLength {
		return Errorf(EINVALID, "url must be 1 to %d bytes", MaxURLLength)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return Errorf(EINVALID, "url must be valid text without control characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return Errorf(EINVALID, "url is not a valid URL")
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return Errorf(EINVALID, "url must use http or https")
	}
	// Hostname, not Host: "http://:80" has a Host of ":80" and no host at all.
	if u.Hostname() == "" || u.Opaque != "" {
		return Errorf(EINVALID, "url must name a host")
	}
	return nil
}

// ValidateText returns BAD_USER_INPUT when a free-text field is too long or not
// valid UTF-8.
func ValidateText(field string, s *string, max int) error {
	if s == nil {
		return nil
	}
	if !utf8.ValidString(*s) || utf8.RuneCountInString(*s) > max || strings.ContainsRune(*s, 0) {
		return Errorf(EINVALID, "%s must be valid text of at most %d characters, without NUL", field, max)
	}
	return nil
}

// NormalizeTagName trims a tag name and returns BAD_USER_INPUT when it is empty, too
// long or holds control characters. Tag names are case-sensitive.
func NormalizeTagName(s string) (string, error) {
	name := strings.TrimSpace(s)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxTagNameLength {
		return "", Errorf(EINVALID, "tag name must be 1 to %d characters", MaxTagNameLength)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", Errorf(EINVALID, "tag name must not contain control characters")
	}
	return name, nil
}

// NormalizeTagNames normalises each name and drops repeats, keeping the first
// of each in order. The names returned are the valid ones; the error is the
// first bad name's, for callers that refuse a bad name rather than skip it.
func NormalizeTagNames(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	var first error
	for _, t := range in {
		name, err := NormalizeTagName(t)
		switch {
		case err != nil:
			if first == nil {
				first = err
			}
		case !seen[name]:
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, first
}

// NormalizeEmail lower-cases and trims an email address and returns BAD_USER_INPUT
// unless it is a plain address such as user@example.com.
func NormalizeEmail(s string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(s))
	if email == "" || len(email) > MaxEmailLength {
		return "", Errorf(EINVALID, "email must be 1 to %d bytes", MaxEmailLength)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", Errorf(EINVALID, "email is not a valid address")
	}
	return email, nil
}

package linkapi

// Quota bounds what one account may store, so that one account cannot fill the
// disk: its links, and the bytes of their text (see Link.TextBytes). Both bounds
// have a setting, named in the refusals.
type Quota struct {
	Links     int
	TextBytes int
}

// DefaultQuota is far above what a person saves (a 100,000-link account with a
// kilobyte of text per link fits) and far below what fills a disk.
var DefaultQuota = Quota{Links: 200_000, TextBytes: 128 << 20}

// The settings of Quota.
const (
	SettingMaxLinks = "LINKAPI_MAX_LINKS_PER_ACCOUNT"
	SettingMaxText  = "LINKAPI_MAX_TEXT_PER_ACCOUNT"
)

// Usage is what an account stores, as counted against its Quota.
type Usage struct {
	Links     int
	TextBytes int
}

// TextBytes is what the link's text costs against Quota.TextBytes: the bytes of
// its URL, title, description, notes and metadata URLs, as stored.
func (l *Link) TextBytes() int {
	return len(l.URL) + strlen(l.Title) + strlen(l.Description) + strlen(l.Notes) +
		strlen(l.FaviconURL) + strlen(l.PreviewImageURL)
}

func strlen(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

// Admit returns BAD_USER_INPUT when adding links and bytes to u would take it past
// q. Only growth is refused: a write that adds nothing, or frees room, passes even
// in an account already past a bound that was lowered.
func (q Quota) Admit(u Usage, links, bytes int) error {
	if links > 0 && u.Links+links > q.Links {
		return Errorf(EINVALID, "an account holds at most %d links (%s); this one has %d and the write would add %d: delete some first",
			q.Links, SettingMaxLinks, u.Links, links)
	}
	if bytes > 0 && u.TextBytes+bytes > q.TextBytes {
		return Errorf(EINVALID, "an account holds at most %d bytes of URLs, titles and descriptions (%s); this one has %d and the write would add %d: shorten or delete some first",
			q.TextBytes, SettingMaxText, u.TextBytes, bytes)
	}
	return nil
}

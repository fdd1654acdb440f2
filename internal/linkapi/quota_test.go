package linkapi

import "testing"

func TestQuotaAdmit(t *testing.T) {
	q := Quota{Links: 3, TextBytes: 100}
	for _, c := range []struct {
		name         string
		u            Usage
		links, bytes int
		want         string
	}{
		{"the last link and byte", Usage{2, 90}, 1, 10, ""},
		{"a link too many", Usage{3, 0}, 1, 0, EINVALID},
		{"a byte too many", Usage{0, 100}, 0, 1, EINVALID},
		{"nothing added at the bound", Usage{3, 100}, 0, 0, ""},
		{"freeing room past a lowered bound", Usage{5, 500}, -1, -40, ""},
		{"a link past a lowered bound", Usage{5, 0}, 1, 0, EINVALID},
		{"shorter text with no link", Usage{5, 500}, 0, -1, ""},
	} {
		if got := ErrorCode(q.Admit(c.u, c.links, c.bytes)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLinkTextBytes(t *testing.T) {
	title, desc := "é", "日本"
	for _, c := range []struct {
		link Link
		want int
	}{
		{Link{URL: "https://e.x/"}, 12},
		{Link{URL: "https://e.x/", Title: &title}, 14},
		{Link{URL: "https://e.x/", Title: &title, Description: &desc}, 20},
	} {
		if got := c.link.TextBytes(); got != c.want {
			t.Errorf("%+v: got %d bytes, want %d", c.link, got, c.want)
		}
	}
}

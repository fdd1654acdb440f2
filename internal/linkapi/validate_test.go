package linkapi

import (
	"slices"
	"strings"
	"testing"
)

func TestValidateURL(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"https://go.dev/doc", ""},
		{"http://example.com", ""},
		{"HTTPS://EXAMPLE.COM", ""},
		{"", EINVALID},
		{"javascript:alert(1)", EINVALID},
		{"ftp://example.com/file", EINVALID},
		{"data:text/html,hi", EINVALID},
		{"not a url", EINVALID},
		{"http://", EINVALID},
		{"/relative/path", EINVALID},
		{"https://example.com/\x00", EINVALID},
		{"https://example.com/" + strings.Repeat("a", MaxURLLength), EINVALID},
	}
	for _, tt := range tests {
		if got := ErrorCode(ValidateURL(tt.url)); got != tt.want {
			t.Errorf("ValidateURL(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestNormalizeTagName(t *testing.T) {
	tests := []struct {
		in, want, code string
	}{
		{"  go  ", "go", ""},
		{"Go", "Go", ""},
		{"", "", EINVALID},
		{"   ", "", EINVALID},
		{"a\x00b", "", EINVALID},
		{"tab\there", "", EINVALID},
		{strings.Repeat("é", MaxTagNameLength), strings.Repeat("é", MaxTagNameLength), ""},
		{strings.Repeat("é", MaxTagNameLength+1), "", EINVALID},
	}
	for _, tt := range tests {
		got, err := NormalizeTagName(tt.in)
		if got != tt.want || ErrorCode(err) != tt.code {
			t.Errorf("NormalizeTagName(%q) = %q, %q; want %q, %q", tt.in, got, ErrorCode(err), tt.want, tt.code)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want, code string
	}{
		{"Ann@Example.COM", "ann@example.com", ""},
		{" admin@localhost ", "admin@localhost", ""},
		{"", "", EINVALID},
		{"no-at-sign", "", EINVALID},
		{"Ann <ann@example.com>", "", EINVALID},
		{"a@b.c\x00", "", EINVALID},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if got != tt.want || ErrorCode(err) != tt.code {
			t.Errorf("NormalizeEmail(%q) = %q, %q; want %q, %q", tt.in, got, ErrorCode(err), tt.want, tt.code)
		}
	}
}

func TestValidateTextRefusesNULAndLength(t *testing.T) {
	ok, nul, long := "fine", "a\x00b", strings.Repeat("x", MaxTitleLength+1)
	for _, tt := range []struct {
		s    *string
		want string
	}{{nil, ""}, {&ok, ""}, {&nul, EINVALID}, {&long, EINVALID}} {
		if got := ErrorCode(ValidateText("title", tt.s, MaxTitleLength)); got != tt.want {
			t.Errorf("ValidateText = %q, want %q", got, tt.want)
		}
	}
}

// TestNormalizeTagNames keeps the first of each name in order, drops the bad
// ones and reports the first of those.
func TestNormalizeTagNames(t *testing.T) {
	got, err := NormalizeTagNames([]string{" go ", "db", "go", "", "db", "web", "\x00"})
	if !slices.Equal(got, []string{"go", "db", "web"}) {
		t.Errorf("names: got %q, want go db web", got)
	}
	if ErrorCode(err) != EINVALID {
		t.Errorf("error: got %v, want BAD_USER_INPUT for the empty name", err)
	}
	if got, err := NormalizeTagNames([]string{"a", "a"}); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Errorf("repeats only: got %q, %v", got, err)
	}
}

func TestNormalizeURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://example.com", "https://example.com/"},
		{"HTTPS://Example.COM/", "https://example.com/"},
		{"http://example.com:80/a", "http://example.com/a"},
		{"https://example.com:443/a?x=1#top", "https://example.com/a?x=1"},
		{"http://example.com:443/a", "http://example.com:443/a"},
		{"https://example.com:8443", "https://example.com:8443/"},
		{"https://example.com/A/b/?Q=1&a=2", "https://example.com/A/b/?Q=1&a=2"},
		{"https://example.com/a%2Fb", "https://example.com/a%2Fb"},
		{"https://example.com/#", "https://example.com/"},
		{"https://example.com?", "https://example.com/?"},
		{"http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"},
		{"http://[2001:db8::1]:8080", "http://[2001:db8::1]:8080/"},
		{"https://User:Pass@Example.com/", "https://User:Pass@example.com/"},
	} {
		got, err := NormalizeURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if URLKey(c.in) != URLKey(c.want) {
			t.Errorf("URLKey(%q) differs from URLKey(%q)", c.in, c.want)
		}
	}
	for _, bad := range []string{"", "ftp://example.com/", "example.com", "http://:80/"} {
		if _, err := NormalizeURL(bad); ErrorCode(err) != EINVALID {
			t.Errorf("NormalizeURL(%q): got %v, want BAD_USER_INPUT", bad, err)
		}
	}
	if URLKey("https://example.com/a") == URLKey("https://example.com/A") {
		t.Error("URLKey ignores the case of the path")
	}
}

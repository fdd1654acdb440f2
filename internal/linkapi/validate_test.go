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

package linkapi

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzValidateURL checks that ValidateURL never panics and that whatever it
// accepts is a URL a browser would open as a web page: at most MaxURLLength
// bytes of valid UTF-8 without control characters, parsing with the http or
// https scheme and a non-empty host name. Seeds beyond these are in
// testdata/fuzz/FuzzValidateURL.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{
		"https://go.dev/doc",
		"http://example.com",
		"HTTPS://EXAMPLE.COM:8443/a?b=c#d",
		"http://[::1]:8080/",
		"http://user:pass@example.com/",
		"javascript:alert(1)",
		"JaVaScRiPt://example.com/%0aalert(1)",
		"data:text/html,hi",
		"http:example.com",
		"http:///path",
		"http://:80",
		"http://@/",
		"https://example.com/\x00",
		"https://example.com/\u0085",
		"https://exa mple.com/",
		"//example.com",
		"http://example.com/" + strings.Repeat("a", MaxURLLength),
		"http://\xff/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateURL(s) != nil {
			return
		}
		if len(s) == 0 || len(s) > MaxURLLength {
			t.Fatalf("accepted %q of %d bytes", s, len(s))
		}
		if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			t.Fatalf("accepted %q: not valid text", s)
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", s, err)
		}
		if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
			t.Fatalf("accepted %q with scheme %q", s, u.Scheme)
		}
		if u.Hostname() == "" || u.Opaque != "" {
			t.Fatalf("accepted %q without a host name (host %q, opaque %q)", s, u.Host, u.Opaque)
		}
	})
}

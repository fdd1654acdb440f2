package main

import (
	"strings"
	"testing"

	"linkapi/internal/linkapi"
)

// TestSearchLengthIsBounded searches with the longest search allowed, made of the
// characters that escape to two bytes and of four-byte ones, which finds its link,
// and with one character more, which is refused, as is the 40,000-character
// pattern SQLite would call too complex.
func TestSearchLengthIsBounded(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:read", "links:write")
		token := s.login(t, "ann@example.com", "ann-password")
		longest := strings.Repeat("%_!😀", linkapi.MaxSearchLength/4)
		s.ok(t, token, `mutation($t: String) { createLink(input: {url: "https://example.com/", title: $t}) { id } }`,
			map[string]any{"t": "<" + longest + ">"})
		s.ok(t, token, `mutation { createLink(input: {url: "https://example.org/", title: "other"}) { id } }`, nil)
		const q = `query($s: String) { links(search: $s) { totalCount nodes { url } } }`

		d := s.ok(t, token, q, map[string]any{"s": longest})
		if n := get(t, d, "links", "totalCount"); n != float64(1) {
			t.Errorf("the longest search: totalCount %v, want 1", n)
		}
		if u := str(t, d, "links", "nodes", 0, "url"); u != "https://example.com/" {
			t.Errorf("the longest search found %s", u)
		}
		for name, search := range map[string]string{
			"one character more": longest + "a",
			"a% x 20000":         strings.Repeat("a%", 20000),
		} {
			r := s.do(t, token, q, map[string]any{"s": search})
			if r.Code() != "BAD_USER_INPUT" {
				t.Errorf("%s: got %q (%.200s), want BAD_USER_INPUT", name, r.Code(), r.Raw)
			}
			if r.Data != nil && r.Data["links"] != nil {
				t.Errorf("%s: answered with data %v", name, r.Data)
			}
		}
	})
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestResponseBytes checks the bytes of answers the server writes itself
// (graph.appendResponseData): the same as encoding/json writes them, strings
// escaped for HTML and U+2028, nothing after the closing brace, over GET and
// POST, under both media types, for a list, me and a mutation; and that an
// answer with errors still carries them.
func TestResponseBytes(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")
		title := "<b>&amp;</b> \u2028 \" \\ é"
		s.ok(t, token, `mutation($t: String) { createLink(input: {url: "https://example.com/x", title: $t, fetchMetadata: false}) { id } }`,
			map[string]any{"t": title})
		enc, _ := json.Marshal(title)
		for _, q := range []string{`{ links { nodes { title } } }`, `{ link: links(first: 1) { nodes { title } } me { email } }`} {
			for _, accept := range []string{"", "application/graphql-response+json"} {
				for _, method := range []string{http.MethodPost, http.MethodGet} {
					var req *http.Request
					if method == http.MethodPost {
						body, _ := json.Marshal(map[string]any{"query": q})
						req, _ = http.NewRequest(method, s.URL+"/graphql", strings.NewReader(string(body)))
						req.Header.Set("Content-Type", "application/json")
					} else {
						req, _ = http.NewRequest(method, s.URL+"/graphql?query="+strings.ReplaceAll(q, " ", "+"), nil)
					}
					req.Header.Set("Authorization", "Bearer "+token)
					if accept != "" {
						req.Header.Set("Accept", accept)
					}
					r := s.send(t, req)
					if r.Status != http.StatusOK || len(r.Errors) > 0 {
						t.Fatalf("%s %s: %d %s", method, q, r.Status, r.Raw)
					}
					if !strings.Contains(r.Raw, `"title":`+string(enc)) || !strings.HasPrefix(r.Raw, `{"data":{`) || !strings.HasSuffix(r.Raw, "}}") {
						t.Errorf("%s %s, Accept %q: body %s, want the title as %s", method, q, accept, r.Raw, enc)
					}
					if want := accept; want == "" && r.Header.Get("Content-Type") != "application/json" ||
						want != "" && r.Header.Get("Content-Type") != want {
						t.Errorf("%s %s, Accept %q: Content-Type %q", method, q, accept, r.Header.Get("Content-Type"))
					}
				}
			}
		}
		r := s.do(t, token, `mutation { createLink(input: {url: "https://example.com/y", fetchMetadata: false}) { id } }`, nil)
		if r.Status != http.StatusOK || len(r.Errors) > 0 || !strings.HasPrefix(r.Raw, `{"data":{"createLink":{"id":"`) || !strings.HasSuffix(r.Raw, `"}}}`) {
			t.Errorf("createLink: %d %s", r.Status, r.Raw)
		}
		r = s.do(t, token, `{ links { nodes { title } } tags { totalCount } }`, nil)
		if r.Code() != "FORBIDDEN" || !strings.HasPrefix(r.Raw, `{"errors":[`) {
			t.Errorf("a field without its scope: %s, want FORBIDDEN with the data", r.Raw)
		}
	})
}

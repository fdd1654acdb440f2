package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestComplexityPricesListsByTheirBound checks that every list is priced at the
// most items it can hold, Link.tags at the 100 tags a link may carry and
// apiTokens at the 100 tokens an account may hold, so that fan-out through them
// cannot pass the default limit of 25000 unseen.
func TestComplexityPricesListsByTheirBound(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/c.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/a", tags: ["go", "db"]}) { id } }`, nil)

	// links(first: n) { nodes { tags { id name createdAt } } } costs 1 + n × (1 + 1 + 100 × 3).
	page := func(n int) string {
		return fmt.Sprintf(`{ links(first: %d) { nodes { tags { id name createdAt } } } }`, n)
	}
	for _, c := range []struct {
		name, query, want string
	}{
		{"a page of 82 links with three tag fields (24765)", page(82), ""},
		{"a page of 83 links with three tag fields (25067)", page(83), "COMPLEXITY_LIMIT_EXCEEDED"},
		{"a page of 100 links with two tag fields (20501)", `{ links(first: 100) { nodes { id url title tags { id name } } } }`, ""},
		{"tags of links of tags (1025101)", `{ links(first: 50) { nodes { tags { links(first: 2) { nodes { tags { name } } } } } } }`,
			"COMPLEXITY_LIMIT_EXCEEDED"},
		{"the same filtered by tag", `{ links(first: 50, tag: "go") { nodes { tags { links(first: 2) { nodes { tags { name } } } } } } }`,
			"COMPLEXITY_LIMIT_EXCEEDED"},
		{"a counted tag list per link (20201)", `{ links(first: 100) { nodes { tags { links(first: 1) { totalCount } } } } }`, ""},
		{"a paged tag list per link (30201)", `{ links(first: 100) { nodes { tags { links(first: 1) { nodes { id } } } } } }`,
			"COMPLEXITY_LIMIT_EXCEEDED"},
		{"a client's page (4181)", `query Links($tag: String, $after: String) { links(first: 20, tag: $tag, after: $after) {
			totalCount nodes { id url title tags { id name } } pageInfo { hasNextPage endCursor } } }`, ""},
		{"100 links with tag names and account (10401)", `{ links(first: 100) { nodes { tags { name } account { email } } } }`, ""},
		{"apiTokens (601)", `{ apiTokens { id name scopes createdAt lastUsedAt expiresAt } }`, ""},
	} {
		// The second time, the operation's price is the one remembered.
		var first string
		for i := range 2 {
			r := s.do(t, token, c.query, nil)
			if got := r.Code(); got != c.want {
				t.Errorf("%s (%d): got %q (%s), want %q", c.name, i, got, r.Raw, c.want)
			}
			if c.want != "" && r.Data != nil {
				t.Errorf("%s: refused before it ran, yet data %v", c.name, r.Data)
			}
			if i == 0 {
				first = r.Raw
			} else if c.want != "" && r.Raw != first {
				t.Errorf("%s: refused as %s, then as %s", c.name, first, r.Raw)
			}
		}
	}

	// Each operation of a document has its own price.
	two := `query Heavy { links(first: 83) { nodes { tags { id name createdAt } } } } query Light { me { id } }`
	for range 2 {
		for _, op := range []struct{ name, want string }{{"Heavy", "COMPLEXITY_LIMIT_EXCEEDED"}, {"Light", ""}} {
			body := fmt.Sprintf(`{"query": %q, "operationName": %q}`, two, op.name)
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			if got := s.send(t, req).Code(); got != op.want {
				t.Errorf("operation %s of two: got %q, want %q", op.name, got, op.want)
			}
		}
	}

	// apiTokens is priced at 100 tokens: 1 + 100 × 1 is past a limit of 100.
	low := startServerEnv(t, "sqlite:"+t.TempDir()+"/low.db", nil, map[string]string{"LINKAPI_MAX_COMPLEXITY": "100"})
	low.createAccount(t, "bob@example.com", "bob-password", "account:write")
	bob := low.login(t, "bob@example.com", "bob-password")
	if got := low.do(t, bob, `{ apiTokens { id } }`, nil).Code(); got != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("apiTokens { id } under a limit of 100: got %q, want COMPLEXITY_LIMIT_EXCEEDED", got)
	}
	if got := low.do(t, bob, `{ me { id email } }`, nil).Code(); got != "" {
		t.Errorf("me under a limit of 100: got %q, want success", got)
	}
}

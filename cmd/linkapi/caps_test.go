package main

import (
	"fmt"
	"sync"
	"testing"

	"linkapi/internal/linkapi"
)

// concurrently sends the n requests that req makes, all at once, and returns the
// code each one answered ("" for success).
func concurrently(t *testing.T, s *testServer, token string, n int, req func(i int) (string, map[string]any)) []string {
	t.Helper()
	codes := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range codes {
		q, vars := req(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := s.do(t, token, q, vars)
			codes[i] = r.Code()
			if r.Code() == "" && r.Status != 200 {
				codes[i] = fmt.Sprintf("status %d", r.Status)
			}
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// wantCapped checks that of the codes, exactly allowed are successes and the rest
// BAD_USER_INPUT, the code of a cap.
func wantCapped(t *testing.T, what string, codes []string, allowed int) {
	t.Helper()
	ok := 0
	for i, code := range codes {
		switch code {
		case "":
			ok++
		case "BAD_USER_INPUT":
		default:
			t.Errorf("%s %d: got %q, want success or BAD_USER_INPUT", what, i, code)
		}
	}
	if ok != allowed {
		t.Errorf("%s: %d of %d succeeded, want %d", what, ok, len(codes), allowed)
	}
}

// TestCapsHoldUnderConcurrentWrites brings a link to 5 tags short of its cap and
// an account to 5 API tokens short of its, then sends 20 writes at once to each:
// exactly 5 go through, the others are refused with the cap's code, and the
// counts end at the cap.
func TestCapsHoldUnderConcurrentWrites(t *testing.T) {
	const before, racers = linkapi.MaxTagsPerLink - 5, 20
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:read", "links:write", "tags:read", "tags:write", "account:read", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")

		names := make([]string, before)
		for i := range names {
			names[i] = fmt.Sprintf("t%03d", i)
		}
		d := s.ok(t, token, `mutation($t: [String!]) { createLink(input: {url: "https://example.com/", tags: $t}) { id } }`,
			map[string]any{"t": names})
		linkID := str(t, d, "createLink", "id")
		tags := make([]string, racers)
		for i := range tags {
			d := s.ok(t, token, `mutation($n: String!) { createTag(input: {name: $n}) { id } }`, map[string]any{"n": fmt.Sprintf("racer%02d", i)})
			tags[i] = str(t, d, "createTag", "id")
		}
		codes := concurrently(t, s, token, racers, func(i int) (string, map[string]any) {
			return `mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`, map[string]any{"l": linkID, "t": tags[i]}
		})
		wantCapped(t, "tagLink", codes, linkapi.MaxTagsPerLink-before)
		d = s.ok(t, token, `query($l: ID!) { link(id: $l) { tags { id } } }`, map[string]any{"l": linkID})
		if got := len(get(t, d, "link", "tags").([]any)); got != linkapi.MaxTagsPerLink {
			t.Errorf("tags on the link: got %d, want %d", got, linkapi.MaxTagsPerLink)
		}

		mint := `mutation($n: String!) { createApiToken(name: $n, scopes: ["links:read"]) { token } }`
		for i := range before {
			s.ok(t, token, mint, map[string]any{"n": fmt.Sprintf("token %d", i)})
		}
		codes = concurrently(t, s, token, racers, func(i int) (string, map[string]any) {
			return mint, map[string]any{"n": fmt.Sprintf("racer %d", i)}
		})
		wantCapped(t, "createApiToken", codes, linkapi.MaxAPITokens-before)
		if got := len(get(t, s.ok(t, token, `{ apiTokens { id } }`, nil), "apiTokens").([]any)); got != linkapi.MaxAPITokens {
			t.Errorf("apiTokens: got %d, want %d", got, linkapi.MaxAPITokens)
		}
	})
}

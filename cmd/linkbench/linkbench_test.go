package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"linkapi/internal/store/storetest"
)

// post sends a GraphQL request and returns the status and decoded body.
func post(t *testing.T, url, authorization string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return resp.StatusCode, out
}

// wantLinksPage is the page the floor (and linkapi) must answer for account a of
// spec: its newest first links, each with its tags sorted by name, and with its
// account's email when full.
func wantLinksPage(spec seedSpec, a, first int, full bool) []any {
	var nodes []any
	for i := a*spec.Links - 1; i >= (a-1)*spec.Links && len(nodes) < first; i-- {
		var title any
		if t := linkTitle(i); t != nil {
			title = *t
		}
		var names []string
		for _, k := range spec.linkTags(i) {
			names = append(names, tagName(k))
		}
		slices.Sort(names)
		tags := []any{}
		for _, n := range names {
			tags = append(tags, map[string]any{"name": n})
		}
		node := map[string]any{
			"id":    fmt.Sprint(i + 1),
			"url":   fmt.Sprintf("https://example.com/%d/%d", a, i%spec.Links),
			"title": title,
			"tags":  tags,
		}
		if full {
			node["account"] = map[string]any{"email": benchEmail(a)}
		}
		nodes = append(nodes, node)
	}
	return nodes
}

func TestFloorAnswersSeededDatabase(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		spec := seedSpec{Accounts: 3, Links: 25, TagsPerLink: 3, TagPool: 5}
		if err := seed(ctx, url, spec); err != nil {
			t.Fatal(err)
		}
		b, err := benchDBFromURL(url)
		if err != nil {
			t.Fatal(err)
		}
		secret := []byte(strings.Repeat("s", 32))
		h, err := floorHandler(ctx, b, secret)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		gql := srv.URL + "/graphql"
		tok, err := mintToken(secret, 2, time.Hour)
		if err != nil {
			t.Fatal(err)
		}

		status, got := post(t, gql, "Bearer "+tok, graphQLBody(queryMe, nil))
		want := map[string]any{"data": map[string]any{"me": map[string]any{"id": "2", "email": "bench2@example.com"}}}
		if status != http.StatusOK || !equalJSON(got, want) {
			t.Errorf("me: got %d %v, want 200 %v", status, got, want)
		}

		status, got = post(t, gql, "Bearer "+tok, graphQLBody(queryLinks, nil))
		want = map[string]any{"data": map[string]any{"links": map[string]any{"nodes": wantLinksPage(spec, 2, floorPage, false)}}}
		if status != http.StatusOK || !equalJSON(got, want) {
			t.Errorf("links: got %d %v,\nwant 200 %v", status, got, want)
		}
		for _, sh := range linkShapes {
			page := map[string]any{"nodes": wantLinksPage(spec, 2, sh.first, sh.full)}
			if sh.full {
				page["totalCount"] = spec.Links
			}
			status, got = post(t, gql, "Bearer "+tok, graphQLBody(sh.query(), nil))
			want = map[string]any{"data": map[string]any{"links": page}}
			if status != http.StatusOK || !equalJSON(got, want) {
				t.Errorf("%s: got %d %v,\nwant 200 %v", sh.scenario, status, got, want)
			}
		}
		if status, got := post(t, gql, "Bearer "+tok, graphQLBody(`{ links(first: 7) { nodes { id } } }`, nil)); status != http.StatusBadRequest {
			t.Errorf("a query the floor does not know: got %d %v, want 400", status, got)
		}

		other, _ := mintToken([]byte(strings.Repeat("x", 32)), 2, time.Hour)
		gone, _ := mintToken(secret, 99, time.Hour)
		expired, _ := mintToken(secret, 2, -time.Hour)
		for name, auth := range map[string]string{"none": "", "wrong secret": "Bearer " + other, "unknown account": "Bearer " + gone, "expired": "Bearer " + expired} {
			if status, got := post(t, gql, auth, graphQLBody(queryMe, nil)); status != http.StatusUnauthorized {
				t.Errorf("%s: got %d %v, want 401", name, status, got)
			}
		}
	})
}

func equalJSON(got, want any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return bytes.Equal(a, b)
}

func TestLinkTagsAreDistinct(t *testing.T) {
	spec := seedSpec{TagsPerLink: 3, TagPool: 20}
	for i := range 100 {
		tags := spec.linkTags(i)
		if len(tags) != 3 || len(slices.Compact(slices.Sorted(slices.Values(tags)))) != 3 {
			t.Fatalf("linkTags(%d) = %v, want 3 distinct", i, tags)
		}
	}
	if got := (seedSpec{TagsPerLink: 3, TagPool: 2}).linkTags(5); len(got) != 2 {
		t.Errorf("with a pool of 2, linkTags = %v, want 2 tags", got)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, c := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond},
		{hundred, 0.5, 1 * time.Millisecond},
	} {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(c.sorted), c.p, got, c.want)
		}
	}
}

func TestDriveCountsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "ok":
			io.WriteString(w, `{"data":{"me":{"id":"1"}}}`)
		case "graphql-error":
			io.WriteString(w, `{"errors":[{"message":"no"}],"data":null}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	measured := false
	// A second, not a tenth: on a loaded machine a request that starts in the
	// warmup can outlast a short window, which then counts none.
	res := drive(context.Background(), srv.Client(), 20*time.Millisecond, time.Second, []group{
		{name: "ok", url: srv.URL, clients: 2, next: func(int, int) request { return request{authorization: "ok"} }},
		{name: "graphql-error", url: srv.URL, clients: 1, next: func(int, int) request { return request{authorization: "graphql-error"} }},
		{name: "401", url: srv.URL, clients: 1, next: func(int, int) request { return request{} }},
	}, func() func() { return func() { measured = true } })
	if !measured {
		t.Error("the measure callback did not run to its end")
	}
	for _, r := range res {
		wantErrors := r.requests
		if r.name == "ok" {
			wantErrors = 0
		}
		if r.requests == 0 || r.errors != wantErrors || len(r.latencies) != r.requests || !slices.IsSorted(r.latencies) || r.elapsed != time.Second {
			t.Errorf("%s: %d requests, %d errors (want %d), %d latencies (sorted %v), elapsed %v",
				r.name, r.requests, r.errors, wantErrors, len(r.latencies), slices.IsSorted(r.latencies), r.elapsed)
		}
		if r.errors > 0 && r.firstError == "" {
			t.Errorf("%s: no first error recorded", r.name)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"linkapi/internal/store/storetest"
)

// TestHeldCommitAnswersTimeout runs serve on MySQL through a proxy that holds
// a createLink's COMMIT, as a Galera node does while it pauses commits (flow
// control, a member leaving or joining): the request is answered TIMEOUT at
// LINKAPI_REQUEST_TIMEOUT instead of waiting for the database, the link is not
// written, and the next createLink is served.
func TestHeldCommitAnswersTimeout(t *testing.T) {
	p := storetest.StartProxy(t, storetest.URL(t, "mysql"))
	s := startServerEnv(t, p.URL, nil, map[string]string{"LINKAPI_REQUEST_TIMEOUT": "3s"})
	s.createAccount(t, "ann@example.com", "correct horse battery", "links:write")
	token := s.login(t, "ann@example.com", "correct horse battery")
	const create = `mutation($u: String!) { createLink(input: {url: $u}) { id } }`

	p.Hold("COMMIT")
	body, _ := json.Marshal(map[string]any{"query": create, "variables": map[string]any{"u": "https://example.com/held"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("createLink whose COMMIT the database holds: no answer within 30s, ten times its deadline: %v", err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil || r.Code() != "TIMEOUT" {
		t.Errorf("createLink whose COMMIT the database holds: status %d %s, want TIMEOUT", res.StatusCode, raw)
	}
	select {
	case <-p.Held():
	default:
		t.Fatal("no COMMIT was held: the request did not wait for one")
	}
	s.ok(t, token, create, map[string]any{"u": "https://example.com/after"})
	d := s.ok(t, token, `{ links { totalCount nodes { url } } }`, nil)
	if n := get(t, d, "links", "totalCount"); n != float64(1) {
		t.Errorf("links after the held createLink and another: %v, want only the other: %v", n, d)
	}
}

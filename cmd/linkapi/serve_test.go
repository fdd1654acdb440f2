package main

import (
	"net/http"
	"testing"
)

// TestServeEndToEnd logs in, saves a tagged link and lists it back through the
// real HTTP server.
func TestServeEndToEnd(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")

		d := s.ok(t, token, `mutation { createLink(input: {url: "https://go.dev", title: "Go", tags: ["lang", "dev"]}) { id tags { name } } }`, nil)
		id := str(t, d, "createLink", "id")
		if got := str(t, d, "createLink", "tags", 0, "name"); got != "dev" {
			t.Errorf("first tag = %q, want dev", got)
		}

		d = s.ok(t, token, `{ links(tag: "lang") { totalCount nodes { id url } } me { email } }`, nil)
		if got := get(t, d, "links", "totalCount"); got != float64(1) {
			t.Errorf("totalCount = %v, want 1", got)
		}
		if got := str(t, d, "links", "nodes", 0, "id"); got != id {
			t.Errorf("listed id = %q, want %q", got, id)
		}
		if got := str(t, d, "me", "email"); got != "ann@example.com" {
			t.Errorf("me.email = %q, want ann@example.com", got)
		}
	})
}

func TestHealthAndReady(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/h.db")
	for _, path := range []string{"/healthz", "/readyz", "/"} {
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.StatusCode)
		}
	}
}

func TestBadBearerIs401(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/b.db")
	r := s.do(t, "not-a-jwt", `{ me { id } }`, nil)
	if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
		t.Errorf("got status %d code %q, want 401 UNAUTHENTICATED", r.Status, r.Code())
	}
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"linkapi/internal/server"
	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
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

// TestBadSecretTouchesNoDatabase checks that configuration is vetted before the
// database is opened: a refused start leaves no file and no tables behind.
func TestBadSecretTouchesNoDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "never.db")
	_, err := runServeExpectingFailure(t, map[string]string{
		"LINKAPI_DATABASE_URL": "sqlite:" + path,
		"LINKAPI_JWT_SECRET":   "too-short",
	})
	if err == nil {
		t.Fatal("serve started with a short secret")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat %s: got %v, want not exist", path, err)
	}
	if os.Getenv(storetest.EnvMySQLURL) == "" {
		return
	}
	url := storetest.MySQLURL(t)
	if _, err := runServeExpectingFailure(t, map[string]string{"LINKAPI_DATABASE_URL": url}); err == nil {
		t.Fatal("serve started on MySQL without a secret")
	}
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if tables := queryInt(t, db.SQL(), `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`); tables != 0 {
		t.Errorf("tables after a refused start: got %d, want none", tables)
	}
}

// TestOversizedBodyIs413 sends a body over the limit, with and without a length.
func TestOversizedBodyIs413(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/big.db")
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", server.MaxBodyBytes) + `"}}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		r := s.send(t, req)
		if r.Status != http.StatusRequestEntityTooLarge || r.Code() != "BAD_USER_INPUT" {
			t.Errorf("chunked=%v: got %d %q, want 413 BAD_USER_INPUT", chunked, r.Status, r.Code())
		}
	}
	if strings.Contains(s.Log.String(), "level=ERROR") {
		t.Errorf("an oversized body was logged as an error:\n%s", s.Log.String())
	}
}

// TestAnonymousBodyLimit sends bodies around MaxAnonymousBodyBytes: without a
// token the largest passes and one byte more is 413; with a token it passes.
func TestAnonymousBodyLimit(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/anon.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	body := func(n int) string {
		head, tail := `{"query":"{ __typename }","variables":{"pad":"`, `"}}`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	for _, c := range []struct {
		token string
		size  int
		want  int
	}{
		{"", server.MaxAnonymousBodyBytes, http.StatusOK},
		{"", server.MaxAnonymousBodyBytes + 1, http.StatusRequestEntityTooLarge},
		{token, server.MaxAnonymousBodyBytes + 1, http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body(c.size)))
		req.Header.Set("Content-Type", "application/json")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		r := s.send(t, req)
		if r.Status != c.want {
			t.Errorf("token=%v, %d bytes: got %d %q, want %d", c.token != "", c.size, r.Status, r.Code(), c.want)
		}
		if c.want == http.StatusRequestEntityTooLarge && r.Code() != "BAD_USER_INPUT" {
			t.Errorf("an anonymous body over the limit: got %q, want BAD_USER_INPUT", r.Code())
		}
	}
}

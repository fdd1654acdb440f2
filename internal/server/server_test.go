package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"linkapi/internal/auth"
)

// serveOnce runs h on one request and decodes the GraphQL error it answers, if any.
func serveOnce(t *testing.T, h http.Handler, r *http.Request) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	code := ""
	if json.Unmarshal(w.Body.Bytes(), &body) == nil && len(body.Errors) > 0 {
		code = body.Errors[0].Extensions.Code
	}
	return w.Code, code
}

// TestLimitBody lets through a body at the limit, anonymous or not, and answers
// 413 with BAD_USER_INPUT one byte past it, with or without a length.
func TestLimitBody(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := limitBody(ok)
	caller := auth.NewContext(t.Context(), &auth.Caller{AccountID: 1})
	for _, c := range []struct {
		name    string
		size    int
		caller  bool
		chunked bool
		want    int
	}{
		{"anonymous at the limit", MaxAnonymousBodyBytes, false, false, http.StatusNoContent},
		{"anonymous past it", MaxAnonymousBodyBytes + 1, false, false, http.StatusRequestEntityTooLarge},
		{"anonymous past it, chunked", MaxAnonymousBodyBytes + 1, false, true, http.StatusRequestEntityTooLarge},
		{"a caller past the anonymous limit", MaxAnonymousBodyBytes + 1, true, false, http.StatusNoContent},
		{"a caller at the limit", MaxBodyBytes, true, false, http.StatusNoContent},
		{"a caller past it, chunked", MaxBodyBytes + 1, true, true, http.StatusRequestEntityTooLarge},
	} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(strings.Repeat("x", c.size)))
		if c.chunked {
			r.ContentLength = -1
		}
		if c.caller {
			r = r.WithContext(caller)
		}
		status, code := serveOnce(t, h, r)
		if status != c.want || (c.want == http.StatusRequestEntityTooLarge && code != "BAD_USER_INPUT") {
			t.Errorf("%s: got %d %q, want %d", c.name, status, code, c.want)
		}
	}
}

// TestRequireScope answers 401 without a caller, 403 to one without the scope
// (admin:read here, which admin:write implies) and passes the rest.
func TestRequireScope(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := requireScope(auth.AdminRead, ok)
	for _, c := range []struct {
		name   string
		caller *auth.Caller
		status int
		code   string
	}{
		{"anonymous", nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"without the scope", &auth.Caller{AccountID: 1, Scopes: auth.Expand([]string{auth.LinksWrite})}, http.StatusForbidden, "FORBIDDEN"},
		{"with it", &auth.Caller{AccountID: 1, Scopes: auth.Expand([]string{auth.AdminRead})}, http.StatusNoContent, ""},
		{"with one that implies it", &auth.Caller{AccountID: 1, Scopes: auth.Expand([]string{auth.AdminWrite})}, http.StatusNoContent, ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if c.caller != nil {
			r = r.WithContext(auth.NewContext(r.Context(), c.caller))
		}
		if status, code := serveOnce(t, h, r); status != c.status || code != c.code {
			t.Errorf("%s: got %d %q, want %d %q", c.name, status, code, c.status, c.code)
		}
	}
}

// TestDeadline gives each request a deadline of its own, and none when the
// duration is not positive.
func TestDeadline(t *testing.T) {
	var got time.Time
	var has bool
	probe := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, has = r.Context().Deadline() })
	before := time.Now()
	deadline(time.Minute, probe).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !has || got.Before(before.Add(time.Minute)) || got.After(time.Now().Add(time.Minute)) {
		t.Errorf("a minute's deadline: got %v (set %v)", got, has)
	}
	deadline(0, probe).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if has {
		t.Errorf("no deadline: got %v", got)
	}
}

package main

import (
	"fmt"
	"testing"
)

const loginMut = `mutation($e: String!, $p: String!, $s: [String!]) {
  login(email: $e, password: $p, scopes: $s) { accessToken tokenType scopes account { email } }
}`

// TestLoginFailuresLookAlike checks that a wrong password and an unknown email
// cannot be told apart.
func TestLoginFailuresLookAlike(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write")

		wrong := s.do(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "not-her-password"})
		unknown := s.do(t, "", loginMut, map[string]any{"e": "nobody@example.com", "p": "not-her-password"})
		for name, r := range map[string]*gqlResponse{"wrong password": wrong, "unknown email": unknown} {
			wantCode(t, r, "UNAUTHENTICATED")
			if r.Data != nil && r.Data["login"] != nil {
				t.Errorf("%s: data.login = %v, want null", name, r.Data["login"])
			}
		}
		if len(wrong.Errors) == 0 || len(unknown.Errors) == 0 {
			t.Fatalf("want an error for both, got %s and %s", wrong.Raw, unknown.Raw)
		}
		if wrong.Errors[0].Message != unknown.Errors[0].Message {
			t.Errorf("messages differ: wrong password %q, unknown email %q", wrong.Errors[0].Message, unknown.Errors[0].Message)
		}
		if wrong.Status != unknown.Status {
			t.Errorf("statuses differ: wrong password %d, unknown email %d", wrong.Status, unknown.Status)
		}
		if fmt.Sprint(wrong.Errors[0].Extensions) != fmt.Sprint(unknown.Errors[0].Extensions) {
			t.Errorf("extensions differ: wrong password %v, unknown email %v", wrong.Errors[0].Extensions, unknown.Errors[0].Extensions)
		}
	})
}

// TestLoginNarrowedScopes checks that login with scopes issues a token with just
// those.
func TestLoginNarrowedScopes(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.ok(t, s.login(t, "ann@example.com", "ann-password"), createLinkMut, nil)

		d := s.ok(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ann-password", "s": []string{"links:read"}})
		token := str(t, d, "login", "accessToken")
		if got := str(t, d, "login", "tokenType"); got != "Bearer" {
			t.Errorf("tokenType = %q, want Bearer", got)
		}
		if got := fmt.Sprint(get(t, d, "login", "scopes")); got != "[links:read]" {
			t.Errorf("login.scopes = %s, want [links:read]", got)
		}
		if got := tokenPayload(t, token)["scope"]; got != "links:read" {
			t.Errorf("token scope claim = %q, want %q", got, "links:read")
		}

		wantCode(t, s.do(t, token, createLinkMut, nil), "FORBIDDEN")
		wantCode(t, s.do(t, token, `{ tags { totalCount } }`, nil), "FORBIDDEN")
		wantCode(t, s.do(t, token, meQuery, nil), "FORBIDDEN")
		if got := get(t, s.ok(t, token, linksCountQuery, nil), "links", "totalCount"); got != float64(1) {
			t.Errorf("links.totalCount = %v, want 1", got)
		}

		// An implied scope may be asked for: links:write implies links:read and
		// tags:write implies tags:read.
		d = s.ok(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ann-password", "s": []string{"tags:read", "links:read"}})
		if got := tokenPayload(t, str(t, d, "login", "accessToken"))["scope"]; got != "links:read tags:read" && got != "tags:read links:read" {
			t.Errorf("token scope claim = %q, want links:read and tags:read", got)
		}
	})
}

// TestLoginScopeNotHeld checks that asking for a scope the account lacks issues
// nothing, and that an unknown scope name is bad input.
func TestLoginScopeNotHeld(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		for _, c := range []struct {
			scopes []string
			code   string
		}{
			{[]string{"admin:read"}, "FORBIDDEN"},
			{[]string{"links:read", "tags:write"}, "FORBIDDEN"},
			{[]string{"admin:write"}, "FORBIDDEN"},
			{[]string{"links:raed"}, "BAD_USER_INPUT"},
			{[]string{"links:read", "everything"}, "BAD_USER_INPUT"},
		} {
			t.Run(fmt.Sprint(c.scopes), func(t *testing.T) {
				r := s.do(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ann-password", "s": c.scopes})
				wantCode(t, r, c.code)
				if r.Data != nil && r.Data["login"] != nil {
					t.Errorf("data.login = %v, want null: no token is issued", r.Data["login"])
				}
			})
		}
	})
}

// TestLoginEmailCaseInsensitive checks that the email of a login is compared
// case-insensitively.
func TestLoginEmailCaseInsensitive(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "account:write")
		for _, email := range []string{"ANN@Example.com", "Ann@EXAMPLE.COM", "ann@example.com"} {
			d := s.ok(t, "", loginMut, map[string]any{"e": email, "p": "ann-password"})
			if got := str(t, d, "login", "account", "email"); got != "ann@example.com" {
				t.Errorf("login as %s: account.email = %q, want ann@example.com", email, got)
			}
			token := str(t, d, "login", "accessToken")
			if got := str(t, s.ok(t, token, meQuery, nil), "me", "email"); got != "ann@example.com" {
				t.Errorf("login as %s: me.email = %q, want ann@example.com", email, got)
			}
		}
		// The password, unlike the email, is case-sensitive.
		wantCode(t, s.do(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ANN-PASSWORD"}), "UNAUTHENTICATED")
	})
}

// TestLoginWithoutScopes checks that an account with no scopes can log in and do
// nothing else.
func TestLoginWithoutScopes(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "nobody@example.com", "nobody-password")
		d := s.ok(t, "", loginMut, map[string]any{"e": "nobody@example.com", "p": "nobody-password"})
		token := str(t, d, "login", "accessToken")
		if got := fmt.Sprint(get(t, d, "login", "scopes")); got != "[]" {
			t.Errorf("login.scopes = %s, want []", got)
		}
		for _, q := range []string{meQuery, linksCountQuery, `{ tags { totalCount } }`, `{ accounts { totalCount } }`, createLinkMut} {
			r := s.do(t, token, q, nil)
			if r.Status == 401 {
				t.Errorf("%s: status 401, want the token accepted and the field refused", q)
			}
			wantCode(t, r, "FORBIDDEN")
		}
	})
}

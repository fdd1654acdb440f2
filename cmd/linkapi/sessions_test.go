package main

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/auth"
)

const (
	sessLogin   = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken refreshExpiresAt expiresAt } }`
	sessRefresh = `mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken refreshExpiresAt scopes account { id } } }`
	sessLogout  = `mutation($r: String) { logout(refreshToken: $r) }`
	sessList    = `{ sessions { id userAgent address current scopes createdAt lastUsedAt } }`
	sessRevoke  = `mutation($id: ID!) { revokeSession(id: $id) }`
	sessMe      = `{ me { id } }`
)

// sessTokens are what a login or a refresh returned.
type sessTokens struct{ access, refresh string }

func sessLoginAs(t *testing.T, s *testServer, email, password string) sessTokens {
	t.Helper()
	d := s.ok(t, "", sessLogin, map[string]any{"e": email, "p": password})
	return sessTokens{str(t, d, "login", "accessToken"), str(t, d, "login", "refreshToken")}
}

func sessRefreshWith(t *testing.T, s *testServer, token, refresh string) (sessTokens, *gqlResponse) {
	t.Helper()
	r := s.do(t, token, sessRefresh, map[string]any{"r": refresh})
	if r.Code() != "" {
		return sessTokens{}, r
	}
	return sessTokens{str(t, r.Data, "refreshSession", "accessToken"), str(t, r.Data, "refreshSession", "refreshToken")}, r
}

// sessWorks reports whether an access token is accepted.
func sessWorks(t *testing.T, s *testServer, access string) bool {
	t.Helper()
	r := s.do(t, access, sessMe, nil)
	switch {
	case r.Status == http.StatusOK && r.Code() == "":
		return true
	case r.Status == http.StatusUnauthorized && r.Code() == "UNAUTHENTICATED":
		return false
	}
	t.Fatalf("me: status %d %s", r.Status, r.Raw)
	return false
}

// sessRows renders the sessions and refresh_tokens tables, to tell that a
// refused request wrote nothing.
func sessRows(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT id, account_id, scopes, user_agent, address, created_at, last_used_at, expires_at, refresh_expires_at, access_expires_at, ended_at, end_reason FROM sessions ORDER BY id",
		"SELECT id, session_id, account_id, token_hash, created_at, expires_at, used_at FROM refresh_tokens ORDER BY id",
	} {
		err := eachRow(db, q, func(rs *sql.Rows) error {
			cols, _ := rs.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				return err
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteString("\n")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestSessionsThroughServer follows sessions through the API: login starts
// one whose tokens carry sid, refresh rotates, reuse ends the session and its
// access tokens at once, logout and revocation end theirs at once, a password
// change ends every one, and API tokens go on without any.
func TestSessionsThroughServer(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		db := openDB(t, s.DBURL).SQL()
		ann := s.createAccount(t, "ann@example.com", "ann-password", auth.DefaultScopes...)
		s.createAccount(t, "bob@example.com", "bob-password", auth.DefaultScopes...)

		a := sessLoginAs(t, s, "ann@example.com", "ann-password")
		claims := tokenPayload(t, a.access)
		sid, _ := claims["sid"].(string)
		if sid == "" {
			t.Fatalf("access token has no sid: %v", claims)
		}
		list := s.ok(t, a.access, sessList, nil)
		if got := str(t, list, "sessions", 0, "id"); got != sid {
			t.Errorf("sessions[0].id: got %s, want the token's sid %s", got, sid)
		}
		if get(t, list, "sessions", 0, "current") != true || str(t, list, "sessions", 0, "userAgent") != "Go-http-client/1.1" ||
			str(t, list, "sessions", 0, "address") != "127.0.0.1" {
			t.Errorf("session: got %v", get(t, list, "sessions", 0))
		}

		// Rotation: new tokens of the same session; the old access token lives on.
		b, r := sessRefreshWith(t, s, "", a.refresh)
		if r.Code() != "" {
			t.Fatalf("refresh: %s", r.Raw)
		}
		if got := tokenPayload(t, b.access)["sid"]; got != sid {
			t.Errorf("refreshed token's sid: got %v, want %s", got, sid)
		}
		if acc := str(t, r.Data, "refreshSession", "account", "id"); acc != formatInt(ann) {
			t.Errorf("refreshed account: got %s, want %d", acc, ann)
		}
		if !sessWorks(t, s, a.access) || !sessWorks(t, s, b.access) {
			t.Fatal("access tokens of a live session are refused")
		}
		// Reuse of the spent token, past the race window: the session ends, its
		// access tokens and its newest refresh token with it, at once.
		execSQL(t, db, "UPDATE refresh_tokens SET used_at = ? WHERE used_at IS NOT NULL", time.Now().UTC().Add(-time.Hour))
		if _, r := sessRefreshWith(t, s, "", a.refresh); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("reused refresh token: got %s, want UNAUTHENTICATED", r.Raw)
		}
		if sessWorks(t, s, a.access) || sessWorks(t, s, b.access) {
			t.Error("access tokens of a session ended by reuse still work")
		}
		if _, r := sessRefreshWith(t, s, "", b.refresh); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("newest refresh token after reuse: got %s, want UNAUTHENTICATED", r.Raw)
		}

		// Logout with the access token ends its session at once.
		c := sessLoginAs(t, s, "ann@example.com", "ann-password")
		d := sessLoginAs(t, s, "ann@example.com", "ann-password")
		if got := s.ok(t, c.access, sessLogout, nil)["logout"]; got != true {
			t.Errorf("logout: got %v", got)
		}
		if sessWorks(t, s, c.access) {
			t.Error("access token still works after logout")
		}
		if _, r := sessRefreshWith(t, s, "", c.refresh); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("refresh after logout: got %s", r.Raw)
		}
		if !sessWorks(t, s, d.access) {
			t.Error("logout ended another session too")
		}
		// Logout with the refresh token alone, as an app whose access token has
		// expired does.
		if got := s.ok(t, "", sessLogout, map[string]any{"r": d.refresh})["logout"]; got != true {
			t.Errorf("logout by refresh token: got %v", got)
		}
		if sessWorks(t, s, d.access) {
			t.Error("access token still works after logout by refresh token")
		}

		// Revocation of another device.
		e := sessLoginAs(t, s, "ann@example.com", "ann-password")
		f := sessLoginAs(t, s, "ann@example.com", "ann-password")
		fsid := tokenPayload(t, f.access)["sid"].(string)
		if got := len(get(t, s.ok(t, e.access, sessList, nil), "sessions").([]any)); got != 2 {
			t.Errorf("live sessions: got %d, want 2", got)
		}
		bob := sessLoginAs(t, s, "bob@example.com", "bob-password")
		if r := s.do(t, bob.access, sessRevoke, map[string]any{"id": fsid}); r.Code() != "NOT_FOUND" {
			t.Errorf("revoking another account's session: got %s, want NOT_FOUND", r.Raw)
		}
		if got := s.ok(t, e.access, sessRevoke, map[string]any{"id": fsid})["revokeSession"]; got != fsid {
			t.Errorf("revokeSession: got %v, want %s", got, fsid)
		}
		if sessWorks(t, s, f.access) || !sessWorks(t, s, e.access) {
			t.Error("revocation: the revoked session works, or the revoking one does not")
		}
		if r := s.do(t, e.access, sessRevoke, map[string]any{"id": fsid}); r.Code() != "NOT_FOUND" {
			t.Errorf("revoking twice: got %s, want NOT_FOUND", r.Raw)
		}

		// An API token has no session: it outlives logouts, and logs nothing out.
		tok := str(t, s.ok(t, e.access, `mutation { createApiToken(name: "script", scopes: ["account:read"]) { token } }`, nil), "createApiToken", "token")
		if r := s.do(t, tok, sessLogout, nil); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("logout with an API token: got %s, want BAD_USER_INPUT", r.Raw)
		}
		s.ok(t, e.access, sessLogout, nil)
		if !sessWorks(t, s, tok) {
			t.Error("API token stopped working after a logout")
		}

		// A password change ends every session of the account.
		g := sessLoginAs(t, s, "ann@example.com", "ann-password")
		h := sessLoginAs(t, s, "ann@example.com", "ann-password")
		s.ok(t, g.access, `mutation { changePassword(currentPassword: "ann-password", newPassword: "ann-new-password") }`, nil)
		for _, x := range []sessTokens{g, h} {
			if _, r := sessRefreshWith(t, s, "", x.refresh); r.Code() != "UNAUTHENTICATED" {
				t.Errorf("refresh after a password change: got %s", r.Raw)
			}
		}
		if !sessWorks(t, s, bob.access) {
			t.Error("another account's session ended with ann's password change")
		}
	})
}

// TestRefreshRefusals sends every kind of bad refresh token, and a logout
// with each, and checks that each is UNAUTHENTICATED and writes nothing.
func TestRefreshRefusals(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		db := openDB(t, s.DBURL).SQL()
		s.createAccount(t, "ann@example.com", "ann-password", auth.DefaultScopes...)
		s.createAccount(t, "bob@example.com", "bob-password", auth.DefaultScopes...)
		ann := sessLoginAs(t, s, "ann@example.com", "ann-password")
		bob := sessLoginAs(t, s, "bob@example.com", "bob-password")
		expired := sessLoginAs(t, s, "ann@example.com", "ann-password")
		execSQL(t, db, "UPDATE refresh_tokens SET expires_at = ? WHERE token_hash = ?", time.Now().UTC().Add(-time.Minute), auth.HashAPIToken(expired.refresh))
		revoked := sessLoginAs(t, s, "ann@example.com", "ann-password")
		s.ok(t, revoked.access, sessLogout, nil)
		spent := sessLoginAs(t, s, "ann@example.com", "ann-password")
		if _, r := sessRefreshWith(t, s, "", spent.refresh); r.Code() != "" {
			t.Fatal(r.Raw)
		}
		well := auth.RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
		cases := []struct{ name, bearer, token string }{
			{"empty", "", ""},
			{"garbage", "", "not a refresh token"},
			{"an access token", "", ann.access},
			{"no prefix", "", strings.TrimPrefix(ann.refresh, auth.RefreshTokenPrefix)},
			{"one character short", "", ann.refresh[:len(ann.refresh)-1]},
			{"one character long", "", ann.refresh + "A"},
			{"not base64url", "", ann.refresh[:len(ann.refresh)-1] + "+"},
			{"never issued", "", well},
			{"huge", "", auth.RefreshTokenPrefix + strings.Repeat("A", 50000)},
			{"expired", "", expired.refresh},
			{"of a logged-out session", "", revoked.refresh},
			{"another account's, sent with bob's token", bob.access, ann.refresh},
			{"just spent (within the race window)", "", spent.refresh},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := sessRows(t, db)
				if _, r := sessRefreshWith(t, s, c.bearer, c.token); r.Code() != "UNAUTHENTICATED" || r.Data != nil {
					t.Errorf("refreshSession: got %s, want UNAUTHENTICATED and no data", r.Raw)
				}
				if r := s.do(t, c.bearer, sessLogout, map[string]any{"r": c.token}); r.Code() != "UNAUTHENTICATED" && c.name != "expired" &&
					c.name != "of a logged-out session" && c.name != "just spent (within the race window)" {
					t.Errorf("logout: got %s, want UNAUTHENTICATED", r.Raw)
				}
				if c.name == "expired" || c.name == "of a logged-out session" || c.name == "just spent (within the race window)" {
					return // logout ends those sessions, as it should
				}
				if after := sessRows(t, db); after != before {
					t.Errorf("a refused refresh wrote:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			})
		}
		if r := s.do(t, "", sessLogout, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous logout without a refresh token: got %s", r.Raw)
		}
		if !sessWorks(t, s, ann.access) || !sessWorks(t, s, bob.access) {
			t.Error("refused requests ended a session")
		}
		if _, r := sessRefreshWith(t, s, bob.access, bob.refresh); r.Code() != "" {
			t.Errorf("bob's own refresh, sent with bob's token: %s", r.Raw)
		}
	})
}

// TestRefreshRaceThroughServer sends one refresh token in several requests at
// once: exactly one gets tokens, the others UNAUTHENTICATED, and the session
// goes on with the winner's.
func TestRefreshRaceThroughServer(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", auth.DefaultScopes...)
		a := sessLoginAs(t, s, "ann@example.com", "ann-password")
		const n = 6
		start := make(chan struct{})
		got := make([]*gqlResponse, n)
		won := make([]sessTokens, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				won[i], got[i] = sessRefreshWith(t, s, "", a.refresh)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, r := range got {
			switch code := r.Code(); {
			case code == "" && winner >= 0:
				t.Errorf("requests %d and %d both got tokens", winner, i)
			case code == "":
				winner = i
			case code != "UNAUTHENTICATED":
				t.Errorf("loser %d: got %s, want UNAUTHENTICATED", i, r.Raw)
			}
		}
		if winner < 0 {
			t.Fatal("no request got tokens")
		}
		if !sessWorks(t, s, won[winner].access) || !sessWorks(t, s, a.access) {
			t.Error("the session did not go on after the race")
		}
		if _, r := sessRefreshWith(t, s, "", won[winner].refresh); r.Code() != "" {
			t.Errorf("the winner's refresh token: %s", r.Raw)
		}
	})
}

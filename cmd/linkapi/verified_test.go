package main

import (
	"testing"
)

// TestRememberedTokensEndAtOnce checks that a token the server has already
// verified, and so remembers (auth.verifiedTokens), stops working, or narrows,
// at the next request after each way of ending it: logout, revocation of its
// session, a change of the account's scopes, a password change, the deletion of
// the account. Each token is used twice first, so that the second use is
// answered from what the server remembers.
func TestRememberedTokensEndAtOnce(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		s.createAccount(t, "root@example.com", "root-password", "admin:write")
		admin := s.login(t, "root@example.com", "root-password")
		warm := func(x sessTokens) sessTokens {
			t.Helper()
			for range 2 {
				if !sessWorks(t, s, x.access) {
					t.Fatal("a fresh access token is refused")
				}
			}
			return x
		}
		login := func() sessTokens {
			t.Helper()
			return warm(sessLoginAs(t, s, "ann@example.com", "ann-password"))
		}

		out := login()
		s.ok(t, out.access, sessLogout, nil)
		if sessWorks(t, s, out.access) {
			t.Error("logout: the access token still works")
		}

		revoked, revoker := login(), login()
		sid, _ := tokenPayload(t, revoked.access)["sid"].(string)
		s.ok(t, revoker.access, sessRevoke, map[string]any{"id": sid})
		if sessWorks(t, s, revoked.access) {
			t.Error("revokeSession: the revoked session's access token still works")
		}

		narrowed := login()
		s.ok(t, narrowed.access, createLinkMut, nil)
		s.ok(t, admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: ["links:read", "account:read"]) { id } }`,
			map[string]any{"id": idString(id)})
		wantCode(t, s.do(t, narrowed.access, createLinkMut, nil), "FORBIDDEN")
		if got := get(t, s.ok(t, narrowed.access, linksCountQuery, nil), "links", "totalCount"); got != float64(1) {
			t.Errorf("links.totalCount after narrowing = %v, want 1", got)
		}
		s.ok(t, admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: ["links:write", "account:write"]) { id } }`,
			map[string]any{"id": idString(id)})

		changer, other := login(), login()
		s.ok(t, changer.access, `mutation { changePassword(currentPassword: "ann-password", newPassword: "ann-new-password") }`, nil)
		wantInvalidToken(t, s.do(t, changer.access, meQuery, nil))
		wantInvalidToken(t, s.do(t, other.access, meQuery, nil))

		deleted := warm(sessLoginAs(t, s, "ann@example.com", "ann-new-password"))
		s.ok(t, deleted.access, `mutation($id: ID!) { deleteAccount(id: $id) }`, map[string]any{"id": idString(id)})
		wantInvalidToken(t, s.do(t, deleted.access, meQuery, nil))
	})
}

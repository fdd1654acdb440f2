package main

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"linkapi/internal/auth"
	"linkapi/internal/store/storetest"
)

// Keys of the rotation tests: the server's key before and after the rotation.
const (
	rotationOldKey = "rotation-old-key-rotation-old-key-0123456789"
	rotationNewKey = "rotation-new-key-rotation-new-key-0123456789"
)

// kidOf returns the kid in a token's header.
func kidOf(t *testing.T, tok string) any {
	t.Helper()
	p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Header["kid"]
}

// TestKeyRotationThroughServer rotates the signing key the way docs/tokens.md says:
// a server on the old key, then one on the new key with the old one in
// LINKAPI_JWT_PREVIOUS_SECRETS, then one on the new key alone. Tokens of the old
// key keep working through the rotation and stop when the old key is dropped;
// new tokens name the new key; a refused token writes nothing.
func TestKeyRotationThroughServer(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		before := startServerEnv(t, dbURL, nil, map[string]string{"LINKAPI_JWT_SECRET": rotationOldKey})
		before.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		oldTok := before.login(t, "ann@example.com", "ann-password")
		if got := kidOf(t, oldTok); got != auth.KeyID([]byte(rotationOldKey)) {
			t.Fatalf("kid = %v, want the old key's %s", got, auth.KeyID([]byte(rotationOldKey)))
		}

		during := startServerEnv(t, dbURL, nil, map[string]string{
			"LINKAPI_JWT_SECRET":           rotationNewKey,
			"LINKAPI_JWT_PREVIOUS_SECRETS": " " + otherSecret + " , " + rotationOldKey + " ",
		})
		if got := str(t, during.ok(t, oldTok, meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("old token during rotation: me.email = %q", got)
		}
		newTok := during.login(t, "ann@example.com", "ann-password")
		if got := kidOf(t, newTok); got != auth.KeyID([]byte(rotationNewKey)) {
			t.Errorf("kid after rotation = %v, want the new key's", got)
		}
		during.ok(t, newTok, createLinkMut, nil)
		// The server not yet rotated does not know the new key.
		wantInvalidToken(t, before.do(t, newTok, meQuery, nil))
		if r := before.do(t, newTok, meQuery, nil); !strings.Contains(r.Raw, "token signing key is unknown") {
			t.Errorf("new token on the old server: %s, want the message %q", r.Raw, "token signing key is unknown")
		}

		after := startServerEnv(t, dbURL, nil, map[string]string{"LINKAPI_JWT_SECRET": rotationNewKey})
		wantInvalidToken(t, after.do(t, oldTok, meQuery, nil))
		wantInvalidToken(t, after.do(t, oldTok, createLinkMut, nil))
		if got := get(t, after.ok(t, newTok, linksCountQuery, nil), "links", "totalCount"); got != float64(1) {
			t.Errorf("links after the refused write: totalCount = %v, want 1", got)
		}
		// A token of the old key relabelled with the new key's kid fails its
		// signature; one of the new key relabelled as the old key names no key.
		c := validClaims(1, "links:read account:read")
		wantInvalidToken(t, after.do(t, mintTokenWithHeader(t, []byte(rotationOldKey), map[string]any{"kid": auth.KeyID([]byte(rotationNewKey))}, c), meQuery, nil))
		wantInvalidToken(t, after.do(t, mintTokenWithHeader(t, []byte(rotationNewKey), map[string]any{"kid": auth.KeyID([]byte(rotationOldKey))}, c), meQuery, nil))
	})
}

// TestEveryCommandRefusesAShortPreviousSecret runs the commands that read the
// configuration with a LINKAPI_JWT_PREVIOUS_SECRETS key under 32 bytes: each
// refuses it, naming the key by its place and never echoing it.
func TestEveryCommandRefusesAShortPreviousSecret(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/s.db"
	for _, prev := range []string{"short-key", rotationOldKey + ",short-key", rotationOldKey + ",,"} {
		for _, args := range [][]string{
			{"migrate"}, {"account", "list"}, {"account", "create", "--email", "a@example.com", "--password-stdin"},
			{"token", "create", "--email", "a@example.com", "--name", "n", "--scopes", "links:read"},
			{"export", "--email", "a@example.com"},
		} {
			r := runCLIEnv(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret, "LINKAPI_JWT_PREVIOUS_SECRETS": prev}, "password-1\n", args...)
			if r.Err == nil || !strings.Contains(r.Err.Error(), "LINKAPI_JWT_PREVIOUS_SECRETS: key ") || strings.Contains(r.Err.Error(), "short-key") {
				t.Errorf("linkapi %s with previous secrets %q: got %v", strings.Join(args, " "), prev, r.Err)
			}
		}
		if _, err := runServeExpectingFailure(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret, "LINKAPI_JWT_PREVIOUS_SECRETS": prev}); err == nil || !strings.Contains(err.Error(), "LINKAPI_JWT_PREVIOUS_SECRETS") {
			t.Errorf("serve with previous secrets %q: got %v", prev, err)
		}
	}
}

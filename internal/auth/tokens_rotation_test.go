package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	rotOld   = []byte("the-old-key-the-old-key-0123456789")
	rotOlder = []byte("the-older-key-the-older-key-012345")
	rotNew   = []byte("the-new-key-the-new-key-0123456789")
)

func rotationTokens(t *testing.T, current []byte, previous ...[]byte) *Tokens {
	t.Helper()
	tk, err := NewTokens(current, 15*time.Minute, previous...)
	if err != nil {
		t.Fatal(err)
	}
	tk.Now = func() time.Time { return testNow }
	return tk
}

// TestKeyRotation checks LINKAPI_JWT_PREVIOUS_SECRETS: the current key signs and
// names itself by kid, previous keys still verify, and once a key is dropped
// from the configuration its tokens are refused.
func TestKeyRotation(t *testing.T) {
	before := rotationTokens(t, rotOld)
	oldTok, _, err := before.Issue(42, []string{LinksRead})
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := tokenHeader(oldTok)
	if err != nil {
		t.Fatal(err)
	}
	if hdr["kid"] != KeyID(rotOld) || hdr["alg"] != "HS256" {
		t.Fatalf("header = %v, want alg HS256 and kid %s", hdr, KeyID(rotOld))
	}

	after := rotationTokens(t, rotNew, rotOld, rotOlder)
	if c, err := after.Parse(oldTok); err != nil || c.Subject != "42" {
		t.Errorf("Parse(token of the previous key) = %v, %v; want it accepted", c, err)
	}
	newTok, _, err := after.Issue(42, []string{LinksRead})
	if err != nil {
		t.Fatal(err)
	}
	if hdr, _ := tokenHeader(newTok); hdr["kid"] != KeyID(rotNew) {
		t.Errorf("after rotation kid = %v, want the new key's %s", hdr["kid"], KeyID(rotNew))
	}
	if after.CurrentKeyID() != KeyID(rotNew) || !after.HasKeyID(KeyID(rotOlder)) || after.HasKeyID("hs1-nope") {
		t.Errorf("CurrentKeyID/HasKeyID disagree with the configuration")
	}
	// A token without kid (issued before tokens carried one) is tried with each
	// configured key.
	legacy := sign(t, jwt.SigningMethodHS256, validClaims(), rotOlder)
	if _, err := after.Parse(legacy); err != nil {
		t.Errorf("Parse(kid-less token of a previous key) = %v, want nil", err)
	}
	// A token of the new key names it: its kid is not a free choice. Relabelled
	// as the old key, it fails the old key's signature check.
	relabelled := signWithHeaderKey(t, rotNew, KeyID(rotOld))
	if _, err := after.Parse(relabelled); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("Parse(new key labelled as old) = %v, want a signature error", err)
	}

	// Retired: the old key is dropped.
	retired := rotationTokens(t, rotNew)
	if _, err := retired.Parse(oldTok); !errors.Is(err, errUnknownKey) {
		t.Errorf("Parse(token of a retired key) = %v, want errUnknownKey", err)
	}
	if got := errReason(errUnknownKey); got != "token signing key is unknown" {
		t.Errorf("errReason(errUnknownKey) = %q", got)
	}
	if _, err := retired.Parse(sign(t, jwt.SigningMethodHS256, validClaims(), rotOld)); err == nil {
		t.Errorf("Parse(kid-less token of a retired key) = nil error, want one")
	}
	if _, err := retired.Parse(newTok); err != nil {
		t.Errorf("Parse(token of the current key) = %v", err)
	}
}

// TestKeyIDRevealsNoSecret checks that a kid is stable, differs between keys and
// carries no part of the key.
func TestKeyIDRevealsNoSecret(t *testing.T) {
	a, b := KeyID(rotOld), KeyID(rotNew)
	if a != KeyID(append([]byte(nil), rotOld...)) || a == b {
		t.Fatalf("KeyID not a stable, distinct name: %s %s", a, b)
	}
	if !strings.HasPrefix(a, "hs1-") || len(a) != 20 {
		t.Errorf("KeyID = %q, want hs1- and 16 base64url characters", a)
	}
	for _, k := range [][]byte{rotOld, rotNew} {
		for i := 0; i+4 <= len(k); i++ {
			if strings.Contains(KeyID(k), string(k[i:i+4])) {
				t.Errorf("KeyID(%q) = %q holds part of the key", k, KeyID(k))
			}
		}
	}
}

// TestPreviousSecretsTooShort checks that every previous key is held to the
// same 32 bytes as the current one.
func TestPreviousSecretsTooShort(t *testing.T) {
	for _, prev := range [][][]byte{{[]byte("short")}, {rotOld, []byte("0123456789abcdef0123456789abcde")}, {{}}} {
		if _, err := NewTokens(rotNew, time.Minute, prev...); err == nil || !strings.Contains(err.Error(), "LINKAPI_JWT_PREVIOUS_SECRETS") {
			t.Errorf("NewTokens(previous %q) error = %v, want one naming LINKAPI_JWT_PREVIOUS_SECRETS", prev, err)
		}
	}
	// The current key repeated among the previous ones is harmless.
	tk, err := NewTokens(rotNew, time.Minute, rotNew, rotOld)
	if err != nil || len(tk.keys) != 2 {
		t.Errorf("NewTokens(current repeated) = %v keys, %v; want 2 keys", tk, err)
	}
}

func signWithHeaderKey(t *testing.T, key []byte, kid string) string {
	return signWithHeader(t, key, map[string]any{"kid": kid})
}

func tokenHeader(tok string) (map[string]any, error) {
	p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		return nil, err
	}
	return p.Header, nil
}

package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseBearer checks that Tokens.Parse never panics and accepts nothing that
// is not signed with the key: whatever it accepts is at most MaxTokenBytes, three
// canonical base64url parts whose header says HS256 and names no other
// parameter than typ and kid, with an HMAC-SHA256 under testSecret checked here
// independently of the JWT library, and claims of our issuer and audience that
// have not expired. The clock is fixed at testNow, so the valid tokens among the
// seeds (and in testdata/fuzz/FuzzParseBearer) stay valid.
func FuzzParseBearer(f *testing.F) {
	tk, err := NewTokens(testSecret, 15*time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	tk.Now = func() time.Time { return testNow }
	good, _, err := tk.Issue(42, []string{LinksWrite, TagsRead})
	if err != nil {
		f.Fatal(err)
	}
	other := []byte("another secret that is 32 bytes!")
	seeds := []string{
		good,
		signWithHeader(f, testSecret, map[string]any{"kid": "another-key"}),
		signWithHeader(f, testSecret, map[string]any{"jku": "https://attacker.example/jwks.json"}),
		signWithHeader(f, testSecret, map[string]any{"crit": []string{"exp"}}),
		signWithHeader(f, testSecret, map[string]any{"jwk": map[string]any{"kty": "oct", "k": "AAAA"}}),
		signWithHeader(f, other, nil),
		signWithHeader(f, []byte{}, map[string]any{"kid": ""}),
		good[:strings.LastIndexByte(good, '.')+1],
		good + "=",
		"",
		".",
		"..",
		"not-a-jwt",
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.e30.",
		"eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.e30.",
		strings.Repeat("A", MaxTokenBytes+1),
	}
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		s, err := jwt.NewWithClaims(m, validClaims()).SignedString(testSecret)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, s)
	}
	if s, err := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType); err == nil {
		seeds = append(seeds, s)
	}
	for _, s := range seeds {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, token string) {
		claims, err := tk.Parse(token)
		if err != nil {
			return
		}
		if reason := signedWithTestSecret(token); reason != "" {
			t.Fatalf("Parse accepted %q: %s", token, reason)
		}
		if claims.Issuer != Issuer || !slices.Contains(claims.Audience, Audience) {
			t.Fatalf("Parse accepted %q with iss %q, aud %v", token, claims.Issuer, claims.Audience)
		}
		if claims.ExpiresAt == nil || !claims.ExpiresAt.Add(leeway).After(testNow) {
			t.Fatalf("Parse accepted %q, expired at %v", token, claims.ExpiresAt)
		}
		if id, err := claims.AccountID(); err != nil || id <= 0 {
			t.Fatalf("Parse accepted %q with subject %q", token, claims.Subject)
		}
	})
}

// signedWithTestSecret returns why token is not an HS256 JWS under testSecret in
// canonical encoding, or "" when it is one.
func signedWithTestSecret(token string) string {
	if len(token) > MaxTokenBytes {
		return "longer than MaxTokenBytes"
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "not three parts"
	}
	enc := base64.RawURLEncoding.Strict()
	rawHeader, err := enc.DecodeString(parts[0])
	if err != nil {
		return "header is not canonical base64url"
	}
	if _, err := enc.DecodeString(parts[1]); err != nil {
		return "payload is not canonical base64url"
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return "signature is not canonical base64url"
	}
	var header map[string]any
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		return "header is not a JSON object"
	}
	if header["alg"] != "HS256" {
		return "alg is not HS256"
	}
	for k := range header {
		if k != "alg" && k != "typ" && k != "kid" {
			return "header carries " + k
		}
	}
	mac := hmac.New(sha256.New, testSecret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return "HMAC-SHA256 under the key does not match"
	}
	return ""
}

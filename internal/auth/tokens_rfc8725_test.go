package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signWithHeader signs validClaims with HS256 and key, with header parameters
// set (a nil value removes the parameter).
func signWithHeader(t testing.TB, key []byte, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTokenHeaderParametersRefused checks RFC 8725 3.1 and 3.10: a token whose
// header names a key (jku, jwk, x5u, x5c, x5t), asks for an extension (crit) or
// carries any parameter we do not know is refused even when signed with the
// right key, and kid selects nothing.
func TestTokenHeaderParametersRefused(t *testing.T) {
	tk := newTestTokens(t)
	refused := map[string]any{
		"crit":     []string{"exp"},
		"jku":      "https://attacker.example/jwks.json",
		"jwk":      map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(testSecret)},
		"x5u":      "https://attacker.example/cert.pem",
		"x5c":      []string{"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"},
		"x5t":      "dGh1bWJwcmludA",
		"x5t#S256": "dGh1bWJwcmludA",
		"zip":      "DEF",
		"b64":      false,
		"cty":      "JWT",
		"foo":      "bar",
	}
	for name, v := range refused {
		t.Run(name, func(t *testing.T) {
			tok := signWithHeader(t, testSecret, map[string]any{name: v})
			if c, err := tk.Parse(tok); err == nil {
				t.Errorf("Parse(header with %s) = %+v, nil; want an error", name, c)
			} else if !errors.Is(err, errHeaderParameter) {
				t.Errorf("Parse(header with %s) error = %v, want errHeaderParameter", name, err)
			}
		})
	}
	for _, typ := range []any{"at+jwt", "JWS", 7, ""} {
		if _, err := tk.Parse(signWithHeader(t, testSecret, map[string]any{"typ": typ})); err == nil {
			t.Errorf("Parse(typ %v) = nil error, want one", typ)
		}
	}

	accepted := map[string]map[string]any{
		"plain":          nil,
		"no typ":         {"typ": nil},
		"typ jwt":        {"typ": "jwt"},
		"kid of our key": {"kid": KeyID(testSecret)},
		"no kid":         {"kid": nil},
	}
	for name, h := range accepted {
		if _, err := tk.Parse(signWithHeader(t, testSecret, h)); err != nil {
			t.Errorf("Parse(%s) = %v, want nil", name, err)
		}
	}
	// kid selects only among our keys: a kid naming none of them is refused even
	// with our key's signature, and one naming ours still needs its signature.
	for _, kid := range []any{"another-key", "../../../../dev/null", "x' UNION SELECT 'secret", "", 42, []string{KeyID(testSecret)}} {
		if _, err := tk.Parse(signWithHeader(t, testSecret, map[string]any{"kid": kid})); !errors.Is(err, errUnknownKey) {
			t.Errorf("Parse(our key, kid %v) = %v, want errUnknownKey", kid, err)
		}
	}
	for _, kid := range []any{KeyID(testSecret), nil} {
		if _, err := tk.Parse(signWithHeader(t, []byte{}, map[string]any{"kid": kid})); err == nil {
			t.Errorf("Parse(empty key, kid %v) = nil error, want one", kid)
		}
		other := []byte("another secret that is 32 bytes!")
		if _, err := tk.Parse(signWithHeader(t, other, map[string]any{"kid": kid})); err == nil {
			t.Errorf("Parse(other key, kid %v) = nil error, want one", kid)
		}
		if _, err := tk.Parse(signWithHeader(t, other, map[string]any{"kid": KeyID(other)})); !errors.Is(err, errUnknownKey) {
			t.Errorf("Parse(other key, its own kid) = %v, want errUnknownKey", err)
		}
	}
}

// TestTokenSizeLimit checks that a token over MaxTokenBytes is refused before it
// is decoded, even when it is validly signed, and one within it is not.
func TestTokenSizeLimit(t *testing.T) {
	tk := newTestTokens(t)
	padded := func(n int) string {
		c := validClaims()
		c.Scope = LinksRead + strings.Repeat(" ", n)
		return sign(t, jwt.SigningMethodHS256, c, testSecret)
	}
	small := padded(0)
	// Grow the padding until the token is just within the limit, then one over.
	within := padded(3 * (MaxTokenBytes - len(small)) / 4)
	for len(within) > MaxTokenBytes {
		within = padded(3*(MaxTokenBytes-len(small))/4 - (len(within) - MaxTokenBytes))
	}
	over := padded(3*(MaxTokenBytes-len(small))/4 + 8)
	if len(within) > MaxTokenBytes || len(within) < MaxTokenBytes-8 || len(over) <= MaxTokenBytes {
		t.Fatalf("test tokens of %d and %d bytes do not straddle %d", len(within), len(over), MaxTokenBytes)
	}
	if _, err := tk.Parse(within); err != nil {
		t.Errorf("Parse(%d bytes, validly signed) = %v, want nil", len(within), err)
	}
	if _, err := tk.Parse(over); !errors.Is(err, ErrTokenTooLarge) {
		t.Errorf("Parse(%d bytes, validly signed) = %v, want ErrTokenTooLarge", len(over), err)
	}
	// Garbage of a megabyte is refused for its size, not for what decoding finds.
	huge := strings.Repeat("e", 1<<20) + "." + strings.Repeat("e", 1<<20) + ".x"
	if _, err := tk.Parse(huge); !errors.Is(err, ErrTokenTooLarge) {
		t.Errorf("Parse(2 MiB) = %v, want ErrTokenTooLarge", err)
	}
	if got := errReason(ErrTokenTooLarge); got != "token is too large" {
		t.Errorf("errReason(ErrTokenTooLarge) = %q", got)
	}
}

// TestTokenLeeway checks that exp, iat and nbf get 30 seconds of clock skew and
// not a second more.
func TestTokenLeeway(t *testing.T) {
	tk := newTestTokens(t)
	at := func(f func(c *Claims)) string {
		c := validClaims()
		f(&c)
		return sign(t, jwt.SigningMethodHS256, c, testSecret)
	}
	for _, tt := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"expired 10s ago", at(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-10 * time.Second)) }), true},
		{"expired 29s ago", at(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-29 * time.Second)) }), true},
		{"expired 31s ago", at(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-31 * time.Second)) }), false},
		{"expired an hour ago", at(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Hour)) }), false},
		{"issued 29s ahead", at(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(testNow.Add(29 * time.Second)) }), true},
		{"issued 31s ahead", at(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(testNow.Add(31 * time.Second)) }), false},
		{"valid from 29s ahead", at(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(testNow.Add(29 * time.Second)) }), true},
		{"valid from 31s ahead", at(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(testNow.Add(31 * time.Second)) }), false},
	} {
		_, err := tk.Parse(tt.tok)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Parse error = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestTokenNonCanonicalBase64Refused checks that a token is accepted in exactly
// one spelling: changing the unused low bits of the last base64url character of
// the signature, which a lenient decoder ignores, makes it a different, refused
// token.
func TestTokenNonCanonicalBase64Refused(t *testing.T) {
	tk := newTestTokens(t)
	good, _, err := tk.Issue(42, []string{LinksRead})
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	// A 32-byte HMAC is 43 characters, the last carrying 4 bits and 2 unused.
	malleated := good[:len(good)-1] + string(alphabet[last|1])
	if malleated == good {
		malleated = good[:len(good)-1] + string(alphabet[last|2])
	}
	a, errA := base64.RawURLEncoding.DecodeString(good[strings.LastIndexByte(good, '.')+1:])
	b, errB := base64.RawURLEncoding.DecodeString(malleated[strings.LastIndexByte(malleated, '.')+1:])
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Fatalf("test setup: the two signatures do not decode alike (%v, %v)", errA, errB)
	}
	if _, err := tk.Parse(good); err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	if _, err := tk.Parse(malleated); err == nil {
		t.Errorf("Parse(non-canonical signature) = nil error, want one")
	}
	for _, padded := range []string{good + "=", strings.Replace(good, ".", "=.", 1)} {
		if _, err := tk.Parse(padded); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", padded)
		}
	}
}

package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.UTC)
)

func newTestTokens(t *testing.T) *Tokens {
	t.Helper()
	tk, err := NewTokens(testSecret, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tk.Now = func() time.Time { return testNow }
	return tk
}

// validClaims returns the claims Issue would write for account 42.
func validClaims() Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   "42",
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute)),
			IssuedAt:  jwt.NewNumericDate(testNow),
			ID:        "test",
		},
		Scope: LinksRead,
	}
}

func sign(t *testing.T, m jwt.SigningMethod, c Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewTokens(t *testing.T) {
	if _, err := NewTokens(testSecret[:31], time.Minute); err == nil || !strings.Contains(err.Error(), "LINKAPI_JWT_SECRET") {
		t.Errorf("NewTokens(31 bytes) error = %v, want one naming LINKAPI_JWT_SECRET", err)
	}
	if _, err := NewTokens(testSecret, 0); err == nil {
		t.Errorf("NewTokens(ttl 0) error = nil, want an error")
	}
	if _, err := NewTokens(testSecret, time.Minute); err != nil {
		t.Errorf("NewTokens(32 bytes) error = %v, want nil", err)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tk := newTestTokens(t)
	tok, exp, err := tk.Issue(42, []string{LinksWrite, TagsRead})
	if err != nil {
		t.Fatal(err)
	}
	if want := testNow.Add(15 * time.Minute).Truncate(time.Millisecond); !exp.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", exp, want)
	}
	c, err := tk.Parse(tok)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	id, err := c.AccountID()
	if err != nil || id != 42 {
		t.Errorf("AccountID = %d, %v, want 42", id, err)
	}
	if c.Scope != "links:write tags:read" {
		t.Errorf("scope = %q, want %q", c.Scope, "links:write tags:read")
	}
	if c.Issuer != Issuer || len(c.Audience) != 1 || c.Audience[0] != Audience {
		t.Errorf("iss, aud = %q, %v, want %q, [%q]", c.Issuer, c.Audience, Issuer, Audience)
	}
	if len(c.ID) != 32 {
		t.Errorf("jti = %q, want 32 hex digits", c.ID)
	}
	if want := testNow.Truncate(time.Millisecond); !c.IssuedAt.Equal(want) {
		t.Errorf("iat = %v, want %v", c.IssuedAt.Time, want)
	}
	if !c.ExpiresAt.Equal(exp) {
		t.Errorf("exp = %v, want %v", c.ExpiresAt.Time, exp)
	}

	tok2, _, err := tk.Issue(42, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := tk.Parse(tok2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID == c.ID {
		t.Errorf("two tokens share jti %q", c.ID)
	}
	if _, _, err := tk.Issue(0, nil); err == nil {
		t.Errorf("Issue(0) error = nil, want an error")
	}
}

// TestIssuedAtMillisecondExact checks that iat comes back as exactly the
// millisecond it was issued in, whatever float64 makes of the fraction.
func TestIssuedAtMillisecondExact(t *testing.T) {
	tk := newTestTokens(t)
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for ms := range 1000 {
		now := base.Add(time.Duration(ms)*time.Millisecond + 700*time.Microsecond)
		tk.Now = func() time.Time { return now }
		tok, _, err := tk.Issue(1, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tk.Parse(tok)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Truncate(time.Millisecond); !c.IssuedAt.Equal(want) {
			t.Fatalf("iat = %v, want %v", c.IssuedAt.Time, want)
		}
	}
}

func TestTokenRejected(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tk := newTestTokens(t)
	good, _, err := tk.Issue(42, []string{LinksRead})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")

	with := func(f func(*Claims)) Claims {
		c := validClaims()
		f(&c)
		return c
	}
	tests := []struct {
		name  string
		token string
		now   time.Time
	}{
		{"empty", "", testNow},
		{"garbage", "not.a.token", testNow},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(
			[]byte(`{"iss":"linkapi","sub":"1","aud":["linkapi"],"exp":9999999999,"iat":1,"scope":"admin:write"}`)) + "." + parts[2], testNow},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), testNow},
		{"alg none", sign(t, jwt.SigningMethodNone, validClaims(), jwt.UnsafeAllowNoneSignatureType), testNow},
		{"HS512", sign(t, jwt.SigningMethodHS512, validClaims(), testSecret), testNow},
		{"HS384", sign(t, jwt.SigningMethodHS384, validClaims(), testSecret), testNow},
		{"RS256", sign(t, jwt.SigningMethodRS256, validClaims(), rsaKey), testNow},
		{"wrong key", sign(t, jwt.SigningMethodHS256, validClaims(), []byte("another secret that is 32 bytes!")), testNow},
		{"expired", good, testNow.Add(15*time.Minute + 31*time.Second)},
		{"issued in the future", good, testNow.Add(-31 * time.Second)},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Issuer = "other" }), testSecret), testNow},
		{"no issuer", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Issuer = "" }), testSecret), testNow},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} }), testSecret), testNow},
		{"no audience", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Audience = nil }), testSecret), testNow},
		{"missing exp", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.ExpiresAt = nil }), testSecret), testNow},
		{"missing iat", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.IssuedAt = nil }), testSecret), testNow},
		{"non-numeric sub", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Subject = "admin" }), testSecret), testNow},
		{"zero sub", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Subject = "0" }), testSecret), testNow},
		{"negative sub", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Subject = "-4" }), testSecret), testNow},
		{"missing sub", sign(t, jwt.SigningMethodHS256, with(func(c *Claims) { c.Subject = "" }), testSecret), testNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk.Now = func() time.Time { return tt.now }
			if c, err := tk.Parse(tt.token); err == nil {
				t.Errorf("Parse = %+v, nil; want an error", c)
			}
		})
	}

	// The hand-built valid claims do parse, so the cases above fail for their reason.
	tk.Now = func() time.Time { return testNow }
	if _, err := tk.Parse(sign(t, jwt.SigningMethodHS256, validClaims(), testSecret)); err != nil {
		t.Errorf("Parse(valid hand-built) = %v, want nil", err)
	}
	tk.Now = func() time.Time { return testNow.Add(15*time.Minute + 29*time.Second) }
	if _, err := tk.Parse(good); err != nil {
		t.Errorf("Parse(within leeway) = %v, want nil", err)
	}
}

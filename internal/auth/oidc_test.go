package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"linkapi/internal/auth"
	"linkapi/internal/auth/oidctest"
)

func newVerifier(t *testing.T, p *oidctest.Provider) *auth.OIDC {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o, err := auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: p.Issuer(), Audience: "api", FetchTimeout: 2 * time.Second, MaxBody: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCheckOIDCURL checks which issuer and JWKS URLs are accepted: https, or
// http on a loopback address only.
func TestCheckOIDCURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://idp.example.com":             true,
		"https://idp.example.com/realms/main": true,
		"http://127.0.0.1:8081":               true,
		"http://[::1]:8081/x":                 true,
		"http://localhost:8081":               true,
		"http://idp.example.com":              false,
		"http://10.0.0.5":                     false,
		"ftp://idp.example.com":               false,
		"https://user:pw@idp.example.com":     false,
		"https://idp.example.com/?a=b":        false,
		"https://idp.example.com/#x":          false,
		"idp.example.com":                     false,
		"":                                    false,
	} {
		if err := auth.CheckOIDCURL("X", u); (err == nil) != ok {
			t.Errorf("CheckOIDCURL(%q) = %v, want ok %v", u, err, ok)
		}
	}
}

// TestOIDCVerifyKeysPinned checks that each key verifies its one algorithm
// only, and that weak or foreign keys in the set verify nothing.
func TestOIDCVerifyKeysPinned(t *testing.T) {
	p := oidctest.New(t)
	rs, es, ed := oidctest.NewKey(t, "RS256", "rs"), oidctest.NewKey(t, "ES256", "es"), oidctest.NewKey(t, "EdDSA", "ed")
	for _, k := range []*oidctest.Key{rs, es, ed} {
		k.NoAlg = true // the key type alone pins the algorithm
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	weakKey := &oidctest.Key{KID: "weak", Alg: "RS256", Private: weak}
	p384Key := &oidctest.Key{KID: "p384", Alg: "ES256", Private: p384, NoAlg: true}
	p.SetKeys(rs, es, ed, weakKey, p384Key)
	o := newVerifier(t, p)
	ctx := context.Background()
	c := func() jwt.MapClaims { return p.Claims("sub-1", "api") }
	for _, k := range []*oidctest.Key{rs, es, ed} {
		id, err := o.Verify(ctx, oidctest.Sign(t, k, c()))
		if err != nil || id.Subject != "sub-1" || id.Issuer != p.Issuer() || id.HasScopes {
			t.Errorf("Verify(%s) = %+v, %v", k.Alg, id, err)
		}
	}
	for name, tok := range map[string]string{
		"RSA 1024":        oidctest.Sign(t, weakKey, c()),
		"P-384 as ES256":  oidctest.SignWith(t, p384Key, jwt.SigningMethodES384, map[string]any{"kid": "p384"}, c()),
		"PS256 on RSA":    oidctest.SignWith(t, rs, jwt.SigningMethodPS256, map[string]any{"kid": "rs"}, c()),
		"ES256 on RSA":    oidctest.SignWith(t, es, jwt.SigningMethodES256, map[string]any{"kid": "rs"}, c()),
		"EdDSA on EC kid": oidctest.SignWith(t, ed, jwt.SigningMethodEdDSA, map[string]any{"kid": "es"}, c()),
		"no kid":          oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": nil}, c()),
		"empty kid":       oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": ""}, c()),
		"too large":       oidctest.Sign(t, rs, jwt.MapClaims{"iss": p.Issuer(), "sub": "s", "aud": "api", "exp": 4102444800, "pad": strings.Repeat("x", auth.MaxTokenBytes)}),
	} {
		if id, err := o.Verify(ctx, tok); err == nil {
			t.Errorf("Verify(%s) = %+v, nil; want an error", name, id)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestOIDCVerifyClaims checks the claims read from a provider's token: scope or
// scp, email and email_verified (a JSON true only).
func TestOIDCVerifyClaims(t *testing.T) {
	p := oidctest.New(t)
	k := oidctest.NewKey(t, "ES256", "es")
	p.SetKeys(k)
	o := newVerifier(t, p)
	with := func(extra map[string]any) (*auth.ExternalIdentity, error) {
		c := p.Claims("sub-1", "api")
		for n, v := range extra {
			c[n] = v
		}
		return o.Verify(context.Background(), oidctest.Sign(t, k, c))
	}
	for name, tt := range map[string]struct {
		extra    map[string]any
		scopes   string
		has      bool
		verified bool
	}{
		"none":               {nil, "", false, false},
		"scope":              {map[string]any{"scope": "openid links:read"}, "openid links:read", true, false},
		"empty scope":        {map[string]any{"scope": ""}, "", true, false},
		"scp list":           {map[string]any{"scp": []string{"links:read", "tags:read"}}, "links:read tags:read", true, false},
		"scp string":         {map[string]any{"scp": "links:read tags:read"}, "links:read tags:read", true, false},
		"scope beats scp":    {map[string]any{"scope": "links:read", "scp": []string{"admin:write"}}, "links:read", true, false},
		"verified":           {map[string]any{"email": "a@example.com", "email_verified": true}, "", false, true},
		"verified as string": {map[string]any{"email": "a@example.com", "email_verified": "true"}, "", false, false},
		"verified as number": {map[string]any{"email": "a@example.com", "email_verified": 1}, "", false, false},
		"verified false":     {map[string]any{"email": "a@example.com", "email_verified": false}, "", false, false},
	} {
		id, err := with(tt.extra)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Join(id.Scopes, " ") != tt.scopes || id.HasScopes != tt.has || id.EmailVerified != tt.verified {
			t.Errorf("%s: %+v, want scopes %q (%v), verified %v", name, id, tt.scopes, tt.has, tt.verified)
		}
	}
	for name, extra := range map[string]map[string]any{
		"scp a number":       {"scp": 42},
		"scope not a string": {"scope": []string{"links:read"}},
		"long subject":       {"sub": strings.Repeat("s", 256)},
	} {
		if id, err := with(extra); err == nil {
			t.Errorf("%s: %+v, nil; want an error", name, id)
		}
	}
}

// TestNewOIDCRefused checks the configuration NewOIDC refuses.
func TestNewOIDCRefused(t *testing.T) {
	for _, c := range []auth.OIDCConfig{
		{Issuer: "http://idp.example.com", Audience: "a"},
		{Issuer: "https://idp.example.com", Audience: " "},
	} {
		if _, err := auth.NewOIDC(context.Background(), c); err == nil {
			t.Errorf("NewOIDC(%+v) = nil error", c)
		}
	}
}

// TestOIDCBodyCap checks that a key set of exactly MaxBody bytes is read and a
// longer one refused, with or without a Content-Length.
func TestOIDCBodyCap(t *testing.T) {
	p := oidctest.New(t)
	k := oidctest.NewKey(t, "EdDSA", "ed")
	p.SetKeys(k)
	p.SetMode(oidctest.Huge)
	o := newVerifier(t, p)
	_, err := o.Verify(context.Background(), oidctest.Sign(t, k, p.Claims("s", "api")))
	if err == nil || !errors.Is(err, jwt.ErrTokenUnverifiable) {
		t.Errorf("Verify with a huge key set = %v, want an unverifiable token", err)
	}
}

// TestOIDCRefreshHonoursCacheLifetime checks the periodic refresh of the key
// set: after its answer's cache lifetime (max-age=0 here, so after
// UnknownKID), or after Refresh when the answer gives none, the set is fetched
// anew, so a key the provider dropped stops verifying without any unknown kid
// asking for it, and a new one verifies.
func TestOIDCRefreshHonoursCacheLifetime(t *testing.T) {
	for name, c := range map[string]struct {
		cacheControl        string
		refresh, unknownKID time.Duration
	}{
		"max-age=0":         {"max-age=0", time.Hour, 50 * time.Millisecond},
		"no cache lifetime": {"", 50 * time.Millisecond, time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			p := oidctest.New(t)
			k1, k2 := oidctest.NewKey(t, "ES256", "es-1"), oidctest.NewKey(t, "ES256", "es-2")
			p.SetKeys(k1, k2)
			p.SetCacheControl(c.cacheControl)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			o, err := auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: p.Issuer(), Audience: "api", Refresh: c.refresh, UnknownKID: c.unknownKID})
			if err != nil {
				t.Fatal(err)
			}
			tok1 := oidctest.Sign(t, k1, p.Claims("s", "api"))
			if _, err := o.Verify(ctx, tok1); err != nil {
				t.Fatal(err)
			}
			p.SetKeys(k2)
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if _, err := o.Verify(ctx, tok1); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a dropped key still verifies after %d fetches", p.JWKSFetches())
				}
			}
			if _, err := o.Verify(ctx, oidctest.Sign(t, k2, p.Claims("s", "api"))); err != nil {
				t.Errorf("the key kept: %v", err)
			}
		})
	}
}

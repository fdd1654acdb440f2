package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"linkapi/internal/auth"
	"linkapi/internal/auth/oidctest"
	"linkapi/internal/store/storetest"
)

// oidcAudience is the aud the test provider's tokens carry for linkapi.
const oidcAudience = "linkapi-test"

// startOIDCServer runs serve on dbURL accepting the tokens of p, with a request
// deadline of 2 seconds (so the provider's fetches are bounded by 1) and the
// account cache off.
func startOIDCServer(t *testing.T, dbURL string, p *oidctest.Provider, vars map[string]string) *testServer {
	t.Helper()
	all := map[string]string{
		"LINKAPI_OIDC_ISSUER": p.Issuer(), "LINKAPI_OIDC_AUDIENCE": oidcAudience,
		"LINKAPI_REQUEST_TIMEOUT": "2s", "LINKAPI_ACCOUNT_CACHE_TTL": "0s",
	}
	for k, v := range vars {
		all[k] = v
	}
	return startServerEnv(t, dbURL, nil, all)
}

// link links subject of p to the account, as linkapi account link does.
func (s *testServer) link(t *testing.T, p *oidctest.Provider, account int64, subject string) {
	t.Helper()
	if _, err := s.Store.LinkExternalIdentity(auth.NewContext(context.Background(), auth.System()), account, p.Issuer(), subject); err != nil {
		t.Fatal(err)
	}
}

// counts returns the rows of the tables a refused request must not touch.
func (s *testServer) counts(t *testing.T) [4]int64 {
	t.Helper()
	db := openDB(t, s.DBURL).SQL()
	var out [4]int64
	for i, table := range []string{"accounts", "links", "external_identities", "sessions"} {
		out[i] = queryInt(t, db, "SELECT COUNT(*) FROM "+table)
	}
	return out
}

// freshLike returns a new, empty database of dbURL's dialect.
func freshLike(t *testing.T, dbURL string) string {
	if strings.HasPrefix(dbURL, "mysql:") {
		return storetest.MySQLURL(t)
	}
	return storetest.SQLiteURL(t)
}

func wantMessage(t *testing.T, r *gqlResponse, part string) {
	t.Helper()
	wantInvalidToken(t, r)
	if !strings.Contains(r.Raw, part) {
		t.Errorf("body %s, want a message with %q", r.Raw, part)
	}
}

// TestOIDCTokensThroughServer accepts a provider's RS256, ES256 and EdDSA
// tokens for a linked identity beside our own tokens, follows a rotation of
// the provider's keys mid-test (one refetch on the unknown kid, the dropped
// keys refused after it, a second unknown kid within the minute refused
// without a fetch), and stops accepting an identity once it is unlinked.
func TestOIDCTokensThroughServer(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		p := oidctest.New(t)
		rs, es, ed := oidctest.NewKey(t, "RS256", "rs-1"), oidctest.NewKey(t, "ES256", "es-1"), oidctest.NewKey(t, "EdDSA", "ed-1")
		ed.NoAlg = true // pinned by its key type alone
		p.SetKeys(rs, es, ed)
		s := startOIDCServer(t, dbURL, p, nil)
		ann := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		s.link(t, p, ann, "ann-sub")
		own := s.login(t, "ann@example.com", "ann-password")

		for _, k := range []*oidctest.Key{rs, es, ed} {
			tok := oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience))
			if got := str(t, s.ok(t, tok, meQuery, nil), "me", "email"); got != "ann@example.com" {
				t.Errorf("%s token: me.email = %q", k.Alg, got)
			}
		}
		s.ok(t, oidctest.Sign(t, rs, p.Claims("ann-sub", oidcAudience)), createLinkMut, nil)
		if got := str(t, s.ok(t, own, meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("own token beside the provider's: me.email = %q", got)
		}
		// aud may be a list holding ours.
		c := p.Claims("ann-sub", oidcAudience)
		c["aud"] = []string{"another-api", oidcAudience}
		s.ok(t, oidctest.Sign(t, es, c), meQuery, nil)
		wantMessage(t, s.do(t, oidctest.Sign(t, rs, p.Claims("nobody-sub", oidcAudience)), meQuery, nil), "no account is linked to this identity")

		// Rotation: the provider drops rs-1 and ed-1 and signs with rs-2.
		fetches := p.JWKSFetches()
		rs2 := oidctest.NewKey(t, "RS256", "rs-2")
		p.SetKeys(rs2, es)
		old := oidctest.Sign(t, rs, p.Claims("ann-sub", oidcAudience))
		s.ok(t, old, meQuery, nil) // the cached set still has rs-1 until the refetch
		if got := str(t, s.ok(t, oidctest.Sign(t, rs2, p.Claims("ann-sub", oidcAudience)), meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("token of the new key: me.email = %q", got)
		}
		if got := p.JWKSFetches() - fetches; got != 1 {
			t.Errorf("the unknown kid made %d fetches of the key set, want 1", got)
		}
		wantInvalidToken(t, s.do(t, old, meQuery, nil))
		wantInvalidToken(t, s.do(t, oidctest.Sign(t, ed, p.Claims("ann-sub", oidcAudience)), meQuery, nil))
		s.ok(t, oidctest.Sign(t, es, p.Claims("ann-sub", oidcAudience)), meQuery, nil)
		// A second rotation within the minute: the unknown kid is refused without
		// a fetch (at most one refetch a minute), and retrying does not fetch.
		rs3 := oidctest.NewKey(t, "RS256", "rs-3")
		p.SetKeys(rs3, rs2, es)
		fetches = p.JWKSFetches()
		for range 3 {
			wantInvalidToken(t, s.do(t, oidctest.Sign(t, rs3, p.Claims("ann-sub", oidcAudience)), meQuery, nil))
		}
		if got := p.JWKSFetches() - fetches; got != 0 {
			t.Errorf("unknown kids within the minute made %d fetches, want 0", got)
		}

		// Unlinked, the identity's tokens stop at once; our own tokens go on.
		r := runCLIEnv(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret, "LINKAPI_OIDC_ISSUER": p.Issuer(), "LINKAPI_OIDC_AUDIENCE": oidcAudience},
			"", "account", "unlink", "--subject", "ann-sub", "--email", "ann@example.com")
		if r.Err != nil || !strings.Contains(r.Stdout, `unlinked subject "ann-sub"`) {
			t.Fatalf("account unlink: %v %s", r.Err, r.Stdout)
		}
		wantMessage(t, s.do(t, oidctest.Sign(t, es, p.Claims("ann-sub", oidcAudience)), meQuery, nil), "no account is linked")
		s.ok(t, own, meQuery, nil)
	})
}

// TestOIDCScopes checks the scopes of a provider's token: the local account's
// when the token has no scope claim, else those of its scope (or scp) claim
// that the account holds; names linkapi does not know (openid) are ignored.
func TestOIDCScopes(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		p := oidctest.New(t)
		k := oidctest.NewKey(t, "ES256", "es-1")
		p.SetKeys(k)
		s := startOIDCServer(t, dbURL, p, nil)
		ann := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		s.link(t, p, ann, "ann-sub")
		with := func(claim string, v any) string {
			c := p.Claims("ann-sub", oidcAudience)
			if claim != "" {
				c[claim] = v
			}
			return oidctest.Sign(t, k, c)
		}
		const createURL = `mutation($u: String!) { createLink(input: {url: $u}) { id } }`
		for i, tok := range []string{with("", nil), with("scope", "openid links:write"), with("scp", []string{"openid", "links:write"}), with("scp", "links:write")} {
			s.ok(t, tok, createURL, map[string]any{"u": "https://example.com/" + formatInt(int64(i))})
		}
		before := s.counts(t)
		for name, tok := range map[string]string{
			"scope links:read":   with("scope", "openid links:read"),
			"scope openid only":  with("scope", "openid profile email"),
			"empty scope":        with("scope", ""),
			"scp links:read":     with("scp", []string{"links:read"}),
			"scope tags:write":   with("scope", "tags:write account:read"),
			"scope stuffed name": with("scope", "links:write\u0000"),
		} {
			if r := s.do(t, tok, createLinkMut, nil); r.Code() != "FORBIDDEN" && r.Code() != "UNAUTHENTICATED" {
				t.Errorf("%s: createLink code %q, want FORBIDDEN (%s)", name, r.Code(), r.Raw)
			}
		}
		// admin:write asked of a non-admin account gives no admin, only what it
		// implies that the account holds (as for our own tokens).
		if r := s.do(t, with("scope", "admin:write admin:read"), `{ accounts { totalCount } }`, nil); r.Code() != "FORBIDDEN" {
			t.Errorf("admin scope on a non-admin account: %s, want FORBIDDEN", r.Raw)
		}
		wantInvalidToken(t, s.do(t, with("scp", 42), meQuery, nil))
		if after := s.counts(t); after != before {
			t.Errorf("refused requests changed the counts %v to %v", before, after)
		}
	})
}

// TestOIDCAttacks sends forged and misdirected tokens through the server: every
// one is refused with 401 UNAUTHENTICATED and writes nothing.
func TestOIDCAttacks(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		p := oidctest.New(t)
		rs, es := oidctest.NewKey(t, "RS256", "rs-1"), oidctest.NewKey(t, "ES256", "es-1")
		p.SetKeys(rs, es)
		s := startOIDCServer(t, dbURL, p, nil)
		ann := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		s.link(t, p, ann, "ann-sub")
		own := s.login(t, "ann@example.com", "ann-password")
		ours := auth.KeyID([]byte(testSecret))
		claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
			c := p.Claims("ann-sub", oidcAudience)
			if edit != nil {
				edit(c)
			}
			return c
		}
		hmac := func(key []byte, header map[string]any, c jwt.MapClaims) string {
			return mintTokenWithHeader(t, key, header, c)
		}
		stranger := oidctest.NewKey(t, "RS256", "rs-1") // same kid, not the provider's key
		attacks := map[string]string{
			// Algorithm confusion: HS256 with the provider's public key as the
			// HMAC secret, under the provider's iss and under ours.
			"HS256 with the provider's public key PEM": hmac(rs.PublicPEM(t), map[string]any{"kid": "rs-1"}, claims(nil)),
			"HS256 with the public key PEM, our iss": hmac(rs.PublicPEM(t), map[string]any{"kid": "rs-1"},
				validClaims(ann, "links:write account:read")),
			"HS256 with the public key PEM, our kid": hmac(rs.PublicPEM(t), map[string]any{"kid": ours}, claims(nil)),
			// Our HMAC key signing a token that claims the provider's iss.
			"HS256 with our key, provider iss": hmac([]byte(testSecret), map[string]any{"kid": ours}, claims(nil)),
			// A provider token whose kid names our HMAC key: under either iss.
			"RS256 with kid of our HMAC key": oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": ours}, claims(nil)),
			"RS256 with kid of our HMAC key, our iss": oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": ours},
				validClaims(ann, "links:write account:read")),
			// A key of the set used with another algorithm.
			"PS256 with the RSA key":     oidctest.SignWith(t, rs, jwt.SigningMethodPS256, map[string]any{"kid": "rs-1"}, claims(nil)),
			"RS384 with the RSA key":     oidctest.SignWith(t, rs, jwt.SigningMethodRS384, map[string]any{"kid": "rs-1"}, claims(nil)),
			"ES256 key under the RS kid": oidctest.SignWith(t, es, jwt.SigningMethodES256, map[string]any{"kid": "rs-1"}, claims(nil)),
			"alg none": func() string {
				s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
				return s
			}(),
			// Signatures and key selection.
			"another key under a known kid": oidctest.Sign(t, stranger, claims(nil)),
			"no kid":                        oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": nil}, claims(nil)),
			"kid not a string":              oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": 1}, claims(nil)),
			"kid as a path":                 oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": "../../jwks"}, claims(nil)),
			"jku to the attacker":           oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": "rs-1", "jku": "https://attacker.example/jwks"}, claims(nil)),
			"embedded jwk":                  oidctest.SignWith(t, stranger, jwt.SigningMethodRS256, map[string]any{"kid": "rs-1", "jwk": oidctest.JWK(stranger)}, claims(nil)),
			"x5u":                           oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": "rs-1", "x5u": "https://attacker.example/c.pem"}, claims(nil)),
			"crit":                          oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": "rs-1", "crit": []string{"exp"}}, claims(nil)),
			"typ of another kind":           oidctest.SignWith(t, rs, jwt.SigningMethodRS256, map[string]any{"kid": "rs-1", "typ": "dpop+jwt"}, claims(nil)),
			// Claims.
			"audience of another API": oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["aud"] = "another-api" })),
			"no audience":             oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { delete(c, "aud") })),
			"our audience only":       oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["aud"] = auth.Audience })),
			"issuer with a slash":     oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["iss"] = p.Issuer() + "/" })),
			"issuer of another case":  oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["iss"] = strings.ToUpper(p.Issuer()) })),
			"expired":                 oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["exp"] = jwt.NewNumericDate(time.Now().Add(-time.Minute)) })),
			"no exp":                  oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
			"not yet valid":           oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["nbf"] = jwt.NewNumericDate(time.Now().Add(10 * time.Minute)) })),
			"issued in the future":    oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["iat"] = jwt.NewNumericDate(time.Now().Add(10 * time.Minute)) })),
			"no subject":              oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { delete(c, "sub") })),
			"subject of another case": oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["sub"] = "ANN-SUB" })),
			"subject with a NUL":      oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["sub"] = "ann-sub\u0000" })),
			"subject as a number":     oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["sub"] = 42 })),
			"our account id as sub":   oidctest.Sign(t, rs, claims(func(c jwt.MapClaims) { c["sub"] = formatInt(ann) })),
		}
		before := s.counts(t)
		for name, tok := range attacks {
			t.Run(name, func(t *testing.T) {
				wantInvalidToken(t, s.do(t, tok, meQuery, nil))
				wantInvalidToken(t, s.do(t, tok, createLinkMut, nil))
			})
		}
		if after := s.counts(t); after != before {
			t.Errorf("refused requests changed the counts (accounts, links, identities, sessions) %v to %v", before, after)
		}
		s.ok(t, own, meQuery, nil)
		s.ok(t, oidctest.Sign(t, rs, claims(nil)), meQuery, nil)
	})
}

// TestOIDCAutoCreate checks LINKAPI_OIDC_AUTO_CREATE: a first token of an
// unlinked identity with email_verified true makes an account with
// LINKAPI_OIDC_DEFAULT_SCOPES, linked to it; without a verified email, with an
// email another account has, or with a bad email, nothing is made or linked.
func TestOIDCAutoCreate(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		p := oidctest.New(t)
		k := oidctest.NewKey(t, "EdDSA", "ed-1")
		p.SetKeys(k)
		s := startOIDCServer(t, dbURL, p, map[string]string{"LINKAPI_OIDC_AUTO_CREATE": "true", "LINKAPI_OIDC_DEFAULT_SCOPES": "links:write account:read"})
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		tok := func(sub string, extra map[string]any) string {
			c := p.Claims(sub, oidcAudience)
			for k, v := range extra {
				c[k] = v
			}
			return oidctest.Sign(t, k, c)
		}
		before := s.counts(t)
		for name, tk := range map[string]string{
			"unverified":                tok("s1", map[string]any{"email": "bob@example.com", "email_verified": false}),
			"verified as a string":      tok("s2", map[string]any{"email": "bob@example.com", "email_verified": "true"}),
			"verified claim missing":    tok("s3", map[string]any{"email": "bob@example.com"}),
			"no email":                  tok("s4", map[string]any{"email_verified": true}),
			"email of another account":  tok("s5", map[string]any{"email": "ANN@example.com", "email_verified": true}),
			"not an email":              tok("s6", map[string]any{"email": "not an email", "email_verified": true}),
			"verified, but wrong aud":   oidctest.Sign(t, k, jwt.MapClaims{"iss": p.Issuer(), "sub": "s7", "aud": "x", "exp": 4102444800, "email": "c@example.com", "email_verified": true}),
			"verified, but other issue": oidctest.Sign(t, k, jwt.MapClaims{"iss": p.Issuer() + "/x", "sub": "s8", "aud": oidcAudience, "exp": 4102444800, "email": "d@example.com", "email_verified": true}),
		} {
			t.Run(name, func(t *testing.T) { wantInvalidToken(t, s.do(t, tk, meQuery, nil)) })
		}
		if after := s.counts(t); after != before {
			t.Fatalf("refused first tokens changed the counts %v to %v", before, after)
		}

		bob := tok("bob-sub", map[string]any{"email": "Bob@Example.com", "email_verified": true})
		if got := str(t, s.ok(t, bob, meQuery, nil), "me", "email"); got != "bob@example.com" {
			t.Errorf("auto-created me.email = %q", got)
		}
		s.ok(t, bob, createLinkMut, nil)
		s.ok(t, bob, meQuery, nil)
		after := s.counts(t)
		if after[0] != before[0]+1 || after[2] != before[2]+1 {
			t.Errorf("auto-create made %d accounts and %d identities, want 1 and 1", after[0]-before[0], after[2]-before[2])
		}
		d := s.ok(t, bob, `{ me { scopes } }`, nil)
		if got := get(t, d, "me", "scopes"); len(got.([]any)) != 2 {
			t.Errorf("auto-created scopes = %v, want links:write account:read", got)
		}
		// Bob's password is nobody's: the account cannot be logged into with a guess.
		if r := s.do(t, "", `mutation { login(email: "bob@example.com", password: "") { accessToken } }`, nil); r.Code() == "" {
			t.Errorf("login of the auto-created account with an empty password: %s", r.Raw)
		}
	})
}

// providerWithAnn starts a provider publishing one key of alg, set up by
// before, and a server on a fresh database of dbURL's dialect where ann is
// linked to the provider's subject ann-sub.
func providerWithAnn(t *testing.T, dbURL, alg string, before func(*oidctest.Provider)) (*oidctest.Provider, *oidctest.Key, *testServer) {
	t.Helper()
	p := oidctest.New(t)
	k := oidctest.NewKey(t, alg, strings.ToLower(alg)+"-1")
	p.SetKeys(k)
	if before != nil {
		before(p)
	}
	s := startOIDCServer(t, freshLike(t, dbURL), p, nil)
	ann := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
	s.link(t, p, ann, "ann-sub")
	return p, k, s
}

// TestOIDCProviderFaults checks that a provider that is down, slow, answers a
// huge or junk key set, or a discovery document for another issuer, fails only
// its own tokens, with 401 within the request deadline, never 500 or a
// timeout, while our tokens keep working; and that a provider down at start-up
// is tried again on its next token.
func TestOIDCProviderFaults(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		for name, c := range map[string]struct {
			mode    oidctest.Mode
			message string // of the 401
			logged  string // why the fetch failed, in the server's log: a regular expression
		}{
			"down":          {oidctest.Down, "identity provider's keys are unavailable", `503 Service Unavailable`},
			"slow":          {oidctest.Slow, "token signing key is unknown", `(?i)timeout|deadline exceeded`}, // the client's timeout or, on a loaded machine, the request's deadline first
			"huge":          {oidctest.Huge, "token signing key is unknown", `identity provider answer too large`},
			"huge declared": {oidctest.HugeDeclared, "token signing key is unknown", `104857600 bytes, at most`},
			"junk":          {oidctest.Junk, "token signing key is unknown", `failed to decode JWK Set`},
			"bad key":       {oidctest.BadKey, "token signing key is unknown", `failed to create JWK`},
		} {
			mode := c.mode
			t.Run(name, func(t *testing.T) {
				p, k, s := providerWithAnn(t, dbURL, "RS256", func(p *oidctest.Provider) { p.SetMode(mode) })
				own := s.login(t, "ann@example.com", "ann-password")
				before := s.counts(t)
				for range 2 {
					wantMessage(t, s.do(t, oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience)), createLinkMut, nil), c.message)
				}
				if !regexp.MustCompile(c.logged).MatchString(s.Log.String()) {
					t.Errorf("log does not say %s:\n%s", c.logged, s.Log.String())
				}
				s.ok(t, own, meQuery, nil)
				if after := s.counts(t); after != before {
					t.Errorf("counts %v to %v", before, after)
				}
			})
		}

		t.Run("breaks after start", func(t *testing.T) {
			p, k, s := providerWithAnn(t, dbURL, "ES256", nil)
			s.ok(t, oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience)), meQuery, nil)
			p.SetMode(oidctest.Slow)
			k2 := oidctest.NewKey(t, "ES256", "es-2")
			p.SetKeys(k2)
			wantMessage(t, s.do(t, oidctest.Sign(t, k2, p.Claims("ann-sub", oidcAudience)), meQuery, nil), "token signing key is unknown")
			// The keys fetched before still verify: a failed fetch replaces nothing.
			s.ok(t, oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience)), meQuery, nil)
		})

		t.Run("down at start-up, then up", func(t *testing.T) {
			p, k, s := providerWithAnn(t, dbURL, "EdDSA", func(p *oidctest.Provider) { p.SetMode(oidctest.Down) })
			s.ok(t, s.login(t, "ann@example.com", "ann-password"), meQuery, nil)
			p.SetMode(oidctest.Serve)
			s.ok(t, oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience)), meQuery, nil)
		})

		t.Run("down throughout: discovery retried at most once a minute", func(t *testing.T) {
			p := oidctest.New(t)
			k := oidctest.NewKey(t, "EdDSA", "ed-1")
			p.SetKeys(k)
			p.SetMode(oidctest.Down)
			s := startOIDCServer(t, freshLike(t, dbURL), p, nil)
			n := p.DiscoveryFetches()
			for range 3 {
				wantMessage(t, s.do(t, oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience)), meQuery, nil), "identity provider's keys are unavailable")
			}
			if got := p.DiscoveryFetches() - n; got != 1 {
				t.Errorf("3 tokens retried discovery %d times, want 1", got)
			}
		})

		t.Run("discovery of another issuer", func(t *testing.T) {
			p, k, s := providerWithAnn(t, dbURL, "RS256", func(p *oidctest.Provider) { p.ClaimIssuer("https://attacker.example") })
			wantMessage(t, s.do(t, oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience)), meQuery, nil), "identity provider's keys are unavailable")
			if !strings.Contains(s.Log.String(), "is not LINKAPI_OIDC_ISSUER") {
				t.Errorf("log does not say why discovery failed:\n%s", s.Log.String())
			}
		})
	})
}

// TestOIDCConfigRefused runs every command with bad LINKAPI_OIDC_* settings:
// each refuses them before touching the database.
func TestOIDCConfigRefused(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/o.db"
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"LINKAPI_OIDC_ISSUER": "http://idp.example.com"}, "must be https"},
		{map[string]string{"LINKAPI_OIDC_ISSUER": "idp.example.com"}, "is not a URL"},
		{map[string]string{"LINKAPI_OIDC_ISSUER": "https://idp.example.com/?x=1", "LINKAPI_OIDC_AUDIENCE": "a"}, "is not a URL"},
		{map[string]string{"LINKAPI_OIDC_ISSUER": "https://idp.example.com"}, "LINKAPI_OIDC_AUDIENCE is required"},
		{map[string]string{"LINKAPI_OIDC_AUDIENCE": "a"}, "LINKAPI_OIDC_ISSUER is not"},
		{map[string]string{"LINKAPI_OIDC_AUTO_CREATE": "true"}, "LINKAPI_OIDC_ISSUER is not"},
		{map[string]string{"LINKAPI_OIDC_ISSUER": "https://idp.example.com", "LINKAPI_OIDC_AUDIENCE": "a", "LINKAPI_OIDC_AUTO_CREATE": "yes please"}, "LINKAPI_OIDC_AUTO_CREATE"},
		{map[string]string{"LINKAPI_OIDC_ISSUER": "https://idp.example.com", "LINKAPI_OIDC_AUDIENCE": "a", "LINKAPI_OIDC_DEFAULT_SCOPES": "links:write everything"}, "LINKAPI_OIDC_DEFAULT_SCOPES"},
	} {
		vars := map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret}
		for k, v := range c.vars {
			vars[k] = v
		}
		for _, args := range [][]string{{"migrate"}, {"account", "list"}, {"account", "link", "--email", "a@example.com", "--subject", "s"}} {
			if r := runCLIEnv(t, vars, "", args...); r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
				t.Errorf("linkapi %s with %v: %v, want an error with %q", strings.Join(args, " "), c.vars, r.Err, c.want)
			}
		}
		if _, err := runServeExpectingFailure(t, vars); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve with %v: %v, want an error with %q", c.vars, err, c.want)
		}
	}
}

// TestCLIAccountLink links and unlinks identities from the command line; bad
// input changes nothing.
func TestCLIAccountLink(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		p := oidctest.New(t)
		k := oidctest.NewKey(t, "RS256", "rs-1")
		p.SetKeys(k)
		s := startOIDCServer(t, dbURL, p, nil)
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		s.createAccount(t, "cy@example.com", "cy-password", "links:write", "account:write")
		vars := map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret}
		withIssuer := map[string]string{"LINKAPI_OIDC_ISSUER": p.Issuer(), "LINKAPI_OIDC_AUDIENCE": oidcAudience}
		for k, v := range vars {
			withIssuer[k] = v
		}
		tok := oidctest.Sign(t, k, p.Claims("ann-sub", oidcAudience))
		wantInvalidToken(t, s.do(t, tok, meQuery, nil))

		r := runCLIEnv(t, vars, "", "account", "link", "--email", "ann@example.com", "--issuer", p.Issuer(), "--subject", "ann-sub")
		if r.Err != nil || !strings.Contains(r.Stdout, `linked subject "ann-sub" of `+p.Issuer()+" to account") {
			t.Fatalf("account link: %v %q", r.Err, r.Stdout)
		}
		if got := str(t, s.ok(t, tok, meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("linked token: me.email = %q", got)
		}
		before := s.counts(t)
		for _, c := range []struct {
			vars map[string]string
			args []string
			want string
		}{
			{withIssuer, []string{"account", "link", "--email", "cy@example.com", "--subject", "ann-sub"}, "already exists"},
			{withIssuer, []string{"account", "link", "--email", "ann@example.com", "--subject", "ann-sub"}, "already exists"},
			{withIssuer, []string{"account", "link", "--email", "nobody@example.com", "--subject", "x"}, "no account has email"},
			{withIssuer, []string{"account", "link", "--email", "ann@example.com"}, "--subject is required"},
			{vars, []string{"account", "link", "--email", "ann@example.com", "--subject", "x"}, "--issuer unless LINKAPI_OIDC_ISSUER"},
			{withIssuer, []string{"account", "link", "--email", "ann@example.com", "--subject", strings.Repeat("x", 256)}, "subject must be 1 to 255 bytes"},
			{withIssuer, []string{"account", "link", "--subject", "x"}, "--email is required"},
			{withIssuer, []string{"account", "unlink", "--subject", "nobody-sub"}, "not found"},
			{withIssuer, []string{"account", "unlink", "--subject", "ann-sub", "--email", "cy@example.com"}, "is not linked to cy@example.com"},
			{withIssuer, []string{"account", "unlink", "--subject", "ANN-SUB"}, "not found"},
			{vars, []string{"account", "unlink", "--subject", "ann-sub"}, "--issuer unless LINKAPI_OIDC_ISSUER"},
		} {
			if r := runCLIEnv(t, c.vars, "", c.args...); r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
				t.Errorf("linkapi %s: %v, want an error with %q", strings.Join(c.args, " "), r.Err, c.want)
			}
		}
		if after := s.counts(t); after != before {
			t.Errorf("refused commands changed the counts %v to %v", before, after)
		}
		s.ok(t, tok, meQuery, nil)
		// Deleting the account ends its identities with it.
		if r := runCLIEnv(t, vars, "", "account", "delete", "--email", "ann@example.com"); r.Err != nil {
			t.Fatal(r.Err)
		}
		wantInvalidToken(t, s.do(t, tok, meQuery, nil))
		if got := queryInt(t, openDB(t, dbURL).SQL(), "SELECT COUNT(*) FROM external_identities"); got != 0 {
			t.Errorf("identities after the account's deletion: %d, want 0", got)
		}
	})
}

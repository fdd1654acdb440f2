package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// otherSecret is a valid-length key that is not the server's.
const otherSecret = "another-secret-another-secret-0123456789abcdef"

// validClaims returns the claims of a token the server should accept for account
// id with the given scope: HS256 claims as the server issues them, iat in
// milliseconds.
func validClaims(id int64, scope string) jwt.MapClaims {
	now := time.Now()
	ms := now.UnixMilli()
	return jwt.MapClaims{
		"sub":   strconv.FormatInt(id, 10),
		"scope": scope,
		"iss":   "linkapi",
		"aud":   "linkapi",
		"exp":   now.Add(10 * time.Minute).Unix(),
		"iat":   json.Number(fmt.Sprintf("%d.%03d", ms/1000, ms%1000)),
		"jti":   fmt.Sprintf("test-%d", now.UnixNano()),
	}
}

// mintToken signs claims with method and key.
func mintToken(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("signing a test token: %v", err)
	}
	return token
}

// tokenPayload decodes the claims of a JWT without verifying it.
func tokenPayload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q does not have three parts", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return claims
}

// idString formats a database id as a GraphQL ID.
func idString(id int64) string { return strconv.FormatInt(id, 10) }

// doAuthHeader posts query with the Authorization header set to header verbatim.
func (s *testServer) doAuthHeader(t *testing.T, header, query string) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", header)
	return s.send(t, req)
}

// wantInvalidToken fails t unless r is the refusal of a bad bearer token: 401,
// WWW-Authenticate: Bearer error="invalid_token", code UNAUTHENTICATED, no data.
func wantInvalidToken(t *testing.T, r *gqlResponse) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401 (body %s)", r.Status, r.Raw)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q, want %q", got, `Bearer error="invalid_token"`)
	}
	if got := r.Code(); got != "UNAUTHENTICATED" {
		t.Errorf("code = %q, want UNAUTHENTICATED (body %s)", got, r.Raw)
	}
	if r.Data != nil {
		t.Errorf("data = %v, want none", r.Data)
	}
}

// wantCode fails t unless the first error of r has code want.
func wantCode(t *testing.T, r *gqlResponse, want string) {
	t.Helper()
	if got := r.Code(); got != want {
		t.Errorf("code = %q, want %q (status %d, body %s)", got, want, r.Status, r.Raw)
	}
}

const (
	meQuery         = `{ me { id email } }`
	linksCountQuery = `{ links { totalCount } }`
	createLinkMut   = `mutation { createLink(input: {url: "https://example.com/new"}) { id } }`
)

// TestForgedTokensAreRefused sends tokens that are bad in every way the contract
// names and expects each to be refused with 401 before any GraphQL runs.
func TestForgedTokensAreRefused(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")

		// The control: a token minted like the server's is accepted, so the
		// refusals below are about what each one changes.
		good := mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), validClaims(id, "links:read account:read"))
		if got := str(t, s.ok(t, good, meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Fatalf("control token: me.email = %q, want ann@example.com", got)
		}
		r := s.do(t, good, createLinkMut, nil)
		wantCode(t, r, "FORBIDDEN")

		tampered := func() string {
			parts := strings.Split(good, ".")
			claims := tokenPayload(t, good)
			claims["scope"] = "links:write admin:write account:write"
			raw, _ := json.Marshal(claims)
			parts[1] = base64.RawURLEncoding.EncodeToString(raw)
			return strings.Join(parts, ".")
		}()

		without := func(claim string) jwt.MapClaims {
			c := validClaims(id, "links:read account:read")
			delete(c, claim)
			return c
		}
		with := func(claim string, v any) jwt.MapClaims {
			c := validClaims(id, "links:read account:read")
			c[claim] = v
			return c
		}
		noneToken := mintToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(id, "links:read account:read"))

		cases := []struct {
			name  string
			token string
		}{
			{"tampered payload", tampered},
			{"alg none", noneToken},
			{"alg none without trailing dot", strings.TrimSuffix(noneToken, ".")},
			{"wrong key", mintToken(t, jwt.SigningMethodHS256, []byte(otherSecret), validClaims(id, "links:read account:read"))},
			{"HS512 with the right key", mintToken(t, jwt.SigningMethodHS512, []byte(testSecret), validClaims(id, "links:read account:read"))},
			{"HS384 with the right key", mintToken(t, jwt.SigningMethodHS384, []byte(testSecret), validClaims(id, "links:read account:read"))},
			{"expired", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), with("exp", time.Now().Add(-5*time.Minute).Unix()))},
			{"wrong issuer", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), with("iss", "someone-else"))},
			{"no issuer", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), without("iss"))},
			{"wrong audience", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), with("aud", "another-api"))},
			{"no audience", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), without("aud"))},
			{"missing exp", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), without("exp"))},
			{"unknown account", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), with("sub", "987654321"))},
			{"subject not an id", mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), with("sub", "ann@example.com"))},
			{"not a JWT", "not-a-jwt"},
			{"truncated signature", good[:len(good)-4]},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantInvalidToken(t, s.do(t, c.token, meQuery, nil))
				// A write with the bad token changes nothing.
				wantInvalidToken(t, s.do(t, c.token, createLinkMut, nil))
			})
		}
		if got := get(t, s.ok(t, good, linksCountQuery, nil), "links", "totalCount"); got != float64(0) {
			t.Errorf("links after the refused writes: totalCount = %v, want 0", got)
		}
	})
}

// TestMalformedAuthorizationHeader checks headers that are present but not a
// bearer token.
func TestMalformedAuthorizationHeader(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")
		for _, header := range []string{
			"Basic x",
			"Basic " + base64.StdEncoding.EncodeToString([]byte("ann@example.com:ann-password")),
			"Bearer",
			"Bearer ",
			"Token " + token,
			token,
		} {
			t.Run(header, func(t *testing.T) {
				wantInvalidToken(t, s.doAuthHeader(t, header, meQuery))
			})
		}
		// The same token in a well-formed header works.
		if got := str(t, s.ok(t, token, meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("me.email = %q, want ann@example.com", got)
		}
	})
}

// TestMissingAuthorizationIsAnonymous checks that no header is not a 401 but an
// anonymous caller, refused field by field.
func TestMissingAuthorizationIsAnonymous(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		r := s.do(t, "", meQuery, nil)
		if r.Status != http.StatusOK {
			t.Errorf("status = %d, want 200 (body %s)", r.Status, r.Raw)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("WWW-Authenticate = %q, want none", got)
		}
		wantCode(t, r, "UNAUTHENTICATED")
		if r.Data != nil && r.Data["me"] != nil {
			t.Errorf("data.me = %v, want null", r.Data["me"])
		}
		// A login, which needs no scope, works anonymously.
		s.createAccount(t, "ann@example.com", "ann-password", "account:write")
		s.login(t, "ann@example.com", "ann-password")
	})
}

// TestTokenOfDeletedAccount checks that a token stops working when its account is
// deleted after it was issued.
func TestTokenOfDeletedAccount(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")
		minted := mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), validClaims(id, "account:write links:write"))
		s.ok(t, token, meQuery, nil)

		d := s.ok(t, token, `mutation($id: ID!) { deleteAccount(id: $id) }`, map[string]any{"id": idString(id)})
		if got := str(t, d, "deleteAccount"); got != idString(id) {
			t.Errorf("deleteAccount = %q, want %q", got, idString(id))
		}
		wantInvalidToken(t, s.do(t, token, meQuery, nil))
		wantInvalidToken(t, s.do(t, minted, linksCountQuery, nil))
		wantInvalidToken(t, s.do(t, token, createLinkMut, nil))
	})
}

// TestTokenIssuedBeforePasswordChange checks that changing the password retires
// earlier tokens and that a login after the change works.
func TestTokenIssuedBeforePasswordChange(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "old-password", "links:write", "account:write")
		old := s.login(t, "ann@example.com", "old-password")
		other := s.login(t, "ann@example.com", "old-password")

		d := s.ok(t, old, `mutation { changePassword(currentPassword: "old-password", newPassword: "new-password") }`, nil)
		if got := get(t, d, "changePassword"); got != true {
			t.Fatalf("changePassword = %v, want true", got)
		}
		wantInvalidToken(t, s.do(t, old, meQuery, nil))
		wantInvalidToken(t, s.do(t, other, createLinkMut, nil))

		r := s.do(t, "", `mutation { login(email: "ann@example.com", password: "old-password") { accessToken } }`, nil)
		wantCode(t, r, "UNAUTHENTICATED")

		fresh := s.login(t, "ann@example.com", "new-password")
		if got := str(t, s.ok(t, fresh, meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("me.email with the new token = %q, want ann@example.com", got)
		}
		s.ok(t, fresh, createLinkMut, nil)
		// The old token stays refused after the new one has been used.
		wantInvalidToken(t, s.do(t, old, meQuery, nil))
	})
}

// TestScopesNarrowedAfterIssue checks that a token's scopes are cut down to the
// account's current ones on every request.
func TestScopesNarrowedAfterIssue(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "root@example.com", "root-password", "admin:write")
		token := s.login(t, "ann@example.com", "ann-password")
		admin := s.login(t, "root@example.com", "root-password")

		s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/before"}) { id } }`, nil)

		d := s.ok(t, admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: ["links:read", "account:read"]) { scopes } }`,
			map[string]any{"id": idString(id)})
		if got := fmt.Sprint(get(t, d, "setAccountScopes", "scopes")); got != "[links:read account:read]" {
			t.Errorf("scopes after setAccountScopes = %s, want [links:read account:read]", got)
		}

		r := s.do(t, token, createLinkMut, nil)
		if r.Status != http.StatusOK {
			t.Errorf("status = %d, want 200: the token is still valid, only narrower", r.Status)
		}
		wantCode(t, r, "FORBIDDEN")
		wantCode(t, s.do(t, token, `mutation { createTag(input: {name: "go"}) { id } }`, nil), "FORBIDDEN")

		if got := get(t, s.ok(t, token, linksCountQuery, nil), "links", "totalCount"); got != float64(1) {
			t.Errorf("links.totalCount = %v, want 1 (links:read remains; the refused createLink wrote nothing)", got)
		}
		wantCode(t, s.do(t, token, `{ tags { totalCount } }`, nil), "FORBIDDEN")
	})
}

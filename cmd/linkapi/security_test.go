package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"linkapi/internal/auth"
)

// mintTokenWithHeader signs claims with HS256 and key, with extra JOSE header
// parameters.
func mintTokenWithHeader(t *testing.T, key []byte, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing a test token: %v", err)
	}
	return s
}

// TestBearerTokenOver8KiBRefused checks that a bearer token longer than 8 KiB is
// refused with 401 before it is parsed, even when it is validly signed, and that
// one just within the limit works (RFC 8725 and issue 4: "tokens over 8 KiB
// refused before parsing").
func TestBearerTokenOver8KiBRefused(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		padded := func(n int) string {
			c := validClaims(id, "links:read account:read")
			c["pad"] = strings.Repeat("x", n)
			return mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), c)
		}
		base := len(padded(0))
		within := padded((auth.MaxTokenBytes - base) * 3 / 4)
		for len(within) > auth.MaxTokenBytes {
			within = padded((auth.MaxTokenBytes-base)*3/4 - (len(within) - auth.MaxTokenBytes))
		}
		over := padded((auth.MaxTokenBytes-base)*3/4 + 16)
		if len(within) > 8192 || len(within) < 8100 || len(over) <= 8192 {
			t.Fatalf("test tokens of %d and %d bytes do not straddle 8 KiB", len(within), len(over))
		}

		if got := str(t, s.ok(t, within, meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("token of %d bytes: me.email = %q, want ann@example.com", len(within), got)
		}
		r := s.do(t, over, meQuery, nil)
		wantInvalidToken(t, r)
		wantInvalidToken(t, s.do(t, over, createLinkMut, nil))
		wantInvalidToken(t, s.do(t, strings.Repeat("A", 64<<10), meQuery, nil))
		if got := get(t, s.ok(t, within, linksCountQuery, nil), "links", "totalCount"); got != float64(0) {
			t.Errorf("links after the refused write: totalCount = %v, want 0", got)
		}
	})
}

// TestBearerTokenKeyHeadersRefused checks RFC 8725 3.1 and 3.10 through the
// server: a token signed with the right key whose header carries crit, jku, x5u,
// jwk or x5c is refused, and kid selects only among our keys (a kid naming
// another is refused; one naming ours still needs its signature).
func TestBearerTokenKeyHeadersRefused(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		claims := func() jwt.MapClaims { return validClaims(id, "links:read account:read") }
		key := []byte(testSecret)
		for name, v := range map[string]any{
			"crit":     []string{"exp"},
			"jku":      "https://attacker.example/jwks.json",
			"x5u":      "https://attacker.example/cert.pem",
			"jwk":      map[string]any{"kty": "oct", "k": "dGVzdC1zZWNyZXQ"},
			"x5c":      []string{"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"},
			"x5t#S256": "dGh1bWJwcmludA",
		} {
			t.Run(name, func(t *testing.T) {
				tok := mintTokenWithHeader(t, key, map[string]any{name: v}, claims())
				wantInvalidToken(t, s.do(t, tok, meQuery, nil))
				wantInvalidToken(t, s.do(t, tok, createLinkMut, nil))
			})
		}
		t.Run("kid", func(t *testing.T) {
			// kid selects only among our keys: one naming none of them is refused
			// even with our key's signature.
			for _, kid := range []any{"another-key", "../../../../dev/null", "' OR '1'='1", "", 7, auth.KeyID([]byte(otherSecret))} {
				tok := mintTokenWithHeader(t, key, map[string]any{"kid": kid}, claims())
				wantInvalidToken(t, s.do(t, tok, meQuery, nil))
				wantInvalidToken(t, s.do(t, tok, createLinkMut, nil))
			}
			ours := auth.KeyID(key)
			if got := str(t, s.ok(t, mintTokenWithHeader(t, key, map[string]any{"kid": ours}, claims()), meQuery, nil), "me", "email"); got != "ann@example.com" {
				t.Errorf("kid of our key: me.email = %q, want ann@example.com", got)
			}
			wantInvalidToken(t, s.do(t, mintTokenWithHeader(t, []byte{}, map[string]any{"kid": ours}, claims()), meQuery, nil))
			wantInvalidToken(t, s.do(t, mintTokenWithHeader(t, []byte(otherSecret), map[string]any{"kid": ours}, claims()), meQuery, nil))
		})
		if got := get(t, s.ok(t, mintToken(t, jwt.SigningMethodHS256, key, claims()), linksCountQuery, nil), "links", "totalCount"); got != float64(0) {
			t.Errorf("links after the refused writes: totalCount = %v, want 0", got)
		}
	})
}

// TestBearerTokenExpiryLeeway checks that the server allows 30 seconds of clock
// skew on exp and no more: a token expired 10 seconds ago works, one expired 31
// seconds ago is refused.
func TestBearerTokenExpiryLeeway(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		expiredAgo := func(d time.Duration) string {
			// iat stays now: an earlier one would predate the account's
			// password, which refuses the token for another reason.
			c := validClaims(id, "links:read account:read")
			c["exp"] = time.Now().Add(-d).Unix()
			return mintToken(t, jwt.SigningMethodHS256, []byte(testSecret), c)
		}
		// exp is in whole seconds: truncating now makes "10s ago" at most 11s.
		if got := str(t, s.ok(t, expiredAgo(10*time.Second), meQuery, nil), "me", "email"); got != "ann@example.com" {
			t.Errorf("expired 10s ago: me.email = %q, want ann@example.com", got)
		}
		wantInvalidToken(t, s.do(t, expiredAgo(31*time.Second), meQuery, nil))
		wantInvalidToken(t, s.do(t, expiredAgo(5*time.Minute), meQuery, nil))
	})
}

// TestCommonPasswordsRefusedEverywhere checks that createAccount, changePassword
// and `account create` refuse a common password with BAD_USER_INPUT, whatever
// its case, and change nothing.
func TestCommonPasswordsRefusedEverywhere(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		admin := adminToken(t, s)
		const createAcc = `mutation($e: String!, $p: String!) { createAccount(input: {email: $e, password: $p}) { id } }`
		before := get(t, s.ok(t, admin, `{ accounts { totalCount } }`, nil), "accounts", "totalCount")
		for _, p := range []string{"password123", "Password1", "QWERTY123", "iloveyou", "1q2w3e4r5t"} {
			r := s.do(t, admin, createAcc, map[string]any{"e": "carl@example.com", "p": p})
			wantCode(t, r, "BAD_USER_INPUT")
		}
		if got := get(t, s.ok(t, admin, `{ accounts { totalCount } }`, nil), "accounts", "totalCount"); got != before {
			t.Errorf("accounts after the refused creates: totalCount = %v, want %v", got, before)
		}
		s.ok(t, admin, createAcc, map[string]any{"e": "carl@example.com", "p": "carl-long-password"})

		s.createAccount(t, "ann@example.com", "ann-password", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		const change = `mutation($old: String!, $new: String!) { changePassword(currentPassword: $old, newPassword: $new) }`
		for _, p := range []string{"sunshine1", "Football", "trustno1"} {
			wantCode(t, s.do(t, ann, change, map[string]any{"old": "ann-password", "new": p}), "BAD_USER_INPUT")
		}
		// The password is unchanged and the token still works.
		s.ok(t, ann, meQuery, nil)
		s.login(t, "ann@example.com", "ann-password")

		failCLI(t, s.DBURL, "Password123\n", "account", "create", "--email", "dora@example.com", "--password-stdin")
		if _, ok := listedScopes(t, s.DBURL, "dora@example.com"); ok {
			t.Errorf("account create with a common password created dora@example.com")
		}
		okCLI(t, s.DBURL, "dora-long-password\n", "account", "create", "--email", "dora@example.com", "--password-stdin")
	})
}

// TestFailedLoginsRateLimited checks the brute-force limit through the server:
// failed logins for one email run out after auth.DefaultFailureLimits'
// allowance, then even the right password gets RATE_LIMITED with a retry-after
// hint in the message and extensions.retryAfter; right passwords within the
// allowance work and spend nothing; another account is unaffected.
func TestFailedLoginsRateLimited(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "account:write")
		limits := auth.DefaultFailureLimits()
		burst := limits.PerAccount.Burst
		fail := func(email string) *gqlResponse {
			return s.do(t, "", loginMut, map[string]any{"e": email, "p": "wrong-password"})
		}

		for range burst - 1 {
			wantCode(t, fail("ann@example.com"), "UNAUTHENTICATED")
		}
		// Within the allowance the right password works, and spends nothing.
		for range 3 {
			s.login(t, "ann@example.com", "ann-password")
		}
		wantCode(t, fail("ANN@example.com"), "UNAUTHENTICATED")

		r := s.do(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ann-password"})
		wantCode(t, r, "RATE_LIMITED")
		if r.Status != http.StatusOK || (r.Data != nil && r.Data["login"] != nil) {
			t.Errorf("rate-limited login: status %d, data %v; want 200 and no token", r.Status, r.Data)
		}
		if len(r.Errors) > 0 {
			retry, _ := r.Errors[0].Extensions["retryAfter"].(float64)
			if retry < 1 || retry > limits.PerAccount.Every.Seconds() {
				t.Errorf("extensions.retryAfter = %v, want 1 to %v seconds", r.Errors[0].Extensions["retryAfter"], limits.PerAccount.Every.Seconds())
			}
			if want := fmt.Sprintf("%d seconds", int(retry)); !strings.Contains(r.Errors[0].Message, want) {
				t.Errorf("message %q lacks the hint %q", r.Errors[0].Message, want)
			}
		}
		// An unknown email is limited alike, so the limit tells nothing of which exist.
		for range burst {
			wantCode(t, fail("nobody@example.com"), "UNAUTHENTICATED")
		}
		unknown := fail("nobody@example.com")
		wantCode(t, unknown, "RATE_LIMITED")
		if len(unknown.Errors) > 0 && len(r.Errors) > 0 && !slices.Equal(strings.Fields(unknown.Errors[0].Message)[:3], strings.Fields(r.Errors[0].Message)[:3]) {
			t.Errorf("messages differ: unknown email %q, known %q", unknown.Errors[0].Message, r.Errors[0].Message)
		}
		s.login(t, "bob@example.com", "bob-password")
	})
}

// TestSearchWildcardsAreLiteral checks that %, _, \ and the escape character !
// in links(search:) match themselves only, on every database (MySQL reads \ as
// LIKE's default escape character, so this is where it would show).
func TestSearchWildcardsAreLiteral(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		_, token := owner(t, s, "ann@example.com")
		for _, l := range []struct{ url, title string }{
			{"https://e.test/1", `C:\temp`},
			{"https://e.test/2", `C:temp`},
			{"https://e.test/3", `100% pure`},
			{"https://e.test/4", `1000 pure`},
			{"https://e.test/5", `a_b`},
			{"https://e.test/6", `axb`},
			{"https://e.test/7", `50\% off`},
			{"https://e.test/8", `wow!`},
			{"https://e.test/9", `bang!_x`},
			{"https://e.test/10", `a\_b`},
			{"https://e.test/11", `x\\y`},
		} {
			s.ok(t, token, `mutation($u: String!, $t: String) { createLink(input: {url: $u, title: $t}) { id } }`,
				map[string]any{"u": l.url, "t": l.title})
		}
		for _, c := range []struct {
			search string
			want   []string
		}{
			{`\`, []string{"https://e.test/1", "https://e.test/10", "https://e.test/11", "https://e.test/7"}},
			{`:\t`, []string{"https://e.test/1"}},
			{`\%`, []string{"https://e.test/7"}},
			{`\_`, []string{"https://e.test/10"}},
			{`\\`, []string{"https://e.test/11"}},
			{`%`, []string{"https://e.test/3", "https://e.test/7"}},
			{`0%`, []string{"https://e.test/3"}},
			{`_`, []string{"https://e.test/10", "https://e.test/5", "https://e.test/9"}},
			{`a_b`, []string{"https://e.test/5"}},
			{`!`, []string{"https://e.test/8", "https://e.test/9"}},
			{`!_`, []string{"https://e.test/9"}},
			{`!%`, []string{}},
			{`%%`, []string{}},
			{`__`, []string{}},
			{`\\\`, []string{}},
		} {
			t.Run(c.search, func(t *testing.T) {
				d := s.ok(t, token, `query($q: String) { links(search: $q) { totalCount nodes { url } } }`, map[string]any{"q": c.search})
				nodes, _ := get(t, d, "links", "nodes").([]any)
				got := []string{}
				for i := range nodes {
					got = append(got, str(t, nodes, i, "url"))
				}
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Errorf("links(search: %q) = %v, want %v", c.search, got, c.want)
				}
				if n := get(t, d, "links", "totalCount"); n != float64(len(c.want)) {
					t.Errorf("links(search: %q).totalCount = %v, want %d", c.search, n, len(c.want))
				}
			})
		}
	})
}

// TestFailedLoginsLimitedPerClientAddress spends one address's allowance across
// many emails; behind a trusted proxy the address comes from X-Forwarded-For, so
// another client keeps its own allowance.
func TestFailedLoginsLimitedPerClientAddress(t *testing.T) {
	// The default allowance refills one attempt every 5 seconds, which a loaded
	// machine can reach while the burst's password checks run: the test's
	// allowance has the default burst and refills once an hour.
	limits := auth.DefaultFailureLimits()
	limits.PerAddr.Every = time.Hour
	s := startServerOpts(t, "sqlite:"+t.TempDir()+"/a.db", nil, map[string]string{"LINKAPI_TRUSTED_PROXIES": "127.0.0.1/32"},
		func(p *Program) { p.FailureLimits = &limits })
	s.createAccount(t, "ann@example.com", "ann-password", "account:write")
	burst := limits.PerAddr.Burst
	login := func(from, email, password string) *gqlResponse {
		body := fmt.Sprintf(`{"query":%q,"variables":{"e":%q,"p":%q}}`, loginMut, email, password)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		return s.send(t, req)
	}
	for i := range burst {
		wantCode(t, login("203.0.113.7", fmt.Sprintf("guess%d@example.com", i), "wrong-password"), "UNAUTHENTICATED")
	}
	wantCode(t, login("203.0.113.7", "ann@example.com", "ann-password"), "RATE_LIMITED")
	if r := login("198.51.100.9", "ann@example.com", "ann-password"); len(r.Errors) > 0 {
		t.Errorf("another client address: got %s, want a token", r.Raw)
	}
}

// TestChangePasswordGuessesAreLimited: a stolen token cannot be used to guess
// its account's password through changePassword any faster than through login.
func TestChangePasswordGuessesAreLimited(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/cp.db")
	s.createAccount(t, "ann@example.com", "ann-password", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	change := `mutation($c: String!) { changePassword(currentPassword: $c, newPassword: "brand-new-password-1") }`
	for i := range auth.DefaultFailureLimits().PerAccount.Burst {
		wantCode(t, s.do(t, token, change, map[string]any{"c": fmt.Sprintf("guess-%d", i)}), "BAD_USER_INPUT")
	}
	wantCode(t, s.do(t, token, change, map[string]any{"c": "ann-password"}), "RATE_LIMITED")
	// Nothing changed: the old token still works.
	s.ok(t, token, `{ me { email } }`, nil)
}

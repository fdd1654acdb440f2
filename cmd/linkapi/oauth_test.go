package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"linkapi/internal/auth"
)

// oauthAnswer is an answer of POST /oauth/token.
type oauthAnswer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// oauthPost sends a token request with the given form and content type.
func oauthPost(t *testing.T, s *testServer, method, contentType, body string, header map[string]string) *oauthAnswer {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+"/oauth/token", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := &oauthAnswer{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		t.Fatalf("token endpoint answered no JSON (status %d): %s", res.StatusCode, raw)
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q: want no-store, no-cache", res.Header.Get("Cache-Control"), res.Header.Get("Pragma"))
	}
	return a
}

func oauthForm(t *testing.T, s *testServer, form url.Values) *oauthAnswer {
	t.Helper()
	return oauthPost(t, s, http.MethodPost, "application/x-www-form-urlencoded", form.Encode(), nil)
}

// TestOAuthToken runs both grants of /oauth/token through the real server:
// RFC 6749 5.1 answers whose tokens work, scope narrowing, and rotation.
func TestOAuthToken(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", auth.DefaultScopes...)
		a := oauthForm(t, s, url.Values{"grant_type": {"password"}, "username": {"ann@example.com"}, "password": {"ann-password"}})
		if a.Status != http.StatusOK {
			t.Fatalf("password grant: %d %s", a.Status, a.Raw)
		}
		access, _ := a.Body["access_token"].(string)
		refresh, _ := a.Body["refresh_token"].(string)
		if a.Body["token_type"] != "Bearer" || a.Body["expires_in"] != float64(900) || a.Body["scope"] != "links:write tags:write account:write" ||
			!strings.HasPrefix(refresh, auth.RefreshTokenPrefix) {
			t.Errorf("password grant answer: %s", a.Raw)
		}
		if !sessWorks(t, s, access) {
			t.Error("the access token of the password grant is refused")
		}
		if tokenPayload(t, access)["sid"] == nil {
			t.Error("the access token of the password grant has no sid")
		}

		narrow := oauthForm(t, s, url.Values{"grant_type": {"password"}, "username": {"Ann@Example.com"}, "password": {"ann-password"}, "scope": {"links:read"}})
		if narrow.Status != http.StatusOK || narrow.Body["scope"] != "links:read" {
			t.Fatalf("narrowed password grant: %d %s", narrow.Status, narrow.Raw)
		}
		if r := s.do(t, narrow.Body["access_token"].(string), `mutation { createTag(input: {name: "x"}) { id } }`, nil); r.Code() != "FORBIDDEN" {
			t.Errorf("a links:read token wrote: %s", r.Raw)
		}

		b := oauthForm(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "scope": {"links:read account:read"}})
		if b.Status != http.StatusOK || b.Body["scope"] != "links:read account:read" {
			t.Fatalf("refresh grant: %d %s", b.Status, b.Raw)
		}
		if tokenPayload(t, b.Body["access_token"].(string))["sid"] != tokenPayload(t, access)["sid"] {
			t.Error("the refresh grant left the session")
		}
		if !sessWorks(t, s, b.Body["access_token"].(string)) {
			t.Error("the access token of the refresh grant is refused")
		}
		again := oauthForm(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		if again.Status != http.StatusBadRequest || again.Body["error"] != "invalid_grant" {
			t.Errorf("a spent refresh token: %d %s", again.Status, again.Raw)
		}
		// The same session goes on through GraphQL.
		if _, r := sessRefreshWith(t, s, "", b.Body["refresh_token"].(string)); r.Code() != "" {
			t.Errorf("refreshSession with the refresh grant's token: %s", r.Raw)
		}

		m := oauthPost(t, s, http.MethodGet, "", "", nil)
		if m.Status != http.StatusBadRequest || m.Body["error"] != "invalid_request" {
			t.Errorf("GET /oauth/token: %d %s", m.Status, m.Raw)
		}
	})
}

// TestOAuthTokenRefusals sends bad token requests: each gets its RFC 6749 5.2
// error and status, and writes nothing.
func TestOAuthTokenRefusals(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		db := openDB(t, s.DBURL).SQL()
		s.createAccount(t, "ann@example.com", "ann-password", auth.DefaultScopes...)
		live := sessLoginAs(t, s, "ann@example.com", "ann-password")
		form := "application/x-www-form-urlencoded"
		pw := "grant_type=password&username=ann%40example.com&password=ann-password"
		cases := []struct {
			name, contentType, body string
			header                  map[string]string
			status                  int
			code                    string
		}{
			{"JSON body", "application/json", `{"grant_type":"password","username":"ann@example.com","password":"ann-password"}`, nil, 400, "invalid_request"},
			{"no content type", "", pw, nil, 400, "invalid_request"},
			{"no grant_type", form, "username=ann%40example.com&password=ann-password", nil, 400, "invalid_request"},
			{"grant_type twice", form, pw + "&grant_type=password", nil, 400, "invalid_request"},
			{"client_credentials", form, "grant_type=client_credentials", nil, 400, "unsupported_grant_type"},
			{"authorization_code", form, "grant_type=authorization_code&code=x", nil, 400, "unsupported_grant_type"},
			{"no password", form, "grant_type=password&username=ann%40example.com", nil, 400, "invalid_request"},
			{"no username", form, "grant_type=password&password=ann-password", nil, 400, "invalid_request"},
			{"wrong password", form, "grant_type=password&username=ann%40example.com&password=wrong", nil, 400, "invalid_grant"},
			{"unknown user", form, "grant_type=password&username=nobody%40example.com&password=wrong", nil, 400, "invalid_grant"},
			{"unknown scope", form, pw + "&scope=links%3Aeverything", nil, 400, "invalid_scope"},
			{"scope not held", form, pw + "&scope=admin%3Awrite", nil, 400, "invalid_scope"},
			{"empty scope", form, pw + "&scope=", nil, 400, "invalid_scope"},
			{"client authentication", form, pw, map[string]string{"Authorization": "Basic Y2xpZW50OnNlY3JldA=="}, 401, "invalid_client"},
			{"no refresh_token", form, "grant_type=refresh_token", nil, 400, "invalid_request"},
			{"malformed refresh_token", form, "grant_type=refresh_token&refresh_token=abc", nil, 400, "invalid_grant"},
			{"an access token as refresh_token", form, "grant_type=refresh_token&refresh_token=" + url.QueryEscape(live.access), nil, 400, "invalid_grant"},
			{"refresh scope not granted", form, "grant_type=refresh_token&scope=admin%3Aread&refresh_token=" + url.QueryEscape(live.refresh), nil, 400, "invalid_scope"},
			{"body too large", form, pw + "&pad=" + strings.Repeat("a", 70<<10), nil, 400, "invalid_request"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before, accounts := sessRows(t, db), queryInt(t, db, "SELECT COUNT(*) FROM accounts")
				a := oauthPost(t, s, http.MethodPost, c.contentType, c.body, c.header)
				if a.Status != c.status || a.Body["error"] != c.code || a.Body["access_token"] != nil {
					t.Errorf("got %d %s, want %d %s", a.Status, a.Raw, c.status, c.code)
				}
				if _, ok := a.Body["error_description"].(string); !ok {
					t.Errorf("no error_description: %s", a.Raw)
				}
				if c.status == 401 && a.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if after := sessRows(t, db); after != before || queryInt(t, db, "SELECT COUNT(*) FROM accounts") != accounts {
					t.Errorf("a refused token request wrote:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			})
		}
		if _, r := sessRefreshWith(t, s, "", live.refresh); r.Code() != "" {
			t.Errorf("the refresh token refused for its scope was spent: %s", r.Raw)
		}
	})
}

// TestOAuthTokenSharesLoginLimits fails the password grant until the account's
// failure allowance is spent: the next login, through GraphQL, is limited
// too, and the attempts are counted with the logins.
func TestOAuthTokenSharesLoginLimits(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/oauth.db")
	s.createAccount(t, "ann@example.com", "ann-password", auth.DefaultScopes...)
	loginCount := func(outcome string) int {
		t.Helper()
		res, err := http.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		m := regexp.MustCompile(`(?m)^linkapi_login_attempts_total\{outcome="` + outcome + `"\} (\d+)$`).FindSubmatch(raw)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	ok := oauthForm(t, s, url.Values{"grant_type": {"password"}, "username": {"ann@example.com"}, "password": {"ann-password"}})
	if ok.Status != http.StatusOK || loginCount("ok") != 1 {
		t.Fatalf("password grant: %d %s; logins ok counted: %d", ok.Status, ok.Raw, loginCount("ok"))
	}
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		a := oauthForm(t, s, url.Values{"grant_type": {"password"}, "username": {"ann@example.com"}, "password": {"wrong"}})
		switch {
		case a.Status == http.StatusTooManyRequests && a.Body["error"] == "temporarily_unavailable" && a.Header.Get("Retry-After") != "":
			limited = true
		case a.Status != http.StatusBadRequest || a.Body["error"] != "invalid_grant":
			t.Fatalf("wrong password %d: %d %s", i, a.Status, a.Raw)
		}
	}
	if !limited {
		t.Fatal("20 wrong passwords through /oauth/token were never limited")
	}
	r := s.do(t, "", `mutation { login(email: "ann@example.com", password: "ann-password") { accessToken } }`, nil)
	if r.Code() != "RATE_LIMITED" {
		t.Errorf("GraphQL login after the token endpoint's failures: got %s, want RATE_LIMITED", r.Raw)
	}
	if loginCount("UNAUTHENTICATED") < 10 || loginCount("RATE_LIMITED") < 2 {
		t.Errorf("login metrics: UNAUTHENTICATED %d, RATE_LIMITED %d", loginCount("UNAUTHENTICATED"), loginCount("RATE_LIMITED"))
	}
}

// TestOAuthMetadata reads the RFC 8414 metadata: it names the token endpoint,
// which answers.
func TestOAuthMetadata(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/meta.db")
	res, err := http.Get(s.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		Grants        []string `json:"grant_types_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		Scopes        []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %d %v", res.StatusCode, err)
	}
	if m.Issuer != s.URL || m.TokenEndpoint != s.URL+"/oauth/token" || strings.Join(m.Grants, " ") != "password refresh_token" ||
		strings.Join(m.AuthMethods, " ") != "none" || len(m.Scopes) != len(auth.AllScopes) {
		t.Errorf("metadata: %+v", m)
	}
	a := oauthPost(t, s, http.MethodPost, "application/x-www-form-urlencoded", "grant_type=password", nil)
	if a.Status != http.StatusBadRequest || a.Body["error"] != "invalid_request" {
		t.Errorf("the token endpoint the metadata names: %d %s", a.Status, a.Raw)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestProductionHidesTheSchema(t *testing.T) {
	dir := t.TempDir()
	prod := startServerEnv(t, "sqlite:"+dir+"/p.db", nil, map[string]string{"LINKAPI_ENV": "production"})
	for _, q := range []string{
		`{ __schema { types { name } } }`,
		`{ __type(name: "Link") { name } }`,
		`query { ...F } fragment F on Query { __schema { queryType { name } } }`,
	} {
		if r := prod.do(t, "", q, nil); r.Code() != "INTROSPECTION_DISABLED" || r.Data != nil {
			t.Errorf("introspection in production: got %s, want INTROSPECTION_DISABLED and no data", r.Raw)
		}
	}
	if r := prod.do(t, "", `{ __typename }`, nil); len(r.Errors) > 0 {
		t.Errorf("__typename in production: %s", r.Raw)
	}
	r := prod.do(t, "", `{ linkz { totalCount } }`, nil)
	if len(r.Errors) == 0 || strings.Contains(r.Raw, "Did you mean") {
		t.Errorf("a misspelt field in production: got %s, want an error without suggestions", r.Raw)
	}
	if status, _ := getText(t, prod.URL+"/"); status != http.StatusNotFound {
		t.Errorf("GraphiQL in production: got %d, want 404", status)
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(prod.Log.String()), "\n") {
		if strings.HasPrefix(l, "{") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Errorf("log line is not JSON: %q", l)
			}
		}
	}
	if line == nil {
		t.Errorf("no JSON log lines in production:\n%s", prod.Log.String())
	}

	// /metrics in production wants a token with admin:read.
	if status, _ := getText(t, prod.URL+"/metrics"); status != http.StatusUnauthorized {
		t.Errorf("/metrics without a token in production: got %d, want 401", status)
	}
	prod.createAccount(t, "ops@example.com", "ops-password-1", "links:read")
	prod.createAccount(t, "mon@example.com", "mon-password-1", "admin:read")
	for email, want := range map[string]int{"ops@example.com": http.StatusForbidden, "mon@example.com": http.StatusOK} {
		req, _ := http.NewRequest(http.MethodGet, prod.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+prod.login(t, email, strings.Split(email, "@")[0]+"-password-1"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("/metrics as %s: got %d, want %d", email, res.StatusCode, want)
		}
	}

	withUI := startServerEnv(t, "sqlite:"+dir+"/g.db", nil, map[string]string{"LINKAPI_ENV": "production", "LINKAPI_GRAPHIQL": "true"})
	if status, _ := getText(t, withUI.URL+"/"); status != http.StatusOK {
		t.Errorf("GraphiQL enabled in production: got %d, want 200", status)
	}
	dev := startServerEnv(t, "sqlite:"+dir+"/d.db", nil, nil)
	if r := dev.do(t, "", `{ __schema { queryType { name } } }`, nil); len(r.Errors) > 0 {
		t.Errorf("introspection in development: %s", r.Raw)
	}
	if r := dev.do(t, "", `{ linkz { totalCount } }`, nil); !strings.Contains(r.Raw, "Did you mean") {
		t.Errorf("development should suggest fields: %s", r.Raw)
	}
}

func TestMetricsAndRequestLog(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/m.db")
	id := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	s.do(t, "", `mutation { login(email: "ann@example.com", password: "wrong-password") { accessToken } }`, nil)
	// An aliased login counts; one refused before it runs does not.
	s.ok(t, "", `mutation { again: login(email: "ann@example.com", password: "ann-password") { accessToken } }`, nil)
	if r := s.do(t, "", `mutation { login(email: "ann@example.com") { accessToken } }`, nil); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("a login without a password: got %q", r.Code())
	}
	s.ok(t, token, `query Mine { me { email } }`, nil)
	s.do(t, token, `query Denied { accounts { totalCount } }`, nil)
	for i := 0; i < 120; i++ {
		s.do(t, token, fmt.Sprintf(`query Op%d { me { id } }`, i), nil)
	}

	status, body := getText(t, s.URL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		`linkapi_graphql_operations_total{operation="Mine",outcome="ok"} 1`,
		`linkapi_graphql_operations_total{operation="Denied",outcome="FORBIDDEN"} 1`,
		`linkapi_graphql_errors_total{code="FORBIDDEN"} 1`,
		"linkapi_login_attempts_total{outcome=\"ok\"} 2\n",
		"linkapi_login_attempts_total{outcome=\"UNAUTHENTICATED\"} 1\n",
		`linkapi_graphql_operation_duration_seconds_bucket{operation="Mine"`,
		`go_sql_open_connections{db_name="linkapi"}`,
		`linkapi_http_requests_total{route="/graphql",status="200"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`linkapi_graphql_operations_total\{operation="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		names[m[1]] = true
	}
	if len(names) > 102 || !names["other"] || !names["anonymous"] {
		t.Errorf("operation labels: got %d (other: %v), want at most 100 names plus other and anonymous", len(names), names["other"])
	}

	log := s.Log.String()
	if !regexp.MustCompile(`msg=request request_id=[0-9a-f]{24} method=POST route=/graphql status=200 duration_ms=\S+ operation=Mine outcome=ok account_id=` + formatInt(id)).MatchString(log) {
		t.Errorf("no request line for Mine with id, operation, outcome and account:\n%s", log)
	}
	for _, secret := range []string{token, "ann-password", "wrong-password", "me { email }"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestMetricsNameOnlyAuthenticatedOperations checks that anonymous callers cannot
// fill the operation-name labels: their operations all count as "anonymous",
// and an authenticated operation sent after 200 junk names still gets its own.
func TestMetricsNameOnlyAuthenticatedOperations(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/m.db")
	s.createAccount(t, "ann@example.com", "ann-password", "account:read")
	token := s.login(t, "ann@example.com", "ann-password")
	for i := 0; i < 200; i++ {
		s.do(t, "", fmt.Sprintf(`query Junk%d { __typename }`, i), nil)
	}
	s.do(t, "", `query JunkDenied { me { id } }`, nil)
	s.ok(t, token, `query Mine { me { id } }`, nil)

	status, body := getText(t, s.URL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`linkapi_graphql_operations_total\{operation="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		names[m[1]] = true
	}
	for name := range names {
		if strings.HasPrefix(name, "Junk") || name == "other" {
			t.Errorf("/metrics has the label %q, from an anonymous caller", name)
		}
	}
	for _, want := range []string{
		// The 200 junk names and the login, sent without a token.
		`linkapi_graphql_operations_total{operation="anonymous",outcome="ok"} 201`,
		`linkapi_graphql_operations_total{operation="anonymous",outcome="UNAUTHENTICATED"} 1`,
		`linkapi_graphql_operations_total{operation="Mine",outcome="ok"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMetricsCountEveryError sends each kind of request the server refuses
// itself, before or around GraphQL, and checks after each that /metrics counted
// its code exactly once.
func TestMetricsCountEveryError(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/e.db")
	errorsOf := func(code string) int {
		t.Helper()
		_, body := getText(t, s.URL+"/metrics")
		m := regexp.MustCompile(`linkapi_graphql_errors_total\{code="` + code + `"\} (\d+)`).FindStringSubmatch(body)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	post := func(contentType, body string, header ...string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return req
	}
	get := func(query string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+query, nil)
		return req
	}
	put, _ := http.NewRequest(http.MethodPut, s.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"a bad bearer token", post("application/json", `{"query":"{ __typename }"}`, "Authorization", "Bearer nonsense"), 401, "UNAUTHENTICATED"},
		{"a body over the anonymous limit", post("application/json", `{"query":"{ __typename }","variables":{"p":"`+strings.Repeat("x", 70<<10)+`"}}`), 413, "BAD_USER_INPUT"},
		{"another method", put, 405, "BAD_REQUEST"},
		{"a text/plain body", post("text/plain", `{"query":"{ __typename }"}`), 415, "BAD_REQUEST"},
		{"a batch", post("application/json", `[{"query":"{ __typename }"}]`), 400, "BAD_REQUEST"},
		{"a mutation over GET", get("query=" + url.QueryEscape(`mutation { login(email: "a@b.c", password: "x") { accessToken } }`)), 405, "BAD_REQUEST"},
		{"GET variables that are not JSON", get("query=" + url.QueryEscape("{ __typename }") + "&variables=nope"), 400, "BAD_REQUEST"},
		{"a document over the budget", post("application/json", `{"query":"{ `+strings.Repeat("__typename ", 40)+`}"}`), 200, "FIELD_REPEAT_LIMIT_EXCEEDED"},
	} {
		before := errorsOf(c.code)
		r := s.send(t, c.req)
		if r.Status != c.status || r.Code() != c.code {
			t.Errorf("%s: got %d %q, want %d %s", c.name, r.Status, r.Code(), c.status, c.code)
		}
		if after := errorsOf(c.code); after != before+1 {
			t.Errorf("%s: linkapi_graphql_errors_total{code=%q} went from %d to %d, want one more", c.name, c.code, before, after)
		}
	}
}

// TestMetricsCountRefusalsOutsideGraphQL checks the refusals that are not
// GraphQL responses: those of /oauth/token (OAuth errors, counted under the
// linkapi code they stand for) and, in production, of /metrics itself. After
// each, /metrics (read with an admin:read token in production) counts its code
// exactly once.
func TestMetricsCountRefusalsOutsideGraphQL(t *testing.T) {
	s := startServerEnv(t, "sqlite:"+t.TempDir()+"/m.db", nil, map[string]string{"LINKAPI_ENV": "production"})
	m := adminPassword.FindStringSubmatch(s.Log.String())
	if m == nil {
		t.Fatalf("no admin password in the log:\n%s", s.Log.String())
	}
	admin := s.login(t, "admin@localhost", m[1])
	s.createAccount(t, "ann@example.com", "ann-password", "links:write")
	ann := s.login(t, "ann@example.com", "ann-password")
	scrape := func(code string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET /metrics as admin: %d %s", res.StatusCode, b)
		}
		m := regexp.MustCompile(`linkapi_graphql_errors_total\{code="` + code + `"\} (\d+)`).FindStringSubmatch(string(b))
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	token := func(form string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	metrics := func(bearer string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return req
	}
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"/oauth/token with a spent or made-up refresh token", token("grant_type=refresh_token&refresh_token=lkr_nonsense"), 400, "UNAUTHENTICATED"},
		{"/oauth/token with a wrong password", token("grant_type=password&username=ann@example.com&password=wrong-password"), 400, "UNAUTHENTICATED"},
		{"/oauth/token with an unknown grant", token("grant_type=client_credentials"), 400, "BAD_REQUEST"},
		{"/metrics without a token", metrics(""), 401, "UNAUTHENTICATED"},
		{"/metrics with a bad token", metrics("nonsense"), 401, "UNAUTHENTICATED"},
		{"/metrics without admin:read", metrics(ann), 403, "FORBIDDEN"},
	} {
		before := scrape(c.code)
		res, err := http.DefaultClient.Do(c.req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s: got %d, want %d", c.name, res.StatusCode, c.status)
		}
		if after := scrape(c.code); after != before+1 {
			t.Errorf("%s: linkapi_graphql_errors_total{code=%q} went from %d to %d, want one more", c.name, c.code, before, after)
		}
	}
}

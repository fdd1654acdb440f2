package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"linkapi/internal/store"
)

func TestAliasesAndConfiguredLimits(t *testing.T) {
	s := startServerEnv(t, "sqlite:"+t.TempDir()+"/l.db", nil, map[string]string{
		"LINKAPI_MAX_ALIASES": "3", "LINKAPI_MAX_DEPTH": "4", "LINKAPI_MAX_COMPLEXITY": "50",
	})
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	for _, c := range []struct {
		query, want string
	}{
		{`{ a: me { id } b: me { id } c: me { id } }`, ""},
		{`{ a: me { id } b: me { id } c: me { id } d: me { id } }`, "ALIAS_LIMIT_EXCEEDED"},
		{`query { ...F } fragment F on Query { a: me { id } b: me { id } c: me { id } d: me { id } }`, "ALIAS_LIMIT_EXCEEDED"},
		{`{ me { links { nodes { id } } } }`, ""},
		{`{ me { links { nodes { tags { id } } } } }`, "DEPTH_LIMIT_EXCEEDED"},
		{`{ me { links(first: 2) { nodes { id } } } }`, ""},
		{`{ links(first: 100) { nodes { id } } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
	} {
		r := s.do(t, token, c.query, nil)
		if got := r.Code(); got != c.want {
			t.Errorf("%s: got %q, want %q", c.query, got, c.want)
		}
		if c.want != "" && r.Data != nil {
			t.Errorf("%s: refused before it ran, yet data %v", c.query, r.Data)
		}
	}
	for _, bad := range []map[string]string{{"LINKAPI_MAX_DEPTH": "0"}, {"LINKAPI_MAX_ALIASES": "many"}, {"LINKAPI_REQUEST_TIMEOUT": "-1s"}} {
		vars := map[string]string{"LINKAPI_DATABASE_URL": "sqlite:" + t.TempDir() + "/x.db", "LINKAPI_JWT_SECRET": testSecret}
		for k, v := range bad {
			vars[k] = v
		}
		if _, err := runServeExpectingFailure(t, vars); err == nil {
			t.Errorf("%v: serve started", bad)
		}
	}
}

// TestRequestDeadlineCancelsWork gives requests a deadline shorter than a large
// import takes: the answer is TIMEOUT, and the import's transaction is rolled back.
func TestRequestDeadlineCancelsWork(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/t.db"
	quick := startServer(t, dbURL)
	quick.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := quick.login(t, "ann@example.com", "ann-password")
	var file strings.Builder
	file.WriteString("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&file, "<DT><A HREF=\"https://e.x/%d\" TAGS=\"t%d\">%d</A>\n", i, i%300, i)
	}

	slow := startServerEnv(t, dbURL, nil, map[string]string{"LINKAPI_REQUEST_TIMEOUT": "30ms"})
	r := slow.do(t, token, `mutation($h: String!) { importBookmarks(html: $h) { imported } }`, map[string]any{"h": file.String()})
	if r.Code() != "TIMEOUT" {
		t.Errorf("an import past the deadline: got %d %q (%.200s), want TIMEOUT", r.Status, r.Code(), r.Raw)
	}
	if n := linkCount(t, quick, token); n != 0 {
		t.Errorf("links after a timed-out import: got %v, want 0", n)
	}
	// Without the tight deadline the same import goes through.
	d := quick.ok(t, token, `mutation($h: String!) { importBookmarks(html: $h) { imported } }`, map[string]any{"h": file.String()})
	if got := get(t, d, "importBookmarks", "imported"); got != float64(10000) {
		t.Errorf("import with the default deadline: got %v, want 10000", got)
	}
}

// TestInternalErrorsCarryARequestIDOnly closes the server's database pool under it
// and checks that the client learns nothing but a code and a request id.
func TestInternalErrorsCarryARequestIDOnly(t *testing.T) {
	var pool *sql.DB
	s := startServerWith(t, "sqlite:"+t.TempDir()+"/i.db", func(db *store.DB) { pool = db.SQL() })
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/"}) { id } }`, nil)
	s.Store = nil
	pool.Close()

	body := `{"query":"query Broken { links { nodes { id url } } }"}`
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "test-request-0001")
	token2 := token
	req.Header.Set("Authorization", "Bearer "+token2)
	r := s.send(t, req)
	if r.Code() != "INTERNAL_SERVER_ERROR" {
		t.Fatalf("got %q (%s), want INTERNAL_SERVER_ERROR", r.Code(), r.Raw)
	}
	if r.Status == http.StatusOK && len(r.Errors) > 0 {
		if id := r.Errors[0].Extensions["requestId"]; id != nil && id != "test-request-0001" {
			t.Errorf("requestId = %v, want test-request-0001", id)
		}
	}
	for _, leak := range []string{"sql", "closed", "gorm", ".go", "goroutine", "SELECT"} {
		if strings.Contains(strings.ToLower(r.Raw), strings.ToLower(leak)) {
			t.Errorf("the response mentions %q: %s", leak, r.Raw)
		}
	}
	if !regexp.MustCompile(`msg="internal error" request_id=test-request-0001 path=links`).MatchString(s.Log.String()) {
		t.Errorf("the log has no internal-error line under the request id:\n%s", s.Log.String())
	}
}

// TestCrossSiteFormsCannotMutate posts a mutation the ways an HTML form can: none
// of them runs it.
func TestCrossSiteFormsCannotMutate(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/f.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	mutation := `mutation { createLink(input: {url: "https://evil.example/"}) { id } }`
	jsonBody := fmt.Sprintf(`{"query":%q}`, mutation)

	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	mw.WriteField("operations", jsonBody)
	mw.WriteField("map", "{}")
	mw.Close()

	for _, c := range []struct {
		name, contentType, body string
	}{
		{"text/plain", "text/plain", jsonBody},
		{"form", "application/x-www-form-urlencoded", url.Values{"query": {mutation}}.Encode()},
		{"multipart", mw.FormDataContentType(), multi.String()},
		{"no content type", "", jsonBody},
		{"batched", "application/json", "[" + jsonBody + "," + jsonBody + "]"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Errorf("%s: got %d, want a 4xx refusal", c.name, res.StatusCode)
		}
	}
	if n := linkCount(t, s, token); n != 0 {
		t.Errorf("links after form posts: got %v, want 0", n)
	}
}

func TestCORS(t *testing.T) {
	s := startServerEnv(t, "sqlite:"+t.TempDir()+"/c.db", nil, map[string]string{"LINKAPI_CORS_ORIGINS": "https://app.example"})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	ok := preflight("https://app.example")
	if got := ok.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Errorf("allowed origin: Access-Control-Allow-Origin = %q", got)
	}
	if got := strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
		t.Errorf("allowed headers = %q, want authorization", got)
	}
	if got := ok.Header.Get("Access-Control-Allow-Credentials"); got == "true" {
		t.Errorf("credentials allowed; bearer tokens need no cookies")
	}
	evil := preflight("https://evil.example")
	if got := evil.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("other origin: Access-Control-Allow-Origin = %q, want none", got)
	}
	for _, v := range []string{"app.example", "https://app.example/path", "ftp://app.example", "https://app.example,*"} {
		vars := map[string]string{"LINKAPI_DATABASE_URL": "sqlite:" + t.TempDir() + "/w.db", "LINKAPI_JWT_SECRET": testSecret, "LINKAPI_CORS_ORIGINS": v}
		if _, err := runServeExpectingFailure(t, vars); err == nil {
			t.Errorf("LINKAPI_CORS_ORIGINS=%q: serve started, want a refusal", v)
		}
	}
	// "*" alone is allowed: tokens travel in a header, never in cookies, so no
	// credentials are ever allowed with it.
	any := startServerEnv(t, "sqlite:"+t.TempDir()+"/any.db", nil, map[string]string{"LINKAPI_CORS_ORIGINS": "*"})
	s = any
	res := preflight("https://anywhere.example")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != "https://anywhere.example" {
		t.Errorf("with *: Access-Control-Allow-Origin = %q", got)
	}
	if res.Header.Get("Access-Control-Allow-Credentials") == "true" {
		t.Errorf("with *: credentials allowed")
	}
}

// TestUnpagedListsAreBounded: a link's tags and an account's API tokens are not
// paged, so they are bounded when written.
func TestUnpagedListsAreBounded(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/u.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	names := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("t%03d", i)
		}
		return out
	}
	create := `mutation($u: String!, $t: [String!]) { createLink(input: {url: $u, tags: $t}) { id tags { id } } }`
	wantCode(t, s.do(t, token, create, map[string]any{"u": "https://example.com/a", "t": names(101)}), "BAD_USER_INPUT")
	if n := linkCount(t, s, token); n != 0 {
		t.Errorf("links after a refused createLink: %d", n)
	}
	d := s.ok(t, token, create, map[string]any{"u": "https://example.com/b", "t": names(100)})
	linkID := str(t, d, "createLink", "id")
	extra := str(t, s.ok(t, token, `mutation { createTag(input: {name: "one-too-many"}) { id } }`, nil), "createTag", "id")
	tagLink := `mutation($l: ID!, $t: ID!) { tagLink(linkId: $l, tagId: $t) { id } }`
	wantCode(t, s.do(t, token, tagLink, map[string]any{"l": linkID, "t": extra}), "BAD_USER_INPUT")
	// Putting on a tag it already carries is still fine at the limit.
	s.ok(t, token, tagLink, map[string]any{"l": linkID, "t": str(t, d, "createLink", "tags", 0, "id")})
	if got := len(get(t, s.ok(t, token, `query($l: ID!) { link(id: $l) { tags { id } } }`, map[string]any{"l": linkID}), "link", "tags").([]any)); got != 100 {
		t.Errorf("tags on the link: got %d, want 100", got)
	}

	mint := `mutation($n: String!) { createApiToken(name: $n, scopes: ["links:read"]) { token } }`
	for i := range 100 {
		s.ok(t, token, mint, map[string]any{"n": fmt.Sprintf("token %d", i)})
	}
	wantCode(t, s.do(t, token, mint, map[string]any{"n": "token 101"}), "BAD_USER_INPUT")
	if got := len(get(t, s.ok(t, token, `{ apiTokens { id } }`, nil), "apiTokens").([]any)); got != 100 {
		t.Errorf("apiTokens: got %d, want 100", got)
	}
}

// TestAnotherAccountIsRefusedWhateverIsSelected: naming another account is
// FORBIDDEN even when the selection reads nothing from the list.
func TestAnotherAccountIsRefusedWhateverIsSelected(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/o.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	bob := s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	for _, q := range []string{
		`query($a: ID) { links(accountId: $a) { __typename } }`,
		`query($a: ID) { tags(accountId: $a) { __typename } }`,
		`query($a: ID) { links(accountId: $a) { totalCount } }`,
	} {
		wantCode(t, s.do(t, token, q, map[string]any{"a": formatInt(bob)}), "FORBIDDEN")
	}
}

// TestMalformedBodiesAreClientErrors: bodies that are not one GraphQL request are
// the client's error, never an internal one, and nothing panics.
func TestMalformedBodiesAreClientErrors(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/m.db")
	for _, body := range []string{`[{"query":"{ __typename }"},{"query":"{ __typename }"}]`, `{bad`, `{"query": 5}`, ``} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r := s.send(t, req)
		if r.Status != http.StatusBadRequest && r.Status != http.StatusOK || r.Code() == "INTERNAL_SERVER_ERROR" || len(r.Errors) == 0 {
			t.Errorf("%q: got %d %s, want a client error", body, r.Status, r.Raw)
		}
	}
	if strings.Contains(s.Log.String(), "panic") || strings.Contains(s.Log.String(), "__typename") {
		t.Errorf("the server logged a panic or a request body:\n%s", s.Log.String())
	}
}

// TestDeadlinePassedBeforeExecution gives requests a deadline that has passed by
// the time they are validated: the answer is TIMEOUT, not a bare null.
func TestDeadlinePassedBeforeExecution(t *testing.T) {
	s := startServerEnv(t, "sqlite:"+t.TempDir()+"/d.db", nil, map[string]string{"LINKAPI_REQUEST_TIMEOUT": "1ns"})
	r := s.do(t, "", "{ __typename }", nil)
	if r.Code() != "TIMEOUT" || r.Data != nil {
		t.Errorf("got %d %q (%s), want TIMEOUT and no data", r.Status, r.Code(), r.Raw)
	}
	// A document nobody has seen is not even validated past the deadline: an
	// unknown field is TIMEOUT, not a validation error.
	r = s.do(t, "", "{ nosuchfield }", nil)
	if r.Code() != "TIMEOUT" || r.Data != nil {
		t.Errorf("an invalid document past the deadline: got %d %q (%s), want TIMEOUT", r.Status, r.Code(), r.Raw)
	}
}

package main

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"linkapi/internal/store"
)

// fuzzCallers are who a fuzzed request comes from, chosen by the low bits of its
// caller byte: no token, ann's login token, ann's API token, the administrator's
// login token, and a bearer that is not a token.
const (
	fuzzAnonymous = iota
	fuzzLogin
	fuzzAPIToken
	fuzzAdmin
	fuzzBadBearer
	fuzzCallerCount
)

// The caller byte's higher bits choose the transport: GET instead of POST; the
// GraphQL-over-HTTP media type instead of JSON in Accept; and a raw request,
// whose POST body (or GET query string) is the variables text as it is, with the
// operation name, when there is one, as the POST's Content-Type.
const (
	fuzzGET           = 0x08
	fuzzGraphQLAccept = 0x10
	fuzzRaw           = 0x20
)

// fuzzTables are the tables of the store, in the order their rows can be
// inserted (a row's references before it).
var fuzzTables = []string{"accounts", "api_tokens", "links", "tags", "link_tags"}

// fuzzStatuses are the statuses a GraphQL request may be answered with: a
// response, a request error under either media type, a bad bearer, a mutation
// over GET, a body over its limit and a body that is not JSON.
var fuzzStatuses = []int{http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}

// fuzzBobSecret is in every URL, title and tag name of Bob's seeded links.
const fuzzBobSecret = "bob-secret"

// fuzzServer is serve's handler on a seeded SQLite database, driven in-process.
type fuzzServer struct {
	h       http.Handler
	db      *sql.DB
	log     *syncBuffer
	bearers [fuzzCallerCount]string
	// seed is every row of every table after seeding, which each request is
	// compared with and which a request that wrote anything is undone to.
	seed map[string][]map[string]any
}

// FuzzGraphQLRequest sends one request through the whole of what serve serves
// (bearer authentication, the body limits, the document budget, validation,
// @hasScope and the resolvers), on one SQLite database per fuzzing process,
// seeded with two accounts with links and tags and an administrator. Whatever the
// query, variables, operation name and caller: the handler does not panic; it
// answers a JSON object with an expected status; every error has a code and none
// is INTERNAL_SERVER_ERROR; nothing is logged as an error; no answer holds a
// password hash or the signing secret, and none but the administrator's holds
// Bob's data unless the request names him; and a request answered without data
// (refused before it ran), or without a valid token, leaves every row of the
// database as it was. After a request that wrote anything the database is put
// back to its seed, so that every input starts from the same state and the
// callers keep working.
func FuzzGraphQLRequest(f *testing.F) {
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, caller byte, query, variables, operationName string) {
		s.check(t, caller, query, variables, operationName)
	})
}

func newFuzzServer(f *testing.F) *fuzzServer {
	ctx := context.Background()
	log := &syncBuffer{}
	p := &Program{
		Stdout: log, Stderr: log,
		Getenv: env(map[string]string{
			"LINKAPI_DATABASE_URL": "sqlite:" + f.TempDir() + "/fuzz.db",
			"LINKAPI_JWT_SECRET":   testSecret,
			"LINKAPI_TOKEN_TTL":    "24h",
			// Every request reads the account it is checked against, so that
			// an account put back to its seed is seen at once.
			"LINKAPI_ACCOUNT_CACHE_TTL": "0s",
			// Fuzzed links are never fetched: the test stays off the internet.
			"LINKAPI_FETCH_METADATA": "false",
		}),
	}
	cfg, db, err := p.open(ctx, "serve", nil, nil, checkSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	// The accounts come before the handler, so that serve creates no
	// administrator of its own.
	ts := &testServer{Store: store.New(db)}
	ts.createAccount(f, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	ts.createAccount(f, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
	ts.createAccount(f, "root@example.com", "root-password", "admin:write")
	h, closeHandler, err := p.handler(ctx, cfg, db)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(closeHandler)
	s := &fuzzServer{h: h, db: db.SQL(), log: log}
	login := func(email, password string) string {
		d := s.ok(f, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
			`{"e":`+strconv.Quote(email)+`,"p":`+strconv.Quote(password)+`}`)
		return str(f, d, "login", "accessToken")
	}
	ann, bob := login("ann@example.com", "ann-password"), login("bob@example.com", "bob-password")
	for _, l := range []struct{ token, url, title, tags string }{
		{ann, "https://go.dev/doc/effective_go", "Effective Go", `["go", "reading"]`},
		{ann, "https://sqlite.org/lang.html", "SQL", `["db"]`},
		{bob, "https://mariadb.org/" + fuzzBobSecret, fuzzBobSecret, `["db", "` + fuzzBobSecret + `"]`},
		{bob, "https://example.com/" + fuzzBobSecret, "", `[]`},
	} {
		s.ok(f, l.token, `mutation($u: String!, $t: String, $tags: [String!]) { createLink(input: {url: $u, title: $t, tags: $tags}) { id } }`,
			`{"u":`+strconv.Quote(l.url)+`,"t":`+strconv.Quote(l.title)+`,"tags":`+l.tags+`}`)
	}
	d := s.ok(f, ann, `mutation { createApiToken(name: "fuzz", scopes: ["links:write", "tags:write", "account:write"]) { token } }`, "")
	s.bearers = [fuzzCallerCount]string{
		fuzzLogin:     "Bearer " + ann,
		fuzzAPIToken:  "Bearer " + str(f, d, "createApiToken", "token"),
		fuzzAdmin:     "Bearer " + login("root@example.com", "root-password"),
		fuzzBadBearer: "Bearer not-a-token",
	}
	s.seed = s.dump(f)
	return s
}

// check sends one request and checks what it did.
func (s *fuzzServer) check(t *testing.T, caller byte, query, variables, operationName string) {
	s.log.reset()
	who := int(caller&0x07) % fuzzCallerCount
	res := s.send(caller, s.bearers[who], query, variables, operationName)
	status, body := res.Code, res.Body.Bytes()
	var resp map[string]json.RawMessage
	var errs []struct {
		Extensions struct {
			Code any `json:"code"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("status %d: the response is not a JSON object: %v\n%.2000s", status, err, body)
	}
	if raw, ok := resp["errors"]; ok && json.Unmarshal(raw, &errs) != nil {
		t.Fatalf("status %d: errors is not a list of errors\n%.2000s", status, body)
	}
	_, ran := resp["data"] // a response to a request refused before it ran has no data entry
	if !slices.Contains(fuzzStatuses, status) {
		t.Errorf("status %d, want one of %v\n%.2000s", status, fuzzStatuses, body)
	}
	if ran && status != http.StatusOK {
		t.Errorf("status %d with a data entry\n%.2000s", status, body)
	}
	if !ran && len(errs) == 0 {
		t.Errorf("status %d: neither data nor errors\n%.2000s", status, body)
	}
	for _, e := range errs {
		if code, _ := e.Extensions.Code.(string); code == "" || code == "INTERNAL_SERVER_ERROR" {
			t.Errorf("status %d: an error coded %#v\n%.2000s", status, e.Extensions.Code, body)
		}
	}
	for _, secret := range []string{"$argon2id$", testSecret} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the response holds %q\n%.2000s", secret, body)
		}
	}
	// Bob's email, URLs, titles and tag names are for the administrator alone
	// (or for whoever logs in as Bob); a request that does not name him cannot
	// write them into its own answer either.
	if who != fuzzAdmin && !strings.Contains(strings.ToLower(query+variables), "bob") && !strings.Contains(query+variables, `\`) &&
		(bytes.Contains(body, []byte(fuzzBobSecret)) || bytes.Contains(body, []byte("bob@example.com"))) {
		t.Errorf("caller %d sees Bob's data\n%.2000s", who, body)
	}
	if log := s.log.String(); strings.Contains(log, "level=ERROR") {
		t.Errorf("the server logged an error:\n%.4000s\nresponse %d: %.2000s", log, status, body)
	}
	after := s.dump(t)
	if reflect.DeepEqual(after, s.seed) {
		return
	}
	if who == fuzzAnonymous || who == fuzzBadBearer {
		t.Errorf("status %d: a request without a valid token changed the database\nbefore: %v\nafter: %v\n%.2000s", status, s.seed, after, body)
	} else if !ran {
		t.Errorf("status %d: a request answered without data changed the database\nbefore: %v\nafter: %v\n%.2000s", status, s.seed, after, body)
	}
	s.restore(t)
}

// send serves one request with the transport that caller chooses and bearer,
// when it is not empty, as its Authorization.
func (s *fuzzServer) send(caller byte, bearer, query, variables, operationName string) *httptest.ResponseRecorder {
	var req *http.Request
	switch {
	case caller&(fuzzRaw|fuzzGET) == fuzzRaw|fuzzGET:
		req = httptest.NewRequest(http.MethodGet, "/graphql", nil)
		req.URL.RawQuery = variables
	case caller&fuzzRaw != 0:
		req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(variables))
		req.Header.Set("Content-Type", cmp.Or(operationName, "application/json"))
	case caller&fuzzGET != 0:
		q := url.Values{"query": {query}}
		if variables != "" {
			q.Set("variables", variables)
		}
		if operationName != "" {
			q.Set("operationName", operationName)
		}
		req = httptest.NewRequest(http.MethodGet, "/graphql?"+q.Encode(), nil)
	default:
		req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(fuzzBody(query, variables, operationName)))
		req.Header.Set("Content-Type", "application/json")
	}
	if caller&fuzzGraphQLAccept != 0 {
		req.Header.Set("Accept", "application/graphql-response+json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", bearer)
	}
	res := httptest.NewRecorder()
	s.h.ServeHTTP(res, req)
	return res
}

// fuzzBody is a POST body with variables as they are, so that they may be any
// text, JSON or not.
func fuzzBody(query, variables, operationName string) string {
	q, _ := json.Marshal(query)
	var b strings.Builder
	b.WriteString(`{"query":`)
	b.Write(q)
	if variables != "" {
		b.WriteString(`,"variables":`)
		b.WriteString(variables)
	}
	if operationName != "" {
		o, _ := json.Marshal(operationName)
		b.WriteString(`,"operationName":`)
		b.Write(o)
	}
	b.WriteString("}")
	return b.String()
}

// ok serves a request that must succeed, for seeding.
func (s *fuzzServer) ok(t testing.TB, token, query, variables string) map[string]any {
	t.Helper()
	bearer := ""
	if token != "" {
		bearer = "Bearer " + token
	}
	res := s.send(0, bearer, query, variables, "")
	var r gqlResponse
	if err := json.Unmarshal(res.Body.Bytes(), &r); err != nil || len(r.Errors) > 0 || res.Code != http.StatusOK {
		t.Fatalf("status %d: %s", res.Code, res.Body)
	}
	return r.Data
}

// dump reads every row of every table, without api_tokens.last_used_at, which
// any use of a token may move.
func (s *fuzzServer) dump(t testing.TB) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, table := range fuzzTables {
		var rows []map[string]any
		order := "id"
		if table == "link_tags" {
			order = "link_id, tag_id"
		}
		err := eachRow(s.db, "SELECT * FROM "+table+" ORDER BY "+order, func(rs *sql.Rows) error {
			names, err := rs.Columns()
			if err != nil {
				return err
			}
			values := make([]any, len(names))
			ptrs := make([]any, len(names))
			for i := range values {
				ptrs[i] = &values[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				return err
			}
			row := map[string]any{}
			for i, name := range names {
				row[name] = values[i]
			}
			delete(row, "last_used_at")
			rows = append(rows, row)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out[table] = rows
	}
	return out
}

// restore puts every table back to its seed.
func (s *fuzzServer) restore(t testing.TB) {
	t.Helper()
	tx, err := s.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, table := range slices.Backward(fuzzTables) {
		if _, err := tx.Exec("DELETE FROM " + table); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range fuzzTables {
		for _, row := range s.seed[table] {
			names := slices.Sorted(maps.Keys(row))
			values := make([]any, len(names))
			for i, name := range names {
				values[i] = row[name]
			}
			q := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(names)-1) + ")"
			if _, err := tx.Exec(q, values...); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if after := s.dump(t); !reflect.DeepEqual(after, s.seed) {
		t.Fatalf("the database did not go back to its seed:\n%v\nwant %v", after, s.seed)
	}
}

// reset empties the buffer.
func (s *syncBuffer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

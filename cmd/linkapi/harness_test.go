package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

// testSecret signs the tokens of every test server.
const testSecret = "test-secret-test-secret-test-secret-0123456789"

// testServer is the real linkapi serve, run in-process on 127.0.0.1:0 against a
// database of its own.
type testServer struct {
	URL   string // base URL, without a trailing slash
	DBURL string
	Store *store.Store
	Log   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env returns a Getenv over the given variables only.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// startServer runs serve on dbURL until the test ends.
func startServer(t testing.TB, dbURL string) *testServer {
	t.Helper()
	return startServerWith(t, dbURL, nil)
}

// startServerWith is startServer that hands the server's database to opened.
func startServerWith(t testing.TB, dbURL string, opened func(*store.DB)) *testServer {
	t.Helper()
	return startServerEnv(t, dbURL, opened, nil)
}

// startServerEnv is startServerWith with more environment variables.
func startServerEnv(t testing.TB, dbURL string, opened func(*store.DB), vars map[string]string) *testServer {
	t.Helper()
	return startServerOpts(t, dbURL, opened, vars)
}

// startServerOpts is startServerEnv with options applied to the Program.
func startServerOpts(t testing.TB, dbURL string, opened func(*store.DB), vars map[string]string, opts ...func(*Program)) *testServer {
	t.Helper()
	all := map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret}
	for k, v := range vars {
		all[k] = v
	}
	addr, log, stop := launch(t, all, opened, opts...)
	t.Cleanup(stop)
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &testServer{URL: "http://" + addr, DBURL: dbURL, Store: store.New(db), Log: log}
}

// launch runs serve with vars as its whole environment and returns its address,
// its output and a stop that ends it and reports how it ended. Unless vars say
// otherwise, the server fetches no pages: tests never reach the internet, and
// those of page metadata turn fetching on for pages of their own
// (startFetchingServer).
func launch(t testing.TB, vars map[string]string, opened func(*store.DB), opts ...func(*Program)) (string, *syncBuffer, func()) {
	t.Helper()
	if _, set := vars["LINKAPI_FETCH_METADATA"]; !set {
		vars = maps.Clone(vars)
		if vars == nil {
			vars = map[string]string{}
		}
		vars["LINKAPI_FETCH_METADATA"] = "false"
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	log := &syncBuffer{}
	p := &Program{
		Stdin:     strings.NewReader(""),
		Stdout:    log,
		Stderr:    log,
		Getenv:    env(vars),
		Listening: func(addr string) { addrc <- addr },
		Opened:    opened,
	}
	for _, o := range opts {
		o(p)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}) }()
	select {
	case addr := <-addrc:
		return addr, log, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("serve ended before listening: %v\n%s", err, log.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("serve did not listen within 60s\n%s", log.String())
	}
	return "", nil, nil
}

// forEachServer runs fn against a fresh server on SQLite and, when
// LINKAPI_TEST_MYSQL_URL is set, on MySQL.
func forEachServer(t *testing.T, fn func(t *testing.T, s *testServer)) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		fn(t, startServer(t, url))
	})
}

// gqlResponse is a GraphQL response with its HTTP status and headers.
type gqlResponse struct {
	Status int
	Header http.Header
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Extensions map[string]any `json:"extensions"`
	Raw        string
}

// Code returns the code of the first error, or "" when there is none.
func (r *gqlResponse) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// do posts a GraphQL request with token as the bearer (none when empty).
func (s *testServer) do(t testing.TB, token, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.send(t, req)
}

func (s *testServer) send(t testing.TB, req *http.Request) *gqlResponse {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &gqlResponse{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (status %d): %s", res.StatusCode, raw)
	}
	return out
}

// ok is do that fails the test on any error.
func (s *testServer) ok(t testing.TB, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := s.do(t, token, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("status %d, errors: %s", r.Status, r.Raw)
	}
	return r.Data
}

// createAccount makes an account directly in the store and returns its id.
func (s *testServer) createAccount(t testing.TB, email, password string, scopes ...string) int64 {
	t.Helper()
	if scopes == nil {
		scopes = []string{}
	}
	a, err := s.Store.CreateAccount(auth.NewContext(context.Background(), auth.System()),
		linkapi.AccountCreate{Email: email, Password: password, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// login logs in through the API and returns the access token.
func (s *testServer) login(t testing.TB, email, password string) string {
	t.Helper()
	d := s.ok(t, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": email, "p": password})
	return str(t, d, "login", "accessToken")
}

// get walks a decoded JSON value by keys (strings) and indexes (ints).
func get(t testing.TB, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: %v is not an object", k, v)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at [%d]: %v is not a long enough list", k, v)
			}
			v = a[k]
		}
	}
	return v
}

func str(t testing.TB, v any, path ...any) string {
	t.Helper()
	s, ok := get(t, v, path...).(string)
	if !ok {
		t.Fatalf("%v at %v is not a string", get(t, v, path...), path)
	}
	return s
}

// openDB opens another connection to a test server's database, for a test to
// reach under the API (to age a row, say).
func openDB(t testing.TB, dbURL string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// execSQL runs a statement on db, straight under the store.
func execSQL(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
}

// eachRow calls row on each row query reads from db, to scan it.
func eachRow(db *sql.DB, query string, row func(*sql.Rows) error, args ...any) error {
	rows, err := db.Query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryInt returns the one number query reads from db.
func queryInt(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func formatInt(id int64) string { return strconv.FormatInt(id, 10) }

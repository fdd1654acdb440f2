package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/redis/redistest"
	"linkapi/internal/store/storetest"
)

// pair is two instances of serve sharing one MySQL database and one Redis, as
// two replicas behind a load balancer.
type pair struct {
	redis *redistest.Server
	dbURL string
	a, b  *testServer
}

// hourlyFailures allows ten failed logins per email and then one an hour, so
// that nothing refills while a test runs.
var hourlyFailures = auth.FailureLimits{
	PerAccount: auth.Bucket{Burst: 10, Every: time.Hour},
	PerAddr:    auth.Bucket{Burst: 1000, Every: time.Second},
	MaxEntries: 1000,
}

// startPair starts Redis and two servers on a new MySQL database, with vars
// added to their environment. Redis is for several instances on MySQL, so
// without LINKAPI_TEST_MYSQL_URL the test is skipped.
func startPair(t *testing.T, vars map[string]string) *pair {
	t.Helper()
	if os.Getenv(storetest.EnvMySQLURL) == "" {
		t.Skipf("%s is not set: Redis is shared by instances on MySQL only", storetest.EnvMySQLURL)
	}
	p := &pair{redis: redistest.Start(t), dbURL: storetest.MySQLURL(t)}
	all := map[string]string{"LINKAPI_REDIS_URL": p.redis.URL}
	for k, v := range vars {
		all[k] = v
	}
	start := func() *testServer {
		return startServerOpts(t, p.dbURL, nil, all, func(p *Program) { p.FailureLimits = &hourlyFailures })
	}
	p.a = start()
	p.b = start()
	return p
}

const loginMutation = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`

// tryLogin logs in and returns the response, failing the test on a 5xx.
func tryLogin(t *testing.T, s *testServer, email, password string) *gqlResponse {
	t.Helper()
	r := s.do(t, "", loginMutation, map[string]any{"e": email, "p": password})
	if r.Status >= 500 || r.Code() == "INTERNAL_SERVER_ERROR" {
		t.Fatalf("login answered %d: %s", r.Status, r.Raw)
	}
	return r
}

// fallbackGauge reads linkapi_redis_fallback from s's /metrics.
func fallbackGauge(t *testing.T, s *testServer) string {
	t.Helper()
	status, body := getText(t, s.URL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	m := regexp.MustCompile(`(?m)^linkapi_redis_fallback (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no linkapi_redis_fallback:\n%s", body)
	}
	return m[1]
}

// waitUntil polls cond every 10ms for at most 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// spreadFailures sends n wrong passwords for email round-robin through servers
// and returns the codes answered.
func spreadFailures(t *testing.T, n int, email string, servers ...*testServer) []string {
	t.Helper()
	var codes []string
	for i := range n {
		r := tryLogin(t, servers[i%len(servers)], email, "wrong-password")
		codes = append(codes, r.Code())
	}
	return codes
}

// TestRedisSharesFailedLogins spreads wrong passwords over two instances: the
// eleventh is refused whichever instance it reaches. With Redis killed nothing
// answers 500 and each instance still limits on its own, /metrics saying it
// falls back; with Redis back the limits are shared again.
func TestRedisSharesFailedLogins(t *testing.T) {
	t.Parallel() // its own database and Redis
	p := startPair(t, nil)
	p.a.createAccount(t, "ann@example.com", "ann-password-1", "links:write")
	p.a.createAccount(t, "bob@example.com", "bob-password-1", "links:write")
	p.a.createAccount(t, "cy@example.com", "cy-password-12", "links:write")
	if got := fallbackGauge(t, p.a); got != "0" {
		t.Fatalf("linkapi_redis_fallback = %s with Redis up, want 0", got)
	}

	codes := spreadFailures(t, 10, "ann@example.com", p.a, p.b)
	for i, c := range codes {
		if c != "UNAUTHENTICATED" {
			t.Fatalf("wrong password %d: got %s, want UNAUTHENTICATED", i+1, c)
		}
	}
	// A correct login spends nothing, but past the limit it too waits.
	for _, s := range []*testServer{p.a, p.b} {
		r := tryLogin(t, s, "ann@example.com", "wrong-password")
		if r.Code() != "RATE_LIMITED" {
			t.Fatalf("11th wrong password: got %q, want RATE_LIMITED: %s", r.Code(), r.Raw)
		}
		if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); ra < 3000 {
			t.Errorf("retryAfter = %v, want about an hour", r.Errors[0].Extensions["retryAfter"])
		}
	}
	// Correct logins through both instances leave bob's allowance whole.
	for range 5 {
		p.a.login(t, "bob@example.com", "bob-password-1")
		p.b.login(t, "bob@example.com", "bob-password-1")
	}
	if codes := spreadFailures(t, 10, "bob@example.com", p.b, p.a); strings.Contains(strings.Join(codes, " "), "RATE_LIMITED") {
		t.Fatalf("bob's 10 failures after 10 correct logins: %v, want none RATE_LIMITED", codes)
	}

	p.redis.Stop()
	codes = spreadFailures(t, 10, "cy@example.com", p.a)
	for i, c := range codes {
		if c != "UNAUTHENTICATED" {
			t.Fatalf("with Redis down, wrong password %d: got %s, want UNAUTHENTICATED", i+1, c)
		}
	}
	if r := tryLogin(t, p.a, "cy@example.com", "wrong-password"); r.Code() != "RATE_LIMITED" {
		t.Fatalf("with Redis down, 11th wrong password on one instance: got %q, want RATE_LIMITED", r.Code())
	}
	if got := fallbackGauge(t, p.a); got != "1" {
		t.Errorf("linkapi_redis_fallback = %s with Redis down, want 1", got)
	}
	if n := strings.Count(p.a.Log.String(), "redis stopped answering"); n != 1 {
		t.Errorf("the log says %d times that redis stopped answering, want once:\n%s", n, p.a.Log)
	}
	p.a.login(t, "bob@example.com", "bob-password-1")

	p.redis.Restart()
	waitUntil(t, "instance a shares again", func() bool { return fallbackGauge(t, p.a) == "0" })
	waitUntil(t, "instance b shares again", func() bool {
		tryLogin(t, p.b, "probe@example.com", "x") // b learns of the outage by using Redis
		return fallbackGauge(t, p.b) == "0"
	})
	codes = spreadFailures(t, 11, "dee@example.com", p.a, p.b)
	if codes[10] != "RATE_LIMITED" || strings.Contains(strings.Join(codes[:10], " "), "RATE_LIMITED") {
		t.Fatalf("after Redis came back, 11 failures spread over both: %v, want RATE_LIMITED on the 11th only", codes)
	}
}

// TestRedisRefusedWithSQLite checks that serve refuses LINKAPI_REDIS_URL on a
// SQLite database, which serves one instance, and refuses a URL that is not a
// Redis one.
func TestRedisRefusedWithSQLite(t *testing.T) {
	for _, tc := range []struct{ db, redis, want string }{
		{storetest.SQLiteURL(t), "redis://127.0.0.1:1/0", "SQLite database serves a single instance"},
		{"mysql://root@127.0.0.1:1/x", "http://127.0.0.1:6379", "LINKAPI_REDIS_URL: want redis://"},
		{"mysql://root@127.0.0.1:1/x", "redis://", "LINKAPI_REDIS_URL: want redis://"},
	} {
		out, err := runServeExpectingFailure(t, map[string]string{
			"LINKAPI_DATABASE_URL": tc.db, "LINKAPI_JWT_SECRET": testSecret, "LINKAPI_REDIS_URL": tc.redis,
		})
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LINKAPI_REDIS_URL=%s on %s: got %v, want %q\n%s", tc.redis, tc.db, err, tc.want, out)
		}
	}
}

// persisted sends a persisted query by its hash, with its text when query is
// not empty (registering it), as Apollo's persisted-queries link does.
func persisted(t *testing.T, s *testServer, token, query, hash string) *gqlResponse {
	t.Helper()
	body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		body["query"] = query
	}
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	r := s.send(t, req)
	if r.Status >= 500 {
		t.Fatalf("persisted query answered %d: %s", r.Status, r.Raw)
	}
	return r
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestRedisSharesPersistedQueries registers a persisted query on one instance
// and runs it by hash on the other; with Redis down a query registered then is
// known only where it was registered, and nothing answers 500.
func TestRedisSharesPersistedQueries(t *testing.T) {
	t.Parallel() // its own database and Redis
	p := startPair(t, nil)
	p.a.createAccount(t, "ann@example.com", "ann-password-1", "account:read")
	token := p.a.login(t, "ann@example.com", "ann-password-1")
	query := `query Me { me { email } }`
	hash := sha256Hex(query)

	if r := persisted(t, p.b, token, "", hash); r.Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash on b: got %q, want PERSISTED_QUERY_NOT_FOUND: %s", r.Code(), r.Raw)
	}
	if r := persisted(t, p.a, token, query, hash); r.Code() != "" {
		t.Fatalf("registering on a: %s", r.Raw)
	}
	r := persisted(t, p.b, token, "", hash)
	if r.Code() != "" || str(t, r.Data, "me", "email") != "ann@example.com" {
		t.Fatalf("hash registered on a, run on b: %s", r.Raw)
	}

	// A query of another hash stored under this one is not run.
	forged := sha256Hex("query Forged { me { id } }")
	if _, err := p.redis.Do("SET", "linkapi:apq:"+forged, query); err != nil {
		t.Fatal(err)
	}
	if r := persisted(t, p.b, token, "", forged); r.Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("hash whose stored query does not match it: got %q, want PERSISTED_QUERY_NOT_FOUND", r.Code())
	}

	p.redis.Stop()
	other := `query Email { me { email id } }`
	otherHash := sha256Hex(other)
	if r := persisted(t, p.a, token, other, otherHash); r.Code() != "" {
		t.Fatalf("registering on a with Redis down: %s", r.Raw)
	}
	if r := persisted(t, p.a, token, "", otherHash); r.Code() != "" {
		t.Fatalf("running on a by hash with Redis down: %s", r.Raw)
	}
	if r := persisted(t, p.b, token, "", hash); r.Code() != "" {
		t.Fatalf("b runs the query it read from Redis before, from its own cache: %s", r.Raw)
	}
	if r := persisted(t, p.b, token, "", otherHash); r.Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("query registered on a while Redis was down, on b: got %q, want PERSISTED_QUERY_NOT_FOUND", r.Code())
	}

	p.redis.Restart()
	waitUntil(t, "instance a shares again", func() bool { return fallbackGauge(t, p.a) == "0" })
	waitUntil(t, "instance b shares again", func() bool {
		persisted(t, p.b, token, "", sha256Hex("probe"))
		return fallbackGauge(t, p.b) == "0"
	})
	third := `query Third { me { id } }`
	persisted(t, p.b, token, third, sha256Hex(third))
	if r := persisted(t, p.a, token, "", sha256Hex(third)); r.Code() != "" {
		t.Fatalf("after Redis came back, a new query registered on b, run on a: %s", r.Raw)
	}
}

// refusedOn reports whether s refuses token for me: a 401 or FORBIDDEN. Any 5xx
// fails the test.
func refusedOn(t *testing.T, s *testServer, token string) bool {
	t.Helper()
	r := s.do(t, token, meQuery, nil)
	if r.Status >= 500 {
		t.Fatalf("me answered %d: %s", r.Status, r.Raw)
	}
	return r.Status == http.StatusUnauthorized || r.Code() == "FORBIDDEN" || r.Code() == "UNAUTHENTICATED"
}

// invalidationDelay polls s until it refuses token, for at most 5 seconds (the
// accounts are cached for a minute, so only an invalidation can make it), and
// returns how long that took.
func invalidationDelay(t *testing.T, s *testServer, token, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for !refusedOn(t, s, token) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s through one instance: the other still accepts the token after 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// TestRedisInvalidatesAccountsEverywhere changes an account through one
// instance while the other holds it in its cache (for a minute): a scope
// change, a password change, a logout, a revoked session and a deletion are each
// refused on the other within a bounded poll, whose delays it logs. With Redis
// down the other reads accounts on every request; when Redis comes back it
// starts afresh, having flushed what it cached meanwhile.
func TestRedisInvalidatesAccountsEverywhere(t *testing.T) {
	t.Parallel() // its own database and Redis
	p := startPair(t, map[string]string{"LINKAPI_ACCOUNT_CACHE_TTL": "1m"})
	p.a.createAccount(t, "root@example.com", "root-password-1", "admin:write")
	admin := p.a.login(t, "root@example.com", "root-password-1")
	n := 0
	// fresh makes an account, logs it in through a and primes b's cache with it.
	fresh := func() (id int64, email, token string) {
		n++
		email = fmt.Sprintf("u%d@example.com", n)
		id = p.a.createAccount(t, email, "user-password-1", "account:write")
		token = p.a.login(t, email, "user-password-1")
		if refusedOn(t, p.b, token) {
			t.Fatalf("b refuses a fresh token of %s", email)
		}
		return id, email, token
	}
	var delays []time.Duration
	measure := func(what string, change func(id int64, token string)) {
		id, _, token := fresh()
		change(id, token)
		d := invalidationDelay(t, p.b, token, what)
		delays = append(delays, d)
		t.Logf("%s through a refused on b after %s", what, d)
	}
	for range 10 {
		measure("setAccountScopes", func(id int64, _ string) {
			p.a.ok(t, admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: []) { id } }`, map[string]any{"id": formatInt(id)})
		})
	}
	measure("changePassword", func(_ int64, token string) {
		p.a.ok(t, token, `mutation { changePassword(currentPassword: "user-password-1", newPassword: "user-password-2") }`, nil)
	})
	measure("logout", func(_ int64, token string) {
		p.a.ok(t, token, `mutation { logout }`, nil)
	})
	measure("revokeSession", func(_ int64, token string) {
		d := p.a.ok(t, token, `{ sessions { id } }`, nil)
		p.a.ok(t, token, `mutation($id: ID!) { revokeSession(id: $id) }`, map[string]any{"id": str(t, d, "sessions", 0, "id")})
	})
	measure("deleteAccount", func(id int64, _ string) {
		p.a.ok(t, admin, `mutation($id: ID!) { deleteAccount(id: $id) }`, map[string]any{"id": formatInt(id)})
	})
	slices.Sort(delays)
	t.Logf("invalidation delay over %d changes: min %s, median %s, max %s",
		len(delays), delays[0], delays[len(delays)/2], delays[len(delays)-1])

	// Redis down: b hears nothing, so it reads every account afresh.
	id, _, token := fresh()
	p.redis.Stop()
	waitUntil(t, "b sees Redis down", func() bool { return fallbackGauge(t, p.b) == "1" })
	p.a.ok(t, admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: []) { id } }`, map[string]any{"id": formatInt(id)})
	if !refusedOn(t, p.b, token) {
		t.Fatal("with Redis down, b still accepts a token whose account lost its scopes through a")
	}
	// What b caches during the outage may go stale unheard; it is flushed when
	// b subscribes again.
	id, _, token = fresh()
	p.a.ok(t, admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: []) { id } }`, map[string]any{"id": formatInt(id)})
	p.redis.Restart()
	waitUntil(t, "b shares again", func() bool { return fallbackGauge(t, p.b) == "0" })
	if !refusedOn(t, p.b, token) {
		t.Fatal("after the outage, b still accepts a token whose account lost its scopes during it")
	}
	waitUntil(t, "a shares again", func() bool {
		p.a.do(t, admin, meQuery, nil)
		return fallbackGauge(t, p.a) == "0"
	})
	measure("setAccountScopes after the outage", func(id int64, _ string) {
		p.a.ok(t, admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: []) { id } }`, map[string]any{"id": formatInt(id)})
	})
}

// TestRedisAccountCommandsReachInstances changes accounts with the linkapi
// account commands, given LINKAPI_REDIS_URL: a running instance that holds the
// account in its cache (for a minute) refuses its token within a bounded poll.
func TestRedisAccountCommandsReachInstances(t *testing.T) {
	t.Parallel() // its own database and Redis
	p := startPair(t, map[string]string{"LINKAPI_ACCOUNT_CACHE_TTL": "1m"})
	vars := map[string]string{"LINKAPI_DATABASE_URL": p.dbURL, "LINKAPI_REDIS_URL": p.redis.URL}
	for _, c := range []struct {
		email string
		args  []string
		stdin string
	}{
		{"ann@example.com", []string{"account", "set-scopes", "--email", "ann@example.com", "--scopes", ""}, ""},
		{"bob@example.com", []string{"account", "set-password", "--email", "bob@example.com", "--password-stdin"}, "another-password-2\n"},
		{"cy@example.com", []string{"account", "delete", "--email", "cy@example.com"}, ""},
	} {
		p.a.createAccount(t, c.email, "user-password-1", "account:write")
		token := p.a.login(t, c.email, "user-password-1")
		if refusedOn(t, p.b, token) {
			t.Fatalf("b refuses a fresh token of %s", c.email)
		}
		r := runCLIEnv(t, vars, c.stdin, c.args...)
		if r.Err != nil || strings.Contains(r.Stderr, "Redis does not answer") {
			t.Fatalf("%v: %v\n%s", c.args, r.Err, r.Stderr)
		}
		t.Logf("%s through the command line refused on b after %s", c.args[1], invalidationDelay(t, p.b, token, c.args[1]))
	}
}

// TestRedisDownAtStart starts an instance while its Redis is down: it serves,
// says so in its log and /metrics, limits logins on its own, and shares once
// Redis is up.
func TestRedisDownAtStart(t *testing.T) {
	t.Parallel() // its own database and Redis
	if os.Getenv(storetest.EnvMySQLURL) == "" {
		t.Skipf("%s is not set: Redis is shared by instances on MySQL only", storetest.EnvMySQLURL)
	}
	srv := redistest.Start(t)
	srv.Stop()
	s := startServerOpts(t, storetest.MySQLURL(t), nil, map[string]string{"LINKAPI_REDIS_URL": srv.URL},
		func(p *Program) { p.FailureLimits = &hourlyFailures })
	if !strings.Contains(s.Log.String(), "redis is not answering") {
		t.Errorf("the log does not say Redis is not answering:\n%s", s.Log)
	}
	if got := fallbackGauge(t, s); got != "1" {
		t.Errorf("linkapi_redis_fallback = %s, want 1", got)
	}
	s.createAccount(t, "ann@example.com", "ann-password-1", "account:read")
	codes := spreadFailures(t, 11, "ann@example.com", s)
	if codes[10] != "RATE_LIMITED" || strings.Contains(strings.Join(codes[:10], " "), "RATE_LIMITED") {
		t.Fatalf("11 wrong passwords with Redis down: %v, want RATE_LIMITED on the 11th only", codes)
	}
	srv.Restart()
	waitUntil(t, "shares once Redis is up", func() bool { return fallbackGauge(t, s) == "0" })
	if r := tryLogin(t, s, "bob@example.com", "wrong-password"); r.Code() != "UNAUTHENTICATED" {
		t.Errorf("a wrong password once Redis is up: got %q, want UNAUTHENTICATED", r.Code())
	}
	if n, err := srv.Do("DBSIZE"); err != nil || strings.TrimSpace(n) == ":0" {
		t.Errorf("Redis holds no key after a failed login through it: %q %v", n, err)
	}
}

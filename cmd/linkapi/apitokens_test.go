package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

const createTokenMutation = `mutation($n: String!, $s: [String!]!, $e: Int) {
	createApiToken(name: $n, scopes: $s, expiresIn: $e) { token apiToken { id name scopes expiresAt lastUsedAt } } }`

func TestAPITokens(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		annID := s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write", "account:write")
		s.createAccount(t, "root@example.com", "root-password", "admin:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		root := s.login(t, "root@example.com", "root-password")

		s.createAccount(t, "none@example.com", "none-password")
		none := s.login(t, "none@example.com", "none-password")
		for caller, want := range map[string]string{"": "UNAUTHENTICATED", none: "FORBIDDEN"} {
			for _, q := range []struct {
				query string
				vars  map[string]any
			}{
				{`{ apiTokens { id } }`, nil},
				{createTokenMutation, map[string]any{"n": "x", "s": []string{}}},
				{`mutation { revokeApiToken(id: "1") }`, nil},
			} {
				if got := s.do(t, caller, q.query, q.vars).Code(); got != want {
					t.Errorf("%.30s as %q: got %q, want %q", q.query, want, got, want)
				}
			}
		}

		d := s.ok(t, ann, createTokenMutation, map[string]any{"n": "backup script", "s": []string{"links:read"}})
		secret := str(t, d, "createApiToken", "token")
		id := str(t, d, "createApiToken", "apiToken", "id")
		if !strings.HasPrefix(secret, "lka_") {
			t.Errorf("token = %q, want the lka_ prefix", secret)
		}

		// The token reads links, and only what its scopes allow.
		s.ok(t, ann, `mutation { createLink(input: {url: "https://example.com/a"}) { id } }`, nil)
		d = s.ok(t, secret, `{ links { totalCount } }`, nil)
		if got := get(t, d, "links", "totalCount"); got != float64(1) {
			t.Errorf("links through the API token: got %v, want 1", got)
		}
		if r := s.do(t, secret, `mutation { createLink(input: {url: "https://example.com/b"}) { id } }`, nil); r.Code() != "FORBIDDEN" {
			t.Errorf("write with a links:read token: got %q, want FORBIDDEN", r.Code())
		}

		// Listing shows it, with its use recorded, and never the secret.
		r := s.do(t, ann, `{ apiTokens { id name scopes lastUsedAt } }`, nil)
		if strings.Contains(r.Raw, secret) || strings.Contains(r.Raw, secret[4:]) {
			t.Errorf("apiTokens shows the secret: %s", r.Raw)
		}
		if got := str(t, r.Data, "apiTokens", 0, "id"); got != id {
			t.Errorf("apiTokens[0].id = %q, want %q", got, id)
		}
		if get(t, r.Data, "apiTokens", 0, "lastUsedAt") == nil {
			t.Errorf("lastUsedAt not recorded after use: %s", r.Raw)
		}
		if d := s.ok(t, bob, `{ apiTokens { id } }`, nil); len(get(t, d, "apiTokens").([]any)) != 0 {
			t.Errorf("bob sees ann's tokens: %v", d)
		}

		// Scopes beyond the caller's own, unknown scopes, bad lifetimes and names.
		for _, c := range []struct {
			name string
			vars map[string]any
			want string
		}{
			{"scope not held", map[string]any{"n": "x", "s": []string{"admin:read"}}, "FORBIDDEN"},
			{"unknown scope", map[string]any{"n": "x", "s": []string{"links:raed"}}, "BAD_USER_INPUT"},
			{"too short", map[string]any{"n": "x", "s": []string{"links:read"}, "e": 10}, "BAD_USER_INPUT"},
			{"too long", map[string]any{"n": "x", "s": []string{"links:read"}, "e": 400 * 86400}, "BAD_USER_INPUT"},
			{"empty name", map[string]any{"n": "  ", "s": []string{"links:read"}}, "BAD_USER_INPUT"},
		} {
			if got := s.do(t, ann, createTokenMutation, c.vars).Code(); got != c.want {
				t.Errorf("%s: got %q, want %q", c.name, got, c.want)
			}
		}
		if d := s.ok(t, ann, `{ apiTokens { id } }`, nil); len(get(t, d, "apiTokens").([]any)) != 1 {
			t.Errorf("refused creations left tokens behind: %v", d)
		}

		// Narrowing the account narrows the token on its next request.
		s.ok(t, root, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: ["tags:write"]) { id } }`, map[string]any{"id": formatInt(annID)})
		if r := s.do(t, secret, `{ links { totalCount } }`, nil); r.Code() != "FORBIDDEN" {
			t.Errorf("after narrowing: got %q, want FORBIDDEN", r.Code())
		}
		s.ok(t, root, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: ["links:write", "tags:write", "account:write"]) { id } }`, map[string]any{"id": formatInt(annID)})

		// Only its owner or an administrator may revoke it; then it ends at once.
		revoke := `mutation($id: ID!) { revokeApiToken(id: $id) }`
		if got := s.do(t, bob, revoke, map[string]any{"id": id}).Code(); got != "NOT_FOUND" {
			t.Errorf("bob revoking ann's token: got %q, want NOT_FOUND", got)
		}
		s.ok(t, ann, revoke, map[string]any{"id": id})
		if r := s.do(t, secret, `{ links { totalCount } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Errorf("revoked token: got %d %q, want 401 UNAUTHENTICATED", r.Status, r.Code())
		}
		d = s.ok(t, ann, createTokenMutation, map[string]any{"n": "second", "s": []string{"links:read"}})
		s.ok(t, root, revoke, map[string]any{"id": str(t, d, "createApiToken", "apiToken", "id")})
		if r := s.do(t, str(t, d, "createApiToken", "token"), `{ links { totalCount } }`, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("token revoked by an admin: got %d, want 401", r.Status)
		}

		// An expired token, a made-up one and one whose account is gone are refused.
		d = s.ok(t, ann, createTokenMutation, map[string]any{"n": "short", "s": []string{"links:read"}, "e": 60})
		expiring := str(t, d, "createApiToken", "token")
		execSQL(t, openDB(t, s.DBURL).SQL(), "UPDATE api_tokens SET expires_at = created_at")
		d = s.ok(t, ann, createTokenMutation, map[string]any{"n": "last", "s": []string{"links:read"}})
		last := str(t, d, "createApiToken", "token")
		s.ok(t, last, `{ links { totalCount } }`, nil)
		refused := func(name, tok string) {
			t.Helper()
			if r := s.do(t, tok, `{ links { totalCount } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Errorf("%s: got %d %q, want 401 UNAUTHENTICATED", name, r.Status, r.Code())
			}
		}
		refused("expired", expiring)
		refused("made up", "lka_"+strings.Repeat("A", 43))
		// A password change ends API tokens made before it, like login tokens.
		s.ok(t, ann, `mutation { changePassword(currentPassword: "ann-password", newPassword: "ann-password-2") }`, nil)
		refused("made before a password change", last)
		ann = s.login(t, "ann@example.com", "ann-password-2")
		d = s.ok(t, ann, createTokenMutation, map[string]any{"n": "after", "s": []string{"links:read"}})
		last = str(t, d, "createApiToken", "token")
		s.ok(t, last, `{ links { totalCount } }`, nil)
		s.ok(t, ann, `mutation($id: ID!) { deleteAccount(id: $id) }`, map[string]any{"id": formatInt(annID)})
		refused("account deleted", last)
	})
}

func TestTokenCreateCommand(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ops@example.com", "ops-password", "links:write")
		run := func(args ...string) (string, error) {
			var out, errOut bytes.Buffer
			p := &Program{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
				Getenv: env(map[string]string{"LINKAPI_DATABASE_URL": s.DBURL, "LINKAPI_JWT_SECRET": testSecret})}
			err := p.Run(context.Background(), args)
			return strings.TrimSpace(out.String()), err
		}
		secret, err := run("token", "create", "--email", "ops@example.com", "--name", "cron", "--scopes", "links:read")
		if err != nil {
			t.Fatal(err)
		}
		if d := s.ok(t, secret, `{ links { totalCount } }`, nil); get(t, d, "links", "totalCount") != float64(0) {
			t.Errorf("links through the CLI-made token: %v", d)
		}
		for _, args := range [][]string{
			{"token", "create", "--email", "ops@example.com", "--name", "x", "--scopes", "admin:read"},
			{"token", "create", "--email", "nobody@example.com", "--name", "x", "--scopes", "links:read"},
			{"token", "create", "--email", "ops@example.com", "--scopes", "links:read"},
			{"token", "create", "--email", "ops@example.com", "--name", "x", "--scopes", "links:read", "--expires-in", "1s"},
		} {
			if out, err := run(args...); err == nil {
				t.Errorf("%v: got success (%q), want an error", args, out)
			}
		}
	})
}

// TestAPITokenCannotCreateAPITokens checks that only a login session mints API
// tokens: a token, even with account:write, gets FORBIDDEN and writes nothing, so
// that revoking a token leaves no children of it working.
func TestAPITokenCannotCreateAPITokens(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		d := s.ok(t, ann, createTokenMutation, map[string]any{"n": "parent", "s": []string{"account:write", "links:read"}})
		parent := str(t, d, "createApiToken", "token")
		parentID := str(t, d, "createApiToken", "apiToken", "id")

		count := func() int64 {
			t.Helper()
			return queryInt(t, openDB(t, s.DBURL).SQL(), "SELECT COUNT(*) FROM api_tokens")
		}
		before := count()
		for _, scopes := range [][]string{{"links:read"}, {}} {
			r := s.do(t, parent, createTokenMutation, map[string]any{"n": "child", "s": scopes})
			if r.Code() != "FORBIDDEN" || get(t, r.Data, "createApiToken") != nil {
				t.Errorf("createApiToken %v by an API token: got %q (%s), want FORBIDDEN and no data", scopes, r.Code(), r.Raw)
			}
		}
		if got := count(); got != before {
			t.Errorf("api_tokens after the refused creations: got %d rows, want %d", got, before)
		}

		// The token keeps what account:write gives it otherwise.
		if d := s.ok(t, parent, `{ apiTokens { id } }`, nil); len(get(t, d, "apiTokens").([]any)) != 1 {
			t.Errorf("apiTokens through the API token: %v", d)
		}
		// A login session still mints tokens, and revoking the parent ends it.
		s.ok(t, ann, createTokenMutation, map[string]any{"n": "sibling", "s": []string{"links:read"}})
		s.ok(t, ann, `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": parentID})
		if r := s.do(t, parent, `{ links { totalCount } }`, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("revoked parent: got %d, want 401", r.Status)
		}
	})
}

// TestTokenCreateLifetimes takes days or a Go duration for --expires-in, refuses
// one outside 1m to 366d in those words, and reports a bad value once, without
// listing every flag.
func TestTokenCreateLifetimes(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/l.db"
	okCLI(t, dbURL, "ops-password\n", "account", "create", "--email", "ops@example.com", "--scopes", "links:read", "--password-stdin")
	vars := map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret}
	for _, c := range []struct {
		lifetime string
		days     int    // the token's lifetime in days when it is made
		refusal  string // what the error says when it is not
	}{
		{"90d", 90, ""},
		{"12h", 0, ""},
		{"366d", 366, ""},
		{"10s", 0, "outside 1m to 366d"},
		{"367d", 0, "outside 1m to 366d"},
		{"90x", 0, "neither a number of days such as 90d nor a duration such as 12h"},
	} {
		r := runCLIEnv(t, vars, "", "token", "create", "--email", "ops@example.com", "--name", "t"+c.lifetime, "--scopes", "links:read", "--expires-in", c.lifetime)
		if c.refusal != "" {
			if r.Err == nil || !strings.Contains(r.Err.Error(), c.refusal) {
				t.Errorf("--expires-in %s: got %v, want an error saying %q", c.lifetime, r.Err, c.refusal)
			}
			if strings.Contains(r.Stderr, "-addr") || strings.Contains(r.Stderr, c.refusal) {
				t.Errorf("--expires-in %s: the error is repeated or the flags are listed:\n%s", c.lifetime, r.Stderr)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("--expires-in %s: %v", c.lifetime, r.Err)
			continue
		}
		if c.days > 0 {
			want := time.Now().Add(time.Duration(c.days) * 24 * time.Hour).Format("2006-01-02")
			if !strings.Contains(r.Stderr, "expiring "+want) {
				t.Errorf("--expires-in %s: %s, want expiring %s", c.lifetime, r.Stderr, want)
			}
		}
	}
	if r := runCLIEnv(t, vars, "", "token", "create", "--nonsense"); r.Err == nil || strings.Contains(r.Stderr, "-addr") {
		t.Errorf("an unknown flag: got %v, stderr:\n%s", r.Err, r.Stderr)
	}
}

// TestAPITokensSayWhetherTheyWork lists tokens that expired, that a password
// change ended and that work: each says so, with when and why it ended, and
// the list agrees with what the server accepts.
func TestAPITokensSayWhetherTheyWork(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		mint := func(name string) (id, secret string) {
			d := s.ok(t, ann, createTokenMutation, map[string]any{"n": name, "s": []string{"links:read"}})
			return str(t, d, "createApiToken", "apiToken", "id"), str(t, d, "createApiToken", "token")
		}
		const list = `{ apiTokens { id name active endedAt endReason expiresAt } }`
		listed := func() map[string]map[string]any {
			out := map[string]map[string]any{}
			for _, tok := range get(t, s.ok(t, ann, list, nil), "apiTokens").([]any) {
				out[tok.(map[string]any)["name"].(string)] = tok.(map[string]any)
			}
			return out
		}
		expiredID, expired := mint("expired")
		_, ended := mint("ended")
		execSQL(t, openDB(t, s.DBURL).SQL(), "UPDATE api_tokens SET expires_at = created_at WHERE id = ?", expiredID)
		if got := listed()["ended"]; got["active"] != true || got["endedAt"] != nil || got["endReason"] != nil {
			t.Errorf("a working token is listed as %v", got)
		}

		s.ok(t, ann, `mutation { changePassword(currentPassword: "ann-password", newPassword: "ann-password-2") }`, nil)
		ann = s.login(t, "ann@example.com", "ann-password-2")
		_, works := mint("works")
		for name, secret := range map[string]string{"expired": expired, "ended": ended} {
			if r := s.do(t, secret, `{ links { totalCount } }`, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("%s token: got %d, want 401", name, r.Status)
			}
		}
		s.ok(t, works, `{ links { totalCount } }`, nil)

		got := listed()
		if len(got) != 3 {
			t.Fatalf("listed %d tokens, want 3: %v", len(got), got)
		}
		for name, want := range map[string]struct {
			active bool
			reason any
		}{"expired": {false, "EXPIRED"}, "ended": {false, "PASSWORD_CHANGED"}, "works": {true, nil}} {
			tok := got[name]
			if tok["active"] != want.active || tok["endReason"] != want.reason || (tok["endedAt"] == nil) == !want.active {
				t.Errorf("%s: listed as %v, want active %v, endReason %v and endedAt set when ended", name, tok, want.active, want.reason)
			}
		}
		// An expired token ended at its expiry, even though the password
		// change came later.
		if got["expired"]["endedAt"] != got["expired"]["expiresAt"] {
			t.Errorf("expired token: endedAt %v, want its expiresAt %v", got["expired"]["endedAt"], got["expired"]["expiresAt"])
		}
	})
}

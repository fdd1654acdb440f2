package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"linkapi/internal/store/storetest"
)

// cliResult is what one run of the command printed and returned.
type cliResult struct {
	Stdout, Stderr string
	Err            error
}

// runCLI runs the command with args against dbURL, with stdin as its standard
// input.
func runCLI(t *testing.T, dbURL, stdin string, args ...string) cliResult {
	t.Helper()
	return runCLIEnv(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL}, stdin, args...)
}

// runCLIEnv is runCLI with vars as the whole environment.
func runCLIEnv(t *testing.T, vars map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	p := &Program{
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: env(vars),
		Listening: func(string) {
			t.Errorf("%v listened", args)
			cancel()
		},
	}
	err := p.Run(ctx, args)
	return cliResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// okCLI is runCLI that fails the test on an error.
func okCLI(t *testing.T, dbURL, stdin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, dbURL, stdin, args...)
	if r.Err != nil {
		t.Fatalf("linkapi %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r
}

// failCLI is runCLI that fails the test unless the command returns an error.
func failCLI(t *testing.T, dbURL, stdin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, dbURL, stdin, args...)
	if r.Err == nil {
		t.Errorf("linkapi %s: nil error, want one\nstdout: %s", strings.Join(args, " "), r.Stdout)
	}
	return r
}

// listedScopes returns the scopes `account list` shows for email, and whether it
// lists email at all.
func listedScopes(t *testing.T, dbURL, email string) (string, bool) {
	t.Helper()
	out := okCLI(t, dbURL, "", "account", "list").Stdout
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == email {
			// ID EMAIL SCOPES... CREATED
			return strings.Join(f[2:len(f)-1], " "), true
		}
	}
	return "", false
}

var versionLine = regexp.MustCompile(`version \d+`)

func TestCLIMigrate(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		first := okCLI(t, dbURL, "", "migrate")
		second := okCLI(t, dbURL, "", "migrate")
		v1, v2 := versionLine.FindString(first.Stdout), versionLine.FindString(second.Stdout)
		if v1 == "" || v1 == "version 0" {
			t.Errorf("first migrate printed %q, want the schema version", first.Stdout)
		}
		if v2 != v1 {
			t.Errorf("second migrate printed %q, want the same version as the first (%q)", v2, v1)
		}
	})
}

func TestCLIAccounts(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		okCLI(t, dbURL, "", "migrate")
		okCLI(t, dbURL, "ann-password\n", "account", "create", "--email", "ann@example.com", "--scopes", "links:read", "--password-stdin")
		okCLI(t, dbURL, "bob-password", "account", "create", "--email", "Bob@Example.com", "--password-stdin")

		t.Run("create refusals", func(t *testing.T) {
			failCLI(t, dbURL, "carl-password\n", "account", "create", "--email", "carl@example.com", "--scopes", "links:read")
			failCLI(t, dbURL, "other-password\n", "account", "create", "--email", "ann@example.com", "--password-stdin")
			failCLI(t, dbURL, "other-password\n", "account", "create", "--email", "ANN@example.com", "--password-stdin")
			failCLI(t, dbURL, "dora-password\n", "account", "create", "--email", "dora@example.com", "--scopes", "links:raed", "--password-stdin")
			failCLI(t, dbURL, "dora-password\n", "account", "create", "--email", "dora@example.com", "--scopes", "links:read admin", "--password-stdin")
			failCLI(t, dbURL, "short\n", "account", "create", "--email", "eve@example.com", "--password-stdin")
			failCLI(t, dbURL, "\n", "account", "create", "--email", "eve@example.com", "--password-stdin")
			failCLI(t, dbURL, "", "account", "create", "--email", "eve@example.com", "--password-stdin")
			failCLI(t, dbURL, "fine-password\n", "account", "create", "--password-stdin")
			failCLI(t, dbURL, "fine-password\n", "account", "create", "--email", "not an email", "--password-stdin")
			for _, email := range []string{"carl@example.com", "dora@example.com", "eve@example.com"} {
				if _, ok := listedScopes(t, dbURL, email); ok {
					t.Errorf("account list shows %s, whose create failed", email)
				}
			}
		})

		if got, ok := listedScopes(t, dbURL, "ann@example.com"); !ok || got != "links:read" {
			t.Errorf("account list: ann@example.com has %q (listed %v), want links:read", got, ok)
		}
		if got, ok := listedScopes(t, dbURL, "bob@example.com"); !ok || got != "links:write tags:write account:write" {
			t.Errorf("account list: bob@example.com has %q (listed %v), want the defaults links:write tags:write account:write", got, ok)
		}

		// The accounts log in through a server on the same database. It reads
		// the account on every request, so that a change the command makes
		// shows at once (the cache's lifetime is TestAccountCache's business).
		s := startServerEnv(t, dbURL, nil, map[string]string{"LINKAPI_ACCOUNT_CACHE_TTL": "0s"})
		d := s.ok(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ann-password"})
		if got := fmt.Sprint(get(t, d, "login", "scopes")); got != "[links:read]" {
			t.Errorf("ann's login scopes = %s, want [links:read]", got)
		}
		ann := str(t, d, "login", "accessToken")
		s.ok(t, ann, linksCountQuery, nil)
		wantCode(t, s.do(t, ann, createLinkMut, nil), "FORBIDDEN")
		s.login(t, "bob@example.com", "bob-password")

		okCLI(t, dbURL, "", "account", "set-scopes", "--email", "ann@example.com", "--scopes", "tags:read")
		if got, _ := listedScopes(t, dbURL, "ann@example.com"); got != "tags:read" {
			t.Errorf("account list after set-scopes: ann@example.com has %q, want tags:read", got)
		}
		wantCode(t, s.do(t, ann, linksCountQuery, nil), "FORBIDDEN")
		d = s.ok(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ann-password"})
		if got := fmt.Sprint(get(t, d, "login", "scopes")); got != "[tags:read]" {
			t.Errorf("ann's login scopes after set-scopes = %s, want [tags:read]", got)
		}

		t.Run("set-scopes refusals", func(t *testing.T) {
			failCLI(t, dbURL, "", "account", "set-scopes", "--email", "nobody@example.com", "--scopes", "tags:read")
			failCLI(t, dbURL, "", "account", "set-scopes", "--email", "ann@example.com", "--scopes", "tags:raed")
			failCLI(t, dbURL, "", "account", "set-scopes", "--email", "ann@example.com")
			if got, _ := listedScopes(t, dbURL, "ann@example.com"); got != "tags:read" {
				t.Errorf("ann@example.com has %q after the refused set-scopes, want tags:read", got)
			}
		})

		okCLI(t, dbURL, "", "account", "set-scopes", "--email", "ANN@example.com", "--scopes", "")
		if got, ok := listedScopes(t, dbURL, "ann@example.com"); !ok || got != "" {
			t.Errorf("ann@example.com has %q after set-scopes \"\", want none", got)
		}
	})
}

func TestCLIUnknownCommands(t *testing.T) {
	dbURL := storetest.SQLiteURL(t)
	for _, args := range [][]string{
		{"frobnicate"},
		{"account"},
		{"account", "frobnicate"},
		{"migrate", "extra"},
		{"serve", "--no-such-flag"},
		{"account", "list", "--no-such-flag"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			failCLI(t, dbURL, "", args...)
		})
	}
}

// adminPassword finds the bootstrap password in serve's output.
var adminPassword = regexp.MustCompile(`admin@localhost\b.*\bpassword (\S+)`)

// TestBootstrapAdmin checks that serve on a fresh database creates admin@localhost
// and prints a password that logs in.
func TestBootstrapAdmin(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		m := adminPassword.FindStringSubmatch(s.Log.String())
		if m == nil {
			t.Fatalf("serve did not print admin@localhost's password:\n%s", s.Log.String())
		}
		d := s.ok(t, "", loginMut, map[string]any{"e": "admin@localhost", "p": m[1]})
		if got := fmt.Sprint(get(t, d, "login", "scopes")); !strings.Contains(got, "admin:write") {
			t.Errorf("admin@localhost's scopes = %s, want admin:write", got)
		}
		admin := str(t, d, "login", "accessToken")
		s.ok(t, admin, `{ accounts { totalCount } }`, nil)
		s.ok(t, admin, `mutation { createAccount(input: {email: "ann@example.com", password: "ann-password"}) { id } }`, nil)
	})
}

// TestSQLiteDefaultSecret checks that serve on SQLite without LINKAPI_JWT_SECRET
// makes a key beside the database, mode 0600, and keeps using it.
func TestSQLiteDefaultSecret(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "links.db")
	serve := func() (*testServer, string, func()) {
		addr, log, stop := launch(t, map[string]string{"LINKAPI_DATABASE_URL": "sqlite:" + db}, nil)
		return &testServer{URL: "http://" + addr}, log.String(), stop
	}

	s, out, stop := serve()
	keyPath := db + ".jwt-secret"
	info, err := os.Stat(keyPath)
	if err != nil {
		stop()
		t.Fatalf("no key beside the database: %v\noutput: %s", err, out)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keyPath, got)
	}
	key, _ := os.ReadFile(keyPath)
	if n := len(strings.TrimSpace(string(key))); n < 32 {
		t.Errorf("key is %d bytes, want at least 32", n)
	}
	if !strings.Contains(out, keyPath) {
		t.Errorf("serve did not say where it kept the key:\n%s", out)
	}
	m := adminPassword.FindStringSubmatch(out)
	if m == nil {
		stop()
		t.Fatalf("serve did not print admin@localhost's password:\n%s", out)
	}
	token := s.login(t, "admin@localhost", m[1])
	s.ok(t, token, `{ me { email } accounts { totalCount } }`, nil)
	stop()

	// A second start reuses the key, so the token still works, and makes no new
	// administrator.
	s, out, stop = serve()
	if again, _ := os.ReadFile(keyPath); string(again) != string(key) {
		t.Errorf("the key changed on the second start")
	}
	if adminPassword.MatchString(out) {
		t.Errorf("the second start printed an administrator password again:\n%s", out)
	}
	if got := str(t, s.ok(t, token, meQuery, nil), "me", "email"); got != "admin@localhost" {
		t.Errorf("me.email after a restart = %q, want admin@localhost", got)
	}
	stop()

	// A key file others may read is refused rather than used.
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runServeExpectingFailure(t, map[string]string{"LINKAPI_DATABASE_URL": "sqlite:" + db}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("serve with a key file of mode 0644: got %v, want a refusal naming chmod 600", err)
	}
}

// TestEveryCommandRefusesAShortSecret runs the commands that read the
// configuration with a LINKAPI_JWT_SECRET under 32 bytes: each refuses it.
func TestEveryCommandRefusesAShortSecret(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/s.db"
	for _, args := range [][]string{
		{"migrate"}, {"account", "list"}, {"account", "create", "--email", "a@example.com", "--password-stdin"},
		{"token", "create", "--email", "a@example.com", "--name", "n", "--scopes", "links:read"},
		{"export", "--email", "a@example.com"},
	} {
		r := runCLIEnv(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": "short"}, "password-1\n", args...)
		if r.Err == nil || !strings.Contains(r.Err.Error(), "LINKAPI_JWT_SECRET must be at least 32 bytes") {
			t.Errorf("linkapi %s with a short secret: got %v", strings.Join(args, " "), r.Err)
		}
	}
}

// TestCLIAccountSetPasswordAndDelete resets a password from the command line:
// the old password and the tokens issued before stop working, the new one logs
// in; then deletes the account, whose token and login end with it. Bad input
// changes nothing.
func TestCLIAccountSetPasswordAndDelete(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		s := startServerEnv(t, dbURL, nil, map[string]string{"LINKAPI_ACCOUNT_CACHE_TTL": "0s"})
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		old := s.login(t, "ann@example.com", "ann-password")
		vars := map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret}

		for _, c := range []struct {
			stdin string
			args  []string
		}{
			{"new-password-1\n", []string{"account", "set-password", "--email", "ann@example.com"}},
			{"short\n", []string{"account", "set-password", "--email", "ann@example.com", "--password-stdin"}},
			{"new-password-1\n", []string{"account", "set-password", "--email", "nobody@example.com", "--password-stdin"}},
			{"", []string{"account", "delete"}},
			{"", []string{"account", "delete", "--email", "nobody@example.com"}},
		} {
			if r := runCLIEnv(t, vars, c.stdin, c.args...); r.Err == nil {
				t.Errorf("%v: got success, want an error", c.args)
			}
		}
		s.ok(t, old, `{ me { email } }`, nil) // nothing changed so far

		if r := runCLIEnv(t, vars, "new-password-1\n", "account", "set-password", "--email", "ann@example.com", "--password-stdin"); r.Err != nil {
			t.Fatalf("set-password: %v", r.Err)
		}
		wantCode(t, s.do(t, old, `{ me { email } }`, nil), "UNAUTHENTICATED")
		wantCode(t, s.do(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "ann-password"}), "UNAUTHENTICATED")
		fresh := s.login(t, "ann@example.com", "new-password-1")
		s.ok(t, fresh, `mutation { createLink(input: {url: "https://example.com/"}) { id } }`, nil)

		if r := runCLIEnv(t, vars, "", "account", "delete", "--email", "ann@example.com"); r.Err != nil || !strings.Contains(r.Stdout, "deleted account") {
			t.Fatalf("delete: %v %s", r.Err, r.Stdout)
		}
		wantCode(t, s.do(t, fresh, `{ me { email } }`, nil), "UNAUTHENTICATED")
		wantCode(t, s.do(t, "", loginMut, map[string]any{"e": "ann@example.com", "p": "new-password-1"}), "UNAUTHENTICATED")
		if _, listed := listedScopes(t, dbURL, "ann@example.com"); listed {
			t.Errorf("account list after delete still shows ann")
		}
	})
}

// TestCommandsCheckOnlyWhatTheyRead sets serve's settings to nonsense: the other
// commands, which do not read them, run; serve refuses each. What a command
// reads (LINKAPI_ENV for all, the storage bounds for import) it still checks.
func TestCommandsCheckOnlyWhatTheyRead(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/c.db"
	for _, name := range []string{"LINKAPI_TOKEN_TTL", "LINKAPI_SHUTDOWN_GRACE", "LINKAPI_REQUEST_TIMEOUT", "LINKAPI_MAX_DEPTH",
		"LINKAPI_TRUSTED_PROXIES", "LINKAPI_GRAPHIQL", "LINKAPI_CORS_ORIGINS", "LINKAPI_REFRESH_TTL", "LINKAPI_ANON_CONCURRENCY",
		"LINKAPI_MAX_LINKS_PER_ACCOUNT"} {
		vars := map[string]string{"LINKAPI_DATABASE_URL": dbURL, name: "nonsense value"}
		if r := runCLIEnv(t, vars, "", "account", "list"); r.Err != nil {
			t.Errorf("account list with %s set to nonsense: %v", name, r.Err)
		}
		if r := runCLIEnv(t, vars, "", "serve"); r.Err == nil || !strings.Contains(r.Err.Error(), name) {
			t.Errorf("serve with %s set to nonsense: got %v, want an error naming it", name, r.Err)
		}
	}
	for name, args := range map[string][]string{
		"LINKAPI_ENV":                   {"account", "list"},
		"LINKAPI_MAX_LINKS_PER_ACCOUNT": {"import", "--email", "a@example.com"},
	} {
		r := runCLIEnv(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL, name: "nonsense"}, "", args...)
		if r.Err == nil || !strings.Contains(r.Err.Error(), name) {
			t.Errorf("%s with %s set to nonsense: got %v, want an error naming it", strings.Join(args, " "), name, r.Err)
		}
	}
}

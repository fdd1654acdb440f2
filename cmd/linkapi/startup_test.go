package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkapi/internal/store/storetest"
)

// runServeExpectingFailure runs serve with vars as its whole environment and
// returns its error, failing t if it listens or succeeds.
func runServeExpectingFailure(t *testing.T, vars map[string]string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var listened atomic.Bool
	out := &syncBuffer{}
	p := &Program{
		Stdin:  strings.NewReader(""),
		Stdout: out,
		Stderr: out,
		Getenv: env(vars),
		Listening: func(string) {
			listened.Store(true)
			cancel()
		},
	}
	err := p.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0"})
	if listened.Load() {
		t.Errorf("serve listened; want it to refuse to start")
	}
	if err == nil {
		t.Fatalf("serve returned nil; want an error\noutput: %s", out.String())
	}
	return out.String(), err
}

// wantStartRefused runs serve on a fresh SQLite database with each of settings
// in turn and fails t for each one with which it starts.
func wantStartRefused(t *testing.T, settings ...map[string]string) {
	t.Helper()
	for _, bad := range settings {
		vars := map[string]string{"LINKAPI_DATABASE_URL": "sqlite:" + t.TempDir() + "/x.db", "LINKAPI_JWT_SECRET": testSecret}
		for k, v := range bad {
			vars[k] = v
		}
		if _, err := runServeExpectingFailure(t, vars); err == nil {
			t.Errorf("%v: serve started", bad)
		}
	}
}

// wantOneLineError fails t unless err is a single line without a stack trace, and
// output has no stack trace either.
func wantOneLineError(t *testing.T, err error, output string) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error has more than one line: %q", msg)
	}
	if strings.TrimSpace(msg) == "" {
		t.Errorf("error message is empty")
	}
	for _, bad := range []string{"goroutine", "panic"} {
		if strings.Contains(msg, bad) {
			t.Errorf("error mentions %q: %q", bad, msg)
		}
		if strings.Contains(output, bad) {
			t.Errorf("output mentions %q: %q", bad, output)
		}
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	for _, c := range []struct {
		name string
		vars func(t *testing.T) map[string]string
		want string // a word the message should hold, to show it is the right failure
	}{
		{"short secret", func(t *testing.T) map[string]string {
			return map[string]string{
				"LINKAPI_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "short.db"),
				"LINKAPI_JWT_SECRET":   "too-short",
			}
		}, "LINKAPI_JWT_SECRET"},
		{"unknown scheme", func(t *testing.T) map[string]string {
			return map[string]string{"LINKAPI_DATABASE_URL": "postgres://x", "LINKAPI_JWT_SECRET": testSecret}
		}, "postgres"},
		{"unknown scheme without a secret", func(t *testing.T) map[string]string {
			return map[string]string{"LINKAPI_DATABASE_URL": "postgres://x"}
		}, "postgres"},
		{"unreachable mysql", func(t *testing.T) map[string]string {
			return map[string]string{"LINKAPI_DATABASE_URL": "mysql://root@127.0.0.1:1/x", "LINKAPI_JWT_SECRET": testSecret}
		}, "127.0.0.1:1"},
		{"unreachable mysql with password", func(t *testing.T) map[string]string {
			return map[string]string{"LINKAPI_DATABASE_URL": "mysql://root:hunter2secret@127.0.0.1:1/x", "LINKAPI_JWT_SECRET": testSecret}
		}, ""},
		{"mysql without secret", func(t *testing.T) map[string]string {
			return map[string]string{"LINKAPI_DATABASE_URL": storetest.URL(t, "mysql")}
		}, "LINKAPI_JWT_SECRET"},
		{"bad token ttl", func(t *testing.T) map[string]string {
			return map[string]string{
				"LINKAPI_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "ttl.db"),
				"LINKAPI_JWT_SECRET":   testSecret,
				"LINKAPI_TOKEN_TTL":    "forever",
			}
		}, "LINKAPI_TOKEN_TTL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			output, err := runServeExpectingFailure(t, c.vars(t))
			wantOneLineError(t, err, output)
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to mention %q", err, c.want)
			}
			if strings.Contains(err.Error()+output, "hunter2secret") {
				t.Errorf("error or output shows the database password: %q %q", err, output)
			}
		})
	}
}

// TestMainExitsNonZero runs the real main in a child process (this test binary,
// re-entered through TestMainHelperProcess) with a bad configuration and checks
// the exit status and that stderr is one line.
func TestMainExitsNonZero(t *testing.T) {
	for name, vars := range map[string][]string{
		"unknown scheme": {"LINKAPI_DATABASE_URL=postgres://x", "LINKAPI_JWT_SECRET=" + testSecret},
		"short secret":   {"LINKAPI_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "m.db"), "LINKAPI_JWT_SECRET=short"},
		"production":     {"LINKAPI_DATABASE_URL=postgres://x", "LINKAPI_ENV=production"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainHelperProcess$")
			cmd.Env = append(os.Environ(), "LINKAPI_TEST_HELPER_MAIN=1", "LINKAPI_ADDR=127.0.0.1:0")
			cmd.Env = append(cmd.Env, vars...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("main: err = %v, want a non-zero exit\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			if lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n"); len(lines) != 1 {
				t.Errorf("stderr has %d lines, want 1:\n%s", len(lines), stderr.String())
			}
			wantOneLineError(t, errors.New(strings.TrimSpace(stderr.String())), stdout.String())
			var rec map[string]any
			if isJSON := json.Unmarshal(stderr.Bytes(), &rec) == nil; isJSON != (name == "production") {
				t.Errorf("stderr is JSON: %v, want it to be JSON only in production: %s", isJSON, stderr.String())
			}
		})
	}
}

// TestMainHelperProcess is main, when TestMainExitsNonZero or TestMainHelpExitStatus
// runs it in a child (with LINKAPI_TEST_HELPER_ARGS, \x1f-separated, as its
// arguments);
// in the ordinary run it does nothing.
func TestMainHelperProcess(t *testing.T) {
	if os.Getenv("LINKAPI_TEST_HELPER_MAIN") != "1" {
		return
	}
	os.Args = []string{"linkapi", "serve"}
	if args := os.Getenv("LINKAPI_TEST_HELPER_ARGS"); args != "" {
		os.Args = append([]string{"linkapi"}, strings.Split(args, "\x1f")...)
	}
	main()
	os.Exit(0)
}

// TestProductionLogsAreJSON serves in production on SQLite without a secret:
// every line written, from the start to the stop, is a JSON record, and one of
// them warns that production wants MySQL and a secret of its own.
func TestProductionLogsAreJSON(t *testing.T) {
	dir := t.TempDir()
	addr, log, stop := launch(t, map[string]string{
		"LINKAPI_DATABASE_URL": "sqlite:" + dir + "/p.db", "LINKAPI_ENV": "production",
	}, nil)
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// A GraphQL request answered, and one refused for its token, are logged too.
	s := &testServer{URL: "http://" + addr}
	s.ok(t, "", `{ __typename }`, nil)
	wantCode(t, s.do(t, "not-a-token", `{ __typename }`, nil), "UNAUTHENTICATED")
	stop()
	warnings := 0
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a line that is not JSON: %q", line)
			continue
		}
		if rec["level"] == "WARN" {
			warnings++
			if rec["sqlite"] != true || rec["key_file"] == "" {
				t.Errorf("the warning does not say why: %v", rec)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("got %d warnings, want 1:\n%s", warnings, log.String())
	}
	for _, want := range []string{`"msg":"stopped"`, `"status":401`, `"status":200`, `"msg":"shutting down`, `"msg":"serving GraphQL on`, `"password":`, `"key_file":`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, log.String())
		}
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// helpEnv points the commands at a database that cannot be opened, so that a
// help that touched it would fail.
var helpEnv = map[string]string{"LINKAPI_DATABASE_URL": "postgres://nowhere/x"}

// TestHelpListsEveryCommand checks that each way of asking for help prints every
// command of the table, without touching the database.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runCLIEnv(t, helpEnv, "", args...)
		if r.Err != nil {
			t.Fatalf("linkapi %s: %v", strings.Join(args, " "), r.Err)
		}
		for _, want := range []string{"serve", "migrate", "account create", "account list", "account set-scopes",
			"account set-password", "account delete", "token create", "import", "export", "help [COMMAND]"} {
			if !strings.Contains(r.Stdout, "\n  "+want+" ") {
				t.Errorf("linkapi %s does not list %q:\n%s", strings.Join(args, " "), want, r.Stdout)
			}
		}
		if strings.Contains(r.Stdout, "--addr HOST:PORT  ") {
			t.Errorf("linkapi %s lists serve's flags rather than the commands:\n%s", strings.Join(args, " "), r.Stdout)
		}
	}
}

// TestCommandHelp asks each command for its help both ways: the two agree, list
// exactly the command's own flags, the variables it reads and an example of it.
func TestCommandHelp(t *testing.T) {
	for name, flags := range map[string][]string{
		"serve":                {"--addr", "--cors-origins", "--database-url", "--shutdown-grace", "--token-ttl"},
		"migrate":              {"--database-url"},
		"account create":       {"--database-url", "--email", "--password-stdin", "--scopes"},
		"account list":         {"--database-url"},
		"account set-scopes":   {"--database-url", "--email", "--scopes"},
		"account set-password": {"--database-url", "--email", "--password-stdin"},
		"account delete":       {"--database-url", "--email"},
		"token create":         {"--database-url", "--email", "--expires-in", "--name", "--scopes"},
		"import":               {"--database-url", "--email", "--file", "--format"},
		"export":               {"--database-url", "--email", "--file", "--format"},
	} {
		t.Run(name, func(t *testing.T) {
			viaHelp := runCLIEnv(t, helpEnv, "", append([]string{"help"}, strings.Fields(name)...)...)
			for _, flag := range []string{"--help", "-h"} {
				direct := runCLIEnv(t, helpEnv, "", append(strings.Fields(name), flag)...)
				if viaHelp.Err != nil || direct.Err != nil {
					t.Fatalf("help %s: %v; %s %s: %v", name, viaHelp.Err, name, flag, direct.Err)
				}
				if direct.Stdout != viaHelp.Stdout {
					t.Errorf("linkapi %s %s printed\n%s\nbut linkapi help %s printed\n%s", name, flag, direct.Stdout, name, viaHelp.Stdout)
				}
			}
			out := viaHelp.Stdout
			if !strings.HasPrefix(out, "usage: linkapi "+name+" ") {
				t.Errorf("help does not start with the usage line:\n%s", out)
			}
			section := func(title string) []string {
				_, rest, ok := strings.Cut(out, "\n"+title+":\n")
				if !ok {
					t.Fatalf("no %s section:\n%s", title, out)
				}
				body, _, _ := strings.Cut(rest, "\n\n")
				return strings.Split(strings.TrimRight(body, "\n"), "\n")
			}
			var listed []string
			for _, line := range section("flags") {
				if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "--") {
					listed = append(listed, f[0])
				}
			}
			if !slices.Equal(listed, flags) {
				t.Errorf("flags listed = %v, want %v:\n%s", listed, flags, out)
			}
			env := strings.Join(section("environment"), "\n")
			for _, v := range []string{"LINKAPI_DATABASE_URL", "LINKAPI_JWT_SECRET"} {
				if !strings.Contains(env, v+" ") {
					t.Errorf("environment does not list %s:\n%s", v, out)
				}
			}
			if name == "serve" && !strings.Contains(env, "LINKAPI_ADDR ") {
				t.Errorf("serve's environment does not list LINKAPI_ADDR:\n%s", out)
			}
			for _, line := range section("environment") {
				if strings.HasSuffix(strings.TrimSpace(line), "LINKAPI_ENV") || strings.HasSuffix(line, "  ") {
					t.Errorf("a variable without its meaning: %q", line)
				}
			}
			example := section("example")
			if len(example) != 1 || !strings.Contains(example[0], "linkapi "+name) {
				t.Errorf("example = %q, want one line running linkapi %s", example, name)
			}
		})
	}
}

// TestDidYouMean checks that a slip in a command or a flag is refused with the
// nearest name, in one line, and that anything far from every name points at help.
func TestDidYouMean(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"servee"}, `did you mean "serve"?`},
		{[]string{"migrat"}, `did you mean "migrate"?`},
		{[]string{"acount", "list"}, `did you mean "account list"?`},
		{[]string{"account", "creat", "--email", "a@example.com"}, `did you mean "account create"?`},
		{[]string{"account", "set-pasword"}, `did you mean "account set-password"?`},
		{[]string{"token", "craete"}, `did you mean "token create"?`},
		{[]string{"exprot"}, `did you mean "export"?`},
		{[]string{"help", "imprt"}, `did you mean "import"?`},
		{[]string{"account", "create", "--emial", "a@example.com"}, "unknown flag --emial; did you mean --email?"},
		{[]string{"token", "create", "--expire-in", "9d"}, "unknown flag --expire-in; did you mean --expires-in?"},
		{[]string{"serve", "--adr", "127.0.0.1:0"}, "unknown flag --adr; did you mean --addr?"},
		{[]string{"--adr", "127.0.0.1:0"}, "unknown flag --adr; did you mean --addr?"},
		{[]string{"migrate", "--addr", "127.0.0.1:0"}, "migrate: unknown flag --addr; run linkapi help migrate"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; run linkapi help`},
		{[]string{"account"}, "account needs a command: account create, account list"},
	} {
		r := runCLIEnv(t, helpEnv, "", c.args...)
		if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) || strings.Contains(r.Err.Error(), "\n") {
			t.Errorf("linkapi %s: got %v, want one line with %q", strings.Join(c.args, " "), r.Err, c.want)
		}
	}
}

// TestMainHelpExitStatus runs the real main: help exits 0 on standard output, a
// slip exits 2 with one line on standard error.
func TestMainHelpExitStatus(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		out    string
	}{
		{[]string{"--help"}, 0, "account set-password"},
		{[]string{"account", "delete", "--help"}, 0, "example:"},
		{[]string{"acount", "list"}, 2, `did you mean "account list"?`},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainHelperProcess$")
		cmd.Env = append(os.Environ(), "LINKAPI_TEST_HELPER_MAIN=1", "LINKAPI_TEST_HELPER_ARGS="+strings.Join(c.args, "\x1f"),
			"LINKAPI_DATABASE_URL=postgres://nowhere/x")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		status := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			status = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if c.status != 0 {
			out = stderr.String()
			if n := strings.Count(strings.TrimRight(out, "\n"), "\n"); n != 0 {
				t.Errorf("linkapi %s: %d lines on stderr, want 1:\n%s", strings.Join(c.args, " "), n+1, out)
			}
		}
		if status != c.status || !strings.Contains(out, c.out) {
			t.Errorf("linkapi %s: exit %d, output %q; want exit %d and %q", strings.Join(c.args, " "), status, out, c.status, c.out)
		}
	}
}

// TestServeHelpNamesEveryVariable checks that `linkapi help serve` names every
// variable of docs/configuration.md's table: serve reads them all.
func TestServeHelpNamesEveryVariable(t *testing.T) {
	documented := configurationVariables(t)
	r := runCLIEnv(t, helpEnv, "", "help", "serve")
	if r.Err != nil {
		t.Fatalf("linkapi help serve: %v", r.Err)
	}
	for name := range documented {
		if !strings.Contains(r.Stdout, name) {
			t.Errorf("linkapi help serve does not name %s, which docs/configuration.md lists", name)
		}
	}
}

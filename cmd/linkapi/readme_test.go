package main

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runnableMarker, on the line before a ```sh or ```bash fence, marks a shell
// block of the documentation that runs as written against a server.
const runnableMarker = "<!-- runnable -->"

// runnableBlocks returns the shell blocks of a Markdown file that runnableMarker
// marks, in order.
func runnableBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var blocks []string
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != runnableMarker {
			continue
		}
		if i+1 >= len(lines) || (lines[i+1] != "```sh" && lines[i+1] != "```bash") {
			t.Errorf("%s:%d: %s is not followed by a ```sh or ```bash fence", path, i+1, runnableMarker)
			continue
		}
		var block []string
		for i += 2; i < len(lines) && lines[i] != "```"; i++ {
			block = append(block, lines[i])
		}
		blocks = append(blocks, strings.Join(block, "\n"))
	}
	return blocks
}

// TestDocumentedExamplesRun runs the shell blocks of README.md and docs/*.md
// marked runnable, each file's in order in one bash session as a reader would
// type them, in a directory where ./linkapi is this program, against a server
// on a free port of a fresh database: LINKAPI names the server and
// ADMIN_PASSWORD holds the password it printed. A block that exits non-zero
// fails the test.
func TestDocumentedExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("the documented examples need jq (apt-get install jq)")
	}
	work := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(work, "linkapi.db")
	// The examples save links to real sites, which the server does not fetch
	// (launch turns fetching off): the test never depends on the internet.
	addr, log, stop := launch(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL}, nil)
	t.Cleanup(stop)
	m := adminPassword.FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("serve printed no password:\n%s", log.String())
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// ./linkapi runs this test binary's main through TestMainHelperProcess.
	wrapper := "#!/usr/bin/env bash\nIFS=$'\\x1f'\nLINKAPI_TEST_HELPER_MAIN=1 LINKAPI_TEST_HELPER_ARGS=\"$*\" exec " +
		shellQuote(self) + " -test.run='^TestMainHelperProcess$'\n"
	if err := os.WriteFile(filepath.Join(work, "linkapi"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + work, "LANG=C.UTF-8",
		"LINKAPI=http://" + addr, "ADMIN_PASSWORD=" + m[1], "LINKAPI_DATABASE_URL=" + dbURL,
	}

	docs, _ := filepath.Glob("../../docs/*.md")
	total := 0
	outputs := map[string]string{}
	for _, path := range append([]string{"../../README.md"}, docs...) {
		blocks := runnableBlocks(t, path)
		if len(blocks) == 0 {
			continue
		}
		total += len(blocks)
		var script strings.Builder
		for i, b := range blocks {
			fmt.Fprintf(&script, "echo '--- block %d of %s'\n%s\n", i+1, filepath.Base(path), b)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail")
		cmd.Dir, cmd.Env, cmd.Stdin = work, env, strings.NewReader(script.String())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		outputs[filepath.Base(path)] = out.String()
		if err != nil {
			t.Errorf("%s: the runnable blocks failed (%v); the last block named is the one:\n%s", path, err, out.String())
		}
	}
	if total < 11 {
		t.Errorf("found %d runnable blocks, want at least 11: is the marker still %q?", total, runnableMarker)
	}
	for file, want := range map[string]*regexp.Regexp{
		"README.md":        regexp.MustCompile(`"url":"https://go.dev/","tags":\[\{"name":"go"\}\]`),
		"tokens.md":        regexp.MustCompile(`"code":"UNAUTHENTICATED"`),
		"production.md":    regexp.MustCompile(`(?m)^linkapi_http_requests_total\{`),
		"cli.md":           regexp.MustCompile(`(?m)^\d+ +reader@example\.com +links:read `),
		"import-export.md": regexp.MustCompile(`(?s)imported 2 links into bob@example\.com; skipped 0 .*skipped 2 already there.*\nsame\n`),
	} {
		if !want.MatchString(outputs[file]) {
			t.Errorf("%s's blocks did not print %s:\n%s", file, want, outputs[file])
		}
	}
}

// shellQuote quotes s for bash.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// variableName is a configuration variable of the binary, as its sources spell it.
var variableName = regexp.MustCompile(`LINKAPI_[A-Z0-9_]*[A-Z0-9]`)

// TestConfigurationTableNamesEveryVariable checks that every LINKAPI_ variable
// named in a string of this program's sources (the ones it reads, and those its
// help lists) has a row in the table of docs/configuration.md.
func TestConfigurationTableNamesEveryVariable(t *testing.T) {
	documented := configurationVariables(t)
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]token.Position{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					for _, name := range variableName.FindAllString(lit.Value, -1) {
						if _, seen := read[name]; !seen {
							read[name] = fset.Position(lit.Pos())
						}
					}
				}
				return true
			})
		}
	}
	if len(read) < 30 {
		t.Fatalf("found %d variables in the sources, want at least 30", len(read))
	}
	for name, pos := range read {
		if !documented[name] {
			t.Errorf("%s (%s) has no row in docs/configuration.md's table", name, pos)
		}
	}
}

// configurationVariables returns the LINKAPI_ variables that have a row in the
// table of docs/configuration.md; it fails the test when the table names fewer
// than 30, as a table no longer of | `LINKAPI_…` | rows would.
func configurationVariables(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |"); ok && strings.HasPrefix(line, "| `LINKAPI_") {
			for _, name := range variableName.FindAllString(first, -1) {
				documented[name] = true
			}
		}
	}
	if len(documented) < 30 {
		t.Fatalf("docs/configuration.md's table names %d variables, want at least 30: is it still a table of | `LINKAPI_…` | rows?", len(documented))
	}
	return documented
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrainsFirst runs the real main with LINKAPI_DRAIN_DELAY in a child
// process and sends it SIGTERM: /readyz fails at once, saying it drains, while
// GraphQL requests are still answered (each on a connection closed after it);
// a second SIGTERM ends the drain, and the server shuts down and exits 0.
func TestSIGTERMDrainsFirst(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainHelperProcess$")
	cmd.Env = append(os.Environ(), "LINKAPI_TEST_HELPER_MAIN=1", "LINKAPI_ADDR="+addr,
		"LINKAPI_DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "l.db"), "LINKAPI_JWT_SECRET="+testSecret,
		"LINKAPI_DRAIN_DELAY=10m")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	readyz := func() (int, map[string]string) {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		var body map[string]string
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	for i := 0; ; i++ {
		if status, _ := readyz(); status == http.StatusOK {
			break
		}
		if i > 300 {
			t.Fatalf("child never became ready:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		status, body := readyz()
		if status == http.StatusServiceUnavailable {
			if !strings.HasPrefix(body["reason"], "draining") {
				t.Errorf("/readyz while draining: reason %q, want one that says draining", body["reason"])
			}
			break
		}
		if status != http.StatusOK || i > 200 {
			t.Fatalf("/readyz after SIGTERM: %d, want 503 while draining\n%s", status, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := http.Post("http://"+addr+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatalf("a request while draining: %v", err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(got), `"__typename":"Query"`) {
		t.Errorf("a request while draining: got %d %s, want 200 with data", res.StatusCode, got)
	}
	if !res.Close {
		t.Errorf("a response while draining keeps its connection open; want Connection: close")
	}
	if strings.Contains(stderr.String(), "linkapi: shutting down") {
		t.Errorf("shut down before the drain ended:\n%s", stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v, want 0\n%s", err, stderr.String())
	}
	for _, want := range []string{"linkapi: draining: /readyz fails for 10m0s", "linkapi: shutting down", "linkapi: stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrainsFirst runs the real main with LINKAPI_DRAIN_DELAY in a child
// process and sends it SIGTERM: /readyz fails at once, saying it drains, while
// GraphQL requests are still answered (each on a connection closed after it),
// on new connections and on a keep-alive connection that was idle when the
// signal came (a balancer's pooled one, which it may pick until it sees /readyz
// fail); a second SIGTERM ends the drain, and the server shuts down and exits 0.
func TestSIGTERMDrainsFirst(t *testing.T) {
	cmd, addr, stderr := startMain(t, "LINKAPI_DRAIN_DELAY=10m")
	query := func(conn net.Conn, replies *bufio.Reader) (*http.Response, string, error) {
		body := `{"query":"{ __typename }"}`
		fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
		res, err := http.ReadResponse(replies, nil)
		if err != nil {
			return nil, "", err
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(got), err
	}
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idleReplies := bufio.NewReader(idle)
	if res, got, err := query(idle, idleReplies); err != nil || res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("a request before SIGTERM: %v %v %s, want 200 on a connection kept alive", res, err, got)
	}
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
	res, got2, err := query(idle, idleReplies)
	if err != nil {
		t.Fatalf("a request while draining, on a connection idle since before SIGTERM: %v; want an answer", err)
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(got2, `"__typename":"Query"`) || !res.Close {
		t.Errorf("a request while draining, on a connection idle since before SIGTERM: got %d %s (close %v), want 200 with data and Connection: close",
			res.StatusCode, got2, res.Close)
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

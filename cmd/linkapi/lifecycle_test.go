package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on, for a child server.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startMain runs the real main in a child process on a fresh SQLite database,
// with env added to its environment, and waits until it answers /readyz. The
// child is killed when the test ends if it is still running.
func startMain(t *testing.T, env ...string) (cmd *exec.Cmd, addr string, stderr *syncBuffer) {
	t.Helper()
	addr = freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMainHelperProcess$")
	cmd.Env = append(append(os.Environ(), "LINKAPI_TEST_HELPER_MAIN=1", "LINKAPI_ADDR="+addr,
		"LINKAPI_DATABASE_URL=sqlite:"+filepath.Join(t.TempDir(), "l.db"), "LINKAPI_JWT_SECRET="+testSecret), env...)
	stderr = &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	for i := 0; ; i++ {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			return cmd, addr, stderr
		}
		if i > 300 {
			t.Fatalf("child never became ready:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIGTERMLetsARequestInFlightFinish runs the real main in a child process,
// starts a request whose body arrives slowly, sends SIGTERM half-way, and checks
// that the server stops accepting, answers the request, and exits 0.
func TestSIGTERMLetsARequestInFlightFinish(t *testing.T) {
	cmd, addr, stderr := startMain(t, "LINKAPI_SHUTDOWN_GRACE=30s")

	body := `{"query":"{ __typename }"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// With Expect: 100-continue the server answers 100 Continue when the handler
	// starts reading the body: from then on the request is in flight, with no
	// guess at how long the server takes to get there.
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	replies := bufio.NewReader(conn)
	cont, err := http.ReadResponse(replies, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("waiting for 100 Continue: %v %v\n%s", cont, err, stderr.String())
	}
	if _, err := io.WriteString(conn, body[:10]); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(stderr.String(), "shutting down"); i++ {
		if i > 200 {
			t.Fatalf("no shutdown message:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The listener closes as shutdown begins: a new connection is refused.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if i > 500 {
			t.Fatalf("new connections were still accepted 5 s into shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}

	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(replies, nil)
	if err != nil {
		t.Fatalf("reading the response of the request in flight: %v\n%s", err, stderr.String())
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(got, []byte(`"__typename":"Query"`)) {
		t.Errorf("request in flight: got %d %s, want 200 with data", res.StatusCode, got)
	}

	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) || err != nil {
		t.Errorf("exit: %v, want 0\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "linkapi: stopped") {
		t.Errorf("stderr lacks the stop message:\n%s", stderr.String())
	}
}

// TestHTTPServerTimeouts checks that every phase of a connection is bounded; a
// zero would let one slow client hold a connection for ever.
func TestHTTPServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 || d > 2*time.Minute {
			t.Errorf("%s = %v, want a bound of at most two minutes", name, d)
		}
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}
}

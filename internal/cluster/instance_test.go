//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// jwtSecret is the signing key every instance shares, so that a token issued by
// one is good on all.
const jwtSecret = "cluster-test-secret-cluster-test-secret-0123"

// instance is a linkapi serve process on one node.
type instance struct {
	t    *testing.T
	name string
	url  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	// onHang, when set, is called once when a request gets no answer within
	// the test's timeout, before the test fails, to say what held it.
	onHang   func(in *instance, what string)
	hangOnce sync.Once
	// onStuck, when set, is called when a request has had no answer for
	// stuckAfter, while it waits, to say what holds it; it must not disturb
	// the instance, since the answer may still come.
	onStuck func(in *instance, what string)
	stuck   sync.WaitGroup // the onStuck calls under way, which the test waits for
}

// stuckAfter is how long a request may wait for its answer before the test
// looks at what holds it: longer than a node's eviction holds commits (about
// 6 s), shorter than the instances' request deadline (10 s).
const stuckAfter = 8 * time.Second

// buildLinkapi builds the linkapi binary into dir.
func buildLinkapi(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "linkapi")
	out, err := exec.Command("go", "build", "-o", bin, "linkapi/cmd/linkapi").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startInstance runs bin serve on the database at dbURL, with Redis at
// redisURL and the settings of env (NAME=VALUE) besides the test's, and
// returns at once; waitReady waits for it.
func startInstance(t *testing.T, bin, name, dbURL, redisURL string, env ...string) *instance {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	in := &instance{t: t, name: name, url: "http://" + addr, log: &syncBuffer{}, done: make(chan struct{})}
	in.cmd = exec.Command(bin, "serve")
	in.cmd.Env = append(os.Environ(),
		"LINKAPI_ADDR="+addr,
		"LINKAPI_DATABASE_URL="+dbURL,
		"LINKAPI_JWT_SECRET="+jwtSecret,
		"LINKAPI_REDIS_URL="+redisURL,
		// A minute, so that only an invalidation through Redis can make a scope
		// change reach another instance within the test's wait.
		"LINKAPI_ACCOUNT_CACHE_TTL=1m",
		"LINKAPI_FETCH_METADATA=false",
		"LINKAPI_SHUTDOWN_GRACE=5s",
		// A SIGQUIT (see dumpGoroutines) prints every goroutine.
		"GOTRACEBACK=all",
	)
	in.cmd.Env = append(in.cmd.Env, env...)
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	if err := in.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { in.cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		in.stuck.Wait()
		in.stop()
		keepLogText(in.name+".log", in.log.String())
		if t.Failed() {
			out := in.log.String()
			if len(out) > 6000 {
				out = out[len(out)-6000:]
			}
			t.Logf("%s's output, the end:\n%s", in.name, out)
		}
	})
	return in
}

// dumpGoroutines makes the instance print every goroutine's stack and exit
// (SIGQUIT), and returns its whole output.
func (in *instance) dumpGoroutines() string {
	in.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
	}
	return in.log.String()
}

func (in *instance) stop() {
	select {
	case <-in.done:
		return
	default:
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(15 * time.Second):
		in.cmd.Process.Kill()
		<-in.done
	}
}

// readyz returns /readyz's status and reason.
func (in *instance) readyz() (int, string) {
	res, err := http.Get(in.url + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	var body map[string]string
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body["reason"]
}

// waitReadyz waits up to limit for /readyz to answer want and returns the
// reason it last gave.
func (in *instance) waitReadyz(want int, limit time.Duration) string {
	in.t.Helper()
	return in.waitReadyzReason(want, "", limit)
}

// waitReadyzReason waits up to limit for /readyz to answer want with a reason
// that holds because, and returns the reason.
func (in *instance) waitReadyzReason(want int, because string, limit time.Duration) string {
	in.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		status, reason := in.readyz()
		if status == want && strings.Contains(reason, because) {
			return reason
		}
		select {
		case <-in.done:
			in.t.Fatalf("%s exited:\n%s", in.name, in.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%s: /readyz %d (%s) after %s, want %d %s\n%s", in.name, status, reason, limit, want, because, in.log.String())
		}
	}
}

// response is a GraphQL answer with its HTTP status.
type response struct {
	Status int
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Raw string
}

func (r *response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// slowRequest is how long an answer may take before the test logs it, so that
// a stall short of the test's timeout is seen too.
const slowRequest = 2 * time.Second

// post sends body to /graphql with token as bearer; a transport error is a
// response with status 0.
func (in *instance) post(token string, body map[string]any) *response {
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, in.url+"/graphql", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	sent := time.Now()
	if in.onStuck != nil {
		in.stuck.Add(1)
		stuck := time.AfterFunc(stuckAfter, func() {
			defer in.stuck.Done()
			in.onStuck(in, fmt.Sprintf("%s: no answer yet after %s (sent at %s): %s", in.name, stuckAfter, sent.Format("15:04:05.000"), raw))
		})
		defer func() {
			if stuck.Stop() {
				in.stuck.Done()
			}
		}()
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil && in.onHang != nil {
			in.hangOnce.Do(func() {
				in.onHang(in, fmt.Sprintf("%s: no answer within %s (sent at %s): %s",
					in.name, time.Since(sent).Round(time.Millisecond), sent.Format("15:04:05.000"), raw))
			})
		}
		return &response{Raw: err.Error()}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if took := time.Since(sent); took > slowRequest {
		in.t.Logf("%s: slow answer: %s (sent at %s): status %d: %.200s", in.name, took.Round(time.Millisecond), sent.Format("15:04:05.000"), res.StatusCode, b)
	}
	out := &response{Status: res.StatusCode, Raw: string(b)}
	json.Unmarshal(b, out)
	return out
}

func (in *instance) do(token, query string, vars map[string]any) *response {
	return in.post(token, map[string]any{"query": query, "variables": vars})
}

// ok is do that fails the test on any error.
func (in *instance) ok(token, query string, vars map[string]any) map[string]any {
	in.t.Helper()
	r := in.do(token, query, vars)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		in.t.Fatalf("%s: %.80s: status %d: %s", in.name, query, r.Status, r.Raw)
	}
	return r.Data
}

func (in *instance) login(email, password string) string {
	in.t.Helper()
	d := in.ok("", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": email, "p": password})
	return dig(d, "login", "accessToken").(string)
}

// metric returns the value of the /metrics line that begins with name, "" when
// there is none.
func (in *instance) metric(name string) string {
	res, err := http.Get(in.url + "/metrics")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// dig walks maps and slices of decoded JSON; nil when a step is missing.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			s, _ := v.([]any)
			if k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

//go:build cluster

package cluster

import (
	"bytes"
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

// haproxyCheck is how often HAProxy asks each instance's /readyz; an instance
// is taken out after two failed checks and back after two good ones.
const haproxyCheck = 200 * time.Millisecond

// startHAProxy runs Debian's haproxy in front of backends, balancing round robin
// over those whose /readyz answers 200, and returns its URL. Each answer says
// which backend gave it (X-Served-By).
func startHAProxy(t *testing.T, backends []*instance) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy is not installed (Debian's haproxy; .ci/run installs it): %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
	maxconn 512
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
frontend front
	bind %s
	default_backend instances
backend instances
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	http-response set-header X-Served-By %%s
	default-server inter %dms fall 2 rise 2
`, addr, haproxyCheck.Milliseconds())
	for _, in := range backends {
		fmt.Fprintf(&cfg, "\tserver %s %s check\n", in.name, strings.TrimPrefix(in.url, "http://"))
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting haproxy: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		keepLogText("haproxy.log", out.String())
		if t.Failed() {
			t.Logf("haproxy's output:\n%s", out.String())
		}
	})
	return "http://" + addr
}

// balancedWrite is one createLink sent through the balancer, and how it went.
type balancedWrite struct {
	at       time.Time
	servedBy string
	id, url  string
	failure  string // "" when the link was created
}

// writeThrough posts a createLink of url to the balancer at front.
func writeThrough(client *http.Client, front, token, url string) balancedWrite {
	w := balancedWrite{at: time.Now(), url: url}
	body, _ := json.Marshal(map[string]any{"query": createLink, "variables": map[string]any{"u": url}})
	req, _ := http.NewRequest(http.MethodPost, front+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		w.failure = "no answer: " + err.Error()
		return w
	}
	defer res.Body.Close()
	w.servedBy = res.Header.Get("X-Served-By")
	raw, _ := io.ReadAll(res.Body)
	var r response
	json.Unmarshal(raw, &r)
	if id, ok := dig(r.Data, "createLink", "id").(string); ok && res.StatusCode == http.StatusOK && len(r.Errors) == 0 {
		w.id = id
		return w
	}
	w.failure = fmt.Sprintf("status %d: %.200s", res.StatusCode, raw)
	return w
}

// rollingRestartBehindHAProxy stops victim (SIGTERM) while a client per token
// writes links through HAProxy in front of ins, and returns every write sent,
// the time the victim was signalled and the time it exited.
func rollingRestartBehindHAProxy(t *testing.T, ins []*instance, victim *instance, tokens []string) (writes []balancedWrite, signalled, exited time.Time) {
	t.Helper()
	front := startHAProxy(t, ins)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	// Until HAProxy has found every instance ready, and sent a write to each.
	seen := map[string]bool{}
	for deadline := time.Now().Add(30 * time.Second); len(seen) < len(ins); {
		if time.Now().After(deadline) {
			t.Fatalf("instances answering through haproxy: %v, want all %d", seen, len(ins))
		}
		if w := writeThrough(client, front, tokens[0], fmt.Sprintf("https://example.com/haproxy/warm/%d", time.Now().UnixNano())); w.failure == "" {
			seen[w.servedBy] = true
			writes = append(writes, w)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	var (
		mu   sync.Mutex
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	for c, token := range tokens {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w := writeThrough(client, front, token, fmt.Sprintf("https://example.com/haproxy/%d/%d", c, i))
				mu.Lock()
				writes = append(writes, w)
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	signalled = time.Now()
	victim.stop()
	exited = time.Now()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	return writes, signalled, exited
}

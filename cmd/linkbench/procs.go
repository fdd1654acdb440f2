package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed stats.go
var statsSource []byte

// moduleRoot returns the directory of linkapi's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("run linkbench from inside the linkapi module (go env GOMOD found none)")
	}
	return filepath.Dir(gomod), nil
}

// buildLinkapi builds ./cmd/linkapi into dir with stats.go added through an
// overlay, so the child serves its allocation counters when LINKBENCH_STATS_ADDR is
// set. The sources of cmd/linkapi are not touched.
func buildLinkapi(ctx context.Context, root, dir string) (string, error) {
	src := filepath.Join(dir, "linkbench_stats.go")
	if err := os.WriteFile(src, statsSource, 0o644); err != nil {
		return "", err
	}
	overlay, _ := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "cmd", "linkapi", "zz_linkbench_stats.go"): src},
	})
	ovl := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovl, overlay, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "linkapi")
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", ovl, "-o", bin, "./cmd/linkapi")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/linkapi: %v\n%s", err, out)
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// server is a server under load: a child process (linkapi, or the floor) or, with
// --floor-in-process, the floor inside this process (pid 0, no server-side stats).
type server struct {
	name     string
	base     string // http://HOST:PORT
	pid      int
	statsURL string
	cmd      *exec.Cmd
	exited   chan struct{}
	output   *headBuffer
	stopIn   func()
}

func (s *server) graphqlURL() string { return s.base + "/graphql" }

// startProcess runs argv with the benchmark's environment plus LINKAPI_ADDR and
// LINKBENCH_STATS_ADDR, and waits until /readyz answers.
func startProcess(ctx context.Context, name string, argv []string, env []string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	statsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LINKAPI_") && !strings.HasPrefix(kv, "LINKBENCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, "LINKAPI_ADDR="+addr, linkbenchStatsEnv+"="+statsAddr)
	s := &server{name: name, base: "http://" + addr, statsURL: "http://" + statsAddr, cmd: cmd,
		exited: make(chan struct{}), output: &headBuffer{limit: 16 << 10}}
	cmd.Stdout, cmd.Stderr = s.output, s.output
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = cmd.Process.Pid
	go func() { cmd.Wait(); close(s.exited) }()
	if err := waitReady(ctx, s.base+"/readyz", s.exited); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s did not become ready: %v\n%s", name, err, s.output)
	}
	return s, nil
}

// startInProcess serves h on a loopback port inside this process.
func startInProcess(name string, h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &server{name: name, base: "http://" + ln.Addr().String(), stopIn: func() { srv.Close() }}, nil
}

func waitReady(ctx context.Context, url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("it exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("timed out after 60s")
}

// stop ends the server with SIGTERM, then SIGKILL if it has not exited within 15s.
func (s *server) stop() {
	if s.stopIn != nil {
		s.stopIn()
		return
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// sample is a reading of a server process's counters.
type sample struct {
	ok         bool
	mallocs    uint64
	allocBytes uint64
	cpuTicks   uint64 // user+system, in clock ticks
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

func (a sample) minus(b sample) sample {
	return sample{ok: a.ok && b.ok, mallocs: a.mallocs - b.mallocs, allocBytes: a.allocBytes - b.allocBytes, cpuTicks: a.cpuTicks - b.cpuTicks}
}

func (a sample) plus(b sample) sample {
	return sample{ok: a.ok && b.ok, mallocs: a.mallocs + b.mallocs, allocBytes: a.allocBytes + b.allocBytes, cpuTicks: a.cpuTicks + b.cpuTicks}
}

func (s *server) sample() sample {
	if s.pid == 0 {
		return sample{}
	}
	resp, err := http.Get(s.statsURL + "/memstats")
	if err != nil {
		return sample{}
	}
	defer resp.Body.Close()
	var m linkbenchMemStats
	if json.NewDecoder(resp.Body).Decode(&m) != nil {
		return sample{}
	}
	ticks, ok := cpuTicks(s.pid)
	return sample{ok: ok, mallocs: m.Mallocs, allocBytes: m.TotalAlloc, cpuTicks: ticks}
}

// cpuTicks reads utime+stime of pid from /proc/PID/stat.
func cpuTicks(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	return u + st, err1 == nil && err2 == nil
}

// resetPeakRSS resets the process's VmHWM (Linux ≥ 4.0), so that peakRSS reports
// the peak of what runs next.
func (s *server) resetPeakRSS() {
	if s.pid != 0 {
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid), []byte("5"), 0)
	}
}

// peakRSS returns VmHWM in bytes, or 0 when unknown.
func (s *server) peakRSS() uint64 {
	if s.pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// profile writes a CPU profile of the next d of the server to path.
func (s *server) profile(d time.Duration, path string) error {
	return s.download(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.statsURL, max(1, int(d.Seconds()))), path)
}

// allocs writes the server's allocation profile (every allocation since it
// started; compare two with go tool pprof -base) to path.
func (s *server) allocs(path string) error {
	return s.download(s.statsURL+"/debug/pprof/allocs", path)
}

// download writes what GET url answers to path.
func (s *server) download(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// headBuffer keeps the first limit bytes written to it and drops the rest.
type headBuffer struct {
	mu    sync.Mutex
	limit int
	buf   bytes.Buffer
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.limit - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/auth"
)

// anonServer is the /graphql chain of New around a GraphQL handler that, for requests that ask for it
// with X-Hold, reports that it started and then blocks until the test lets it go
// or the request's context ends. The test's client is a trusted proxy, so each
// request names its client address in X-Forwarded-For.
type anonServer struct {
	*httptest.Server
	limiter *anonLimiter
	entered chan string // X-Hold of each held request that started
	left    chan string // X-Hold of each held request whose context ended
	mu      sync.Mutex
	release map[string]chan struct{} // by X-Hold: closed to let that request finish
}

func newAnonServer(t *testing.T, limits AnonymousLimits) *anonServer {
	t.Helper()
	s := &anonServer{entered: make(chan string, 100), left: make(chan string, 100), release: map[string]chan struct{}{}}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold := r.Header.Get("X-Hold"); hold != "" {
			// Take the release channel before saying the request entered:
			// finish may close and forget it as soon as it hears of it.
			release := s.releaseOf(hold)
			s.entered <- hold
			select {
			case <-release:
			case <-r.Context().Done():
				s.left <- hold
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"__typename": "Query"}})
	})
	s.limiter = newAnonLimiter(limits)
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A request with X-Caller stands for one that authenticate let through with
	// a valid token.
	caller := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Caller") != "" {
				r = r.WithContext(auth.NewContext(r.Context(), auth.System()))
			}
			next.ServeHTTP(w, r)
		})
	}
	s.Server = httptest.NewServer(clientAddr(trusted, authenticate(nil, logger,
		caller(limitBody(limitAnonymous(s.limiter, inner))))))
	t.Cleanup(func() {
		s.mu.Lock()
		for name, c := range s.release {
			close(c)
			delete(s.release, name)
		}
		s.mu.Unlock()
		s.Close()
	})
	return s
}

func (s *anonServer) releaseOf(name string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.release[name]
	if !ok {
		c = make(chan struct{})
		s.release[name] = c
	}
	return c
}

// finish lets the held request name answer, and waits for its answer.
func (s *anonServer) finish(t *testing.T, name string, done <-chan error) {
	t.Helper()
	s.mu.Lock()
	close(s.release[name])
	delete(s.release, name)
	s.mu.Unlock()
	if err := <-done; err != nil {
		t.Errorf("held request %s: %v", name, err)
	}
}

// post sends an anonymous request from the client address from; hold, when not
// empty, asks the inner handler to block.
func (s *anonServer) post(ctx context.Context, from, hold string) (*http.Response, error) {
	return s.postAs(ctx, from, hold, false)
}

// postAs is post, with a caller when authenticated.
func (s *anonServer) postAs(ctx context.Context, from, hold string, authenticated bool) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{__typename}"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", from)
	if hold != "" {
		req.Header.Set("X-Hold", hold)
	}
	if authenticated {
		req.Header.Set("X-Caller", "yes")
	}
	return s.Client().Do(req)
}

// hold starts a held request from from and returns once the inner handler runs
// it; cancel hangs its client up.
func (s *anonServer) hold(t *testing.T, from, name string) (cancel func(), done <-chan error) {
	t.Helper()
	s.releaseOf(name)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		res, err := s.post(ctx, from, name)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = &statusError{res.StatusCode}
			}
		}
		errc <- err
	}()
	select {
	case got := <-s.entered:
		if got != name {
			t.Fatalf("started %q, want %q", got, name)
		}
	case err := <-errc:
		t.Fatalf("held request %q ended before it started: %v", name, err)
	}
	return cancel, errc
}

type statusError struct{ status int }

func (e *statusError) Error() string { return http.StatusText(e.status) }

// wantRefused sends a request from from and checks that it is refused as too
// many anonymous requests: 429, and Retry-After and extensions.retryAfter the
// whole seconds of Wait, at least one.
func (s *anonServer) wantRefused(t *testing.T, from string) {
	t.Helper()
	if problem := s.refusal(from); problem != "" {
		t.Error(problem)
	}
}

// refusal is wantRefused that returns what is wrong, "" for nothing, so that
// it can run off the test's goroutine.
func (s *anonServer) refusal(from string) string {
	res, err := s.post(context.Background(), from, "")
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	var body struct {
		Errors []struct {
			Extensions struct {
				Code       string `json:"code"`
				RetryAfter int64  `json:"retryAfter"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return err.Error()
	}
	want := max(1, int64(s.limiter.limits.Wait/time.Second))
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != strconv.FormatInt(want, 10) ||
		len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "RATE_LIMITED" || body.Errors[0].Extensions.RetryAfter != want {
		return fmt.Sprintf("from %s: got %d, Retry-After %q, %+v; want 429, %d, one RATE_LIMITED with retryAfter %[5]d",
			from, res.StatusCode, res.Header.Get("Retry-After"), body.Errors, want)
	}
	return ""
}

// wantServed sends a request from from and checks that it runs.
func (s *anonServer) wantServed(t *testing.T, from string) {
	t.Helper()
	s.wantServedAs(t, from, false)
}

// wantServedAs is wantServed, with a caller when authenticated.
func (s *anonServer) wantServedAs(t *testing.T, from string, authenticated bool) {
	t.Helper()
	res, err := s.postAs(context.Background(), from, "", authenticated)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("from %s: got %d, want 200", from, res.StatusCode)
	}
}

// eventually waits until cond holds; it fails the test only if it never does.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 10_000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

func (l *anonLimiter) waitingNow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting
}

// TestAnonymousPerAddressAndTotal holds requests in flight: one address gets at
// most PerAddr, all addresses together at most Total, another address is not
// held back by the first, and a slot freed is a slot taken again.
func TestAnonymousPerAddressAndTotal(t *testing.T) {
	s := newAnonServer(t, AnonymousLimits{Total: 3, PerAddr: 2})
	_, a1 := s.hold(t, "192.0.2.1", "a1")
	_, a2 := s.hold(t, "192.0.2.1", "a2")
	s.wantRefused(t, "192.0.2.1")
	_, b1 := s.hold(t, "192.0.2.2", "b1")
	s.wantRefused(t, "192.0.2.3") // every slot of the total is taken
	s.wantServedAs(t, "192.0.2.1", true)
	if got := s.limiter.len(); got != 2 {
		t.Errorf("address groups kept with two in flight: got %d, want 2", got)
	}
	s.finish(t, "a1", a1)
	s.wantServed(t, "192.0.2.3")
	s.wantServed(t, "192.0.2.1")
	s.finish(t, "a2", a2)
	s.finish(t, "b1", b1)
	if got := s.limiter.len(); got != 0 {
		t.Errorf("address groups kept with none in flight: got %d, want 0", got)
	}
}

// TestAnonymousIPv6ByPrefix: an IPv6 client is limited by its /64, as failed
// logins are.
func TestAnonymousIPv6ByPrefix(t *testing.T) {
	s := newAnonServer(t, AnonymousLimits{Total: 10, PerAddr: 1})
	_, a := s.hold(t, "2001:db8:1:2::1", "a")
	s.wantRefused(t, "2001:db8:1:2:ffff::1")
	s.wantServed(t, "2001:db8:1:3::1")
	s.finish(t, "a", a)
}

// TestAnonymousWaitsForASlot: within Wait, a request past the bound waits and
// runs as soon as a slot frees up.
func TestAnonymousWaitsForASlot(t *testing.T) {
	s := newAnonServer(t, AnonymousLimits{Total: 1, PerAddr: 1, Wait: time.Hour})
	_, a := s.hold(t, "192.0.2.1", "a")
	served := make(chan int, 1)
	go func() {
		res, err := s.post(context.Background(), "192.0.2.1", "")
		if err != nil {
			served <- 0
			return
		}
		res.Body.Close()
		served <- res.StatusCode
	}()
	eventually(t, "the second request waits", func() bool { return s.limiter.waitingNow() == 1 })
	s.finish(t, "a", a)
	if got := <-served; got != http.StatusOK {
		t.Errorf("the waiting request: got %d, want 200", got)
	}
	if got := s.limiter.waitingNow(); got != 0 {
		t.Errorf("waiting after it ran: got %d, want 0", got)
	}
}

// TestAnonymousWaitersAreBounded: past waitersPerSlot waiting requests per slot,
// a request is refused at once instead of joining them.
func TestAnonymousWaitersAreBounded(t *testing.T) {
	s := newAnonServer(t, AnonymousLimits{Total: 1, Wait: time.Hour})
	_, a := s.hold(t, "192.0.2.1", "a")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range waitersPerSlot {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := s.post(ctx, "192.0.2.2", ""); err == nil {
				res.Body.Close()
			}
		}()
	}
	eventually(t, "the waiters wait", func() bool { return s.limiter.waitingNow() == waitersPerSlot })
	refused := make(chan string, 1)
	go func() { refused <- s.refusal("192.0.2.3") }()
	eventually(t, "one more request is refused", func() bool {
		select {
		case problem := <-refused:
			if problem != "" {
				t.Error(problem)
			}
			return true
		default:
			if s.limiter.waitingNow() > waitersPerSlot {
				t.Fatalf("got %d waiting, want at most %d", s.limiter.waitingNow(), waitersPerSlot)
			}
			return false
		}
	})
	cancel()
	wg.Wait()
	eventually(t, "the waiters whose clients left stop waiting", func() bool { return s.limiter.waitingNow() == 0 })
	s.finish(t, "a", a)
}

// TestAnonymousSlotFreedWhenClientLeaves: a client that hangs up ends its
// request's context, through every middleware, so the handler stops and its slot
// is free for the next request from the same address.
func TestAnonymousSlotFreedWhenClientLeaves(t *testing.T) {
	s := newAnonServer(t, AnonymousLimits{Total: 1, PerAddr: 1})
	hangUp, done := s.hold(t, "192.0.2.1", "a")
	s.wantRefused(t, "192.0.2.1")
	hangUp()
	if got := <-s.left; got != "a" {
		t.Fatalf("context ended for %q, want a", got)
	}
	<-done
	eventually(t, "the slot is released", func() bool { return s.limiter.len() == 0 })
	s.wantServed(t, "192.0.2.1")
}

// TestAnonymousLimitsOff: zero limits bound nothing.
func TestAnonymousLimitsOff(t *testing.T) {
	s := newAnonServer(t, AnonymousLimits{})
	var held []<-chan error
	for _, name := range []string{"a", "b", "c"} {
		_, done := s.hold(t, "192.0.2.1", name)
		held = append(held, done)
	}
	s.wantServed(t, "192.0.2.1")
	for i, name := range []string{"a", "b", "c"} {
		s.finish(t, name, held[i])
	}
}

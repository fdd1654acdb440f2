package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
	"linkapi/internal/webhooks"
)

// The webhook tests run the real server with the webhook worker tuned for a
// test: receivers on loopback are let through the guard by name (Allow), the
// outbox is read every few milliseconds, and backoff is a millisecond, so that
// three attempts take no time; none asserts on how long anything took.

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest server that records what it receives and answers
// with handle.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	handle func(w http.ResponseWriter, r *http.Request)
	ch     chan received
}

func newReceiver(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{handle: handle, ch: make(chan received, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got := received{header: r.Header.Clone(), body: body}
		rc.mu.Lock()
		rc.got = append(rc.got, got)
		h := rc.handle
		rc.mu.Unlock()
		select {
		case rc.ch <- got:
		default:
		}
		if h == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setHandle(h func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.handle = h
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

func (rc *receiver) addr() netip.AddrPort {
	return netip.MustParseAddrPort(rc.srv.Listener.Addr().String())
}

// next waits for the next request the receiver gets.
func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver got nothing within 30s")
	}
	return received{}
}

func answer(status int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }
}

// hookTestConfig is the worker configuration of the tests: allow lists the
// loopback endpoints the guard lets through.
func hookTestConfig(allow []netip.AddrPort, more func(*webhooks.Config)) func(*Program) {
	return func(p *Program) {
		p.Webhooks = func(c *webhooks.Config) {
			c.Net.Allow = allow
			c.Poll = 5 * time.Millisecond
			c.Backoff, c.MaxBackoff = time.Millisecond, 4*time.Millisecond
			c.MaxAttempts = 3
			c.Timeout = 10 * time.Second
			if more != nil {
				more(c)
			}
		}
	}
}

// startHookServer runs serve on dbURL with the webhook worker configured by
// opt, until the test ends or stop is called.
func startHookServer(t *testing.T, dbURL string, opt func(*Program)) (*testServer, func()) {
	t.Helper()
	addr, log, stop := launch(t, map[string]string{"LINKAPI_DATABASE_URL": dbURL, "LINKAPI_JWT_SECRET": testSecret}, nil, opt)
	var once sync.Once
	stopOnce := func() { once.Do(stop) }
	t.Cleanup(stopOnce)
	db := openDB(t, dbURL)
	return &testServer{URL: "http://" + addr, DBURL: dbURL, Store: store.New(db), Log: log}, stopOnce
}

const (
	createWebhookMut = `mutation($u: String!, $e: [String!]!) { createWebhook(url: $u, events: $e) { secret webhook { id url events active } } }`
	deliveriesQuery  = `query($id: ID!) { webhookDeliveries(id: $id, first: 100) { nodes { id messageId eventType status attempts statusCode lastError nextAttemptAt } } }`
)

// createHook makes a webhook through the API and returns its id and secret.
func createHook(t *testing.T, s *testServer, token, url string, events ...string) (string, string) {
	t.Helper()
	d := s.ok(t, token, createWebhookMut, map[string]any{"u": url, "e": events})
	return str(t, d, "createWebhook", "webhook", "id"), str(t, d, "createWebhook", "secret")
}

// delivery is a row of webhookDeliveries.
type delivery struct {
	ID            string  `json:"id"`
	MessageID     string  `json:"messageId"`
	EventType     string  `json:"eventType"`
	Status        string  `json:"status"`
	Attempts      int     `json:"attempts"`
	StatusCode    *int    `json:"statusCode"`
	LastError     *string `json:"lastError"`
	NextAttemptAt *string `json:"nextAttemptAt"`
}

func hookDeliveries(t *testing.T, s *testServer, token, hook string) []delivery {
	t.Helper()
	d := s.ok(t, token, deliveriesQuery, map[string]any{"id": hook})
	raw, _ := json.Marshal(get(t, d, "webhookDeliveries", "nodes"))
	var out []delivery
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitDeliveries polls the delivery log of hook until done holds of it.
func waitDeliveries(t *testing.T, s *testServer, token, hook string, what string, done func([]delivery) bool) []delivery {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ds := hookDeliveries(t, s, token, hook)
		if done(ds) {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s: %s did not happen within 60s; deliveries %+v", hook, what, ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func finished(ds []delivery) bool {
	for _, d := range ds {
		if d.Status == "PENDING" {
			return false
		}
	}
	return len(ds) > 0
}

// verifySignature checks a request per the Standard Webhooks specification,
// written here from the specification and not with the server's code: the
// secret's key is the base64 after whsec_; the signed content is
// "id.timestamp.body"; webhook-signature is a space-separated list of
// "v1,<base64 HMAC-SHA256>", of which one must match; the timestamp must be
// within five minutes of now.
func verifySignature(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not a number", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %s from now", ts, d)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		return errors.New("secret lacks whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// TestVerifySignatureOnTheSpecificationsVector checks the test's verifier on
// the example of the specification, so that the tests below trust it.
func TestVerifySignatureOnTheSpecificationsVector(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	then := time.Unix(1614265330, 0)
	if err := verifySignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, then); err != nil {
		t.Errorf("the specification's example: %v", err)
	}
	if err := verifySignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, []byte(`{"test": 2432232315}`), then); err == nil {
		t.Error("a changed body verifies")
	}
	if err := verifySignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, then.Add(6*time.Minute)); err == nil {
		t.Error("a stale timestamp verifies")
	}
}

// TestWebhookDeliversSignedEvents: a webhook receives the events it asked for,
// each signed per Standard Webhooks with its secret and timestamped by the
// server's clock, and its delivery log says DELIVERED with the status.
func TestWebhookDeliversSignedEvents(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		rc := newReceiver(t, nil)
		skew := 1000 * time.Hour // the server's clock, far from the wall's
		clock := func() time.Time { return time.Now().Add(skew) }
		s, _ := startHookServer(t, url, hookTestConfig([]netip.AddrPort{rc.addr()}, func(c *webhooks.Config) { c.Now = clock }))
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")
		hook, secret := createHook(t, s, token, rc.srv.URL+"/in", "link.created", "link.deleted")
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("secret %q, want whsec_...", secret)
		}
		d := s.ok(t, token, `{ webhooks { id url events active disabledReason } }`, nil)
		if got := get(t, d, "webhooks", 0); got.(map[string]any)["id"] != hook || got.(map[string]any)["active"] != true ||
			strings.Contains(fmt.Sprint(got), "whsec_") {
			t.Errorf("webhooks = %v, want the hook, active, without its secret", got)
		}
		s.ok(t, token, `mutation { createTag(input: {name: "unwanted"}) { id } }`, nil)
		link := str(t, s.ok(t, token, `mutation { createLink(input: {url: "https://example.com/a"}) { id } }`, nil), "createLink", "id")
		got := rc.next(t)
		if err := verifySignature(secret, got.header, got.body, clock()); err != nil {
			t.Errorf("signature: %v (headers %v)", err, got.header)
		}
		if err := verifySignature(secret, got.header, got.body, time.Now()); err == nil {
			t.Error("the timestamp is the wall clock's, not the server's")
		}
		if err := verifySignature(secret, got.header, append(got.body, ' '), clock()); err == nil {
			t.Error("a changed body verifies")
		}
		var ev struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
			Data      struct {
				ID, ObjectType, Kind, AccountID string
				Seq                             int64
			} `json:"data"`
		}
		if err := json.Unmarshal(got.body, &ev); err != nil {
			t.Fatalf("body %s: %v", got.body, err)
		}
		if ev.Type != "link.created" || ev.Data.ID != link || ev.Data.ObjectType != "Link" || ev.Data.Kind != "CREATED" || ev.Data.Seq != 2 {
			t.Errorf("event %s, want link.created of link %s, seq 2", got.body, link)
		}
		if ct := got.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		s.ok(t, token, `mutation($id: ID!) { deleteLink(id: $id) }`, map[string]any{"id": link})
		del := rc.next(t)
		if err := verifySignature(secret, del.header, del.body, clock()); err != nil || !strings.Contains(string(del.body), `"link.deleted"`) {
			t.Errorf("the deletion: %s, %v", del.body, err)
		}
		if del.header.Get("webhook-id") == got.header.Get("webhook-id") {
			t.Error("two events have the same webhook-id")
		}
		ds := waitDeliveries(t, s, token, hook, "both delivered", func(ds []delivery) bool { return len(ds) == 2 && finished(ds) })
		for _, d := range ds {
			if d.Status != "DELIVERED" || d.Attempts != 1 || d.StatusCode == nil || *d.StatusCode != http.StatusNoContent || d.NextAttemptAt != nil || d.LastError != nil {
				t.Errorf("delivery %+v, want DELIVERED in 1 attempt with 204", d)
			}
		}
		if ds[0].EventType != "link.deleted" || ds[1].EventType != "link.created" {
			t.Errorf("deliveries %+v, want newest first", ds)
		}
		if rc.count() != 2 {
			t.Errorf("the receiver got %d requests, want 2 (the unwanted tag.created is not sent)", rc.count())
		}
	})
}

// staticResolver answers every name with the addresses of answers, one list a
// call, the last one again once they run out.
type staticResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
}

func (r *staticResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.answers) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	a := r.answers[0]
	if len(r.answers) > 1 {
		r.answers = r.answers[1:]
	}
	return a, nil
}

// TestWebhookRefusesPrivateURLs: a URL that is not http or https, carries
// credentials, or whose host is or resolves to a non-public address is
// BAD_USER_INPUT at creation, and no webhook is made.
func TestWebhookRefusesPrivateURLs(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		rc := newReceiver(t, nil)
		resolver := &staticResolver{answers: [][]netip.Addr{{netip.MustParseAddr("10.1.2.3")}}}
		s, _ := startHookServer(t, url, hookTestConfig(nil, func(c *webhooks.Config) { c.Net.Resolver = resolver }))
		s.createAccount(t, "ann@example.com", "ann-password", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")
		for _, u := range []string{
			rc.srv.URL + "/in", // loopback, not allowed on this server
			"http://127.0.0.1/", "http://[::1]:8080/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data",
			"http://[::ffff:192.168.1.1]/", "http://0.0.0.0/", "https://internal.example/", // resolves to 10.1.2.3
			"https://public.example:22/", "ftp://public.example/", "https://user:pw@public.example/",
			"not a url", "/relative", "",
		} {
			r := s.do(t, token, createWebhookMut, map[string]any{"u": u, "e": []string{"link.created"}})
			wantCode(t, r, "BAD_USER_INPUT")
		}
		wantCode(t, s.do(t, token, createWebhookMut, map[string]any{"u": "https://8.8.8.8/", "e": []string{}}), "BAD_USER_INPUT")
		wantCode(t, s.do(t, token, createWebhookMut, map[string]any{"u": "https://8.8.8.8/", "e": []string{"link.renamed"}}), "BAD_USER_INPUT")
		if n := len(get(t, s.ok(t, token, `{ webhooks { id } }`, nil), "webhooks").([]any)); n != 0 {
			t.Errorf("%d webhooks made, want none", n)
		}
	})
}

// TestWebhookRefusedAtDelivery: a name that resolved to a public address at
// creation and to loopback when the event is sent (DNS rebinding) is refused by
// the guard when dialled: the receiver gets nothing, and the delivery fails at
// once, its error naming the address.
func TestWebhookRefusedAtDelivery(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		rc := newReceiver(t, nil)
		resolver := &staticResolver{answers: [][]netip.Addr{{netip.MustParseAddr("93.184.216.34")}, {rc.addr().Addr()}}}
		s, _ := startHookServer(t, url, hookTestConfig(nil, func(c *webhooks.Config) { c.Net.Resolver = resolver }))
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")
		hook, _ := createHook(t, s, token, fmt.Sprintf("http://rebind.example:%d/in", rc.addr().Port()), "link.created")
		s.ok(t, token, createLinkMut, nil)
		ds := waitDeliveries(t, s, token, hook, "the delivery finishing", finished)
		if d := ds[0]; d.Status != "FAILED" || d.Attempts != 1 || d.StatusCode != nil || d.LastError == nil || !strings.Contains(*d.LastError, "loopback") {
			t.Errorf("delivery %+v, want FAILED after 1 attempt, refused as loopback", d)
		}
		if rc.count() != 0 {
			t.Errorf("the receiver got %d requests, want none", rc.count())
		}
	})
}

// TestWebhookFaults: receivers that are unreachable, answer too late, redirect,
// or answer 500 forever each get at most MaxAttempts attempts and then fail,
// with the status or error of the last in the log, while a working receiver of
// the same account is served, also while a slow one holds an attempt open.
func TestWebhookFaults(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		good := newReceiver(t, nil)
		goodGot := make(chan struct{})
		var goodOnce sync.Once
		good.setHandle(func(w http.ResponseWriter, r *http.Request) {
			goodOnce.Do(func() { close(goodGot) })
			w.WriteHeader(http.StatusOK)
		})
		// slow answers only after the attempt timed out; its first attempt
		// waits for good's delivery first, which the worker makes meanwhile.
		var servedMeanwhile atomic.Bool
		var slowCalls atomic.Int32
		slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			if slowCalls.Add(1) == 1 {
				select {
				case <-goodGot:
					servedMeanwhile.Store(true)
				case <-r.Context().Done():
				}
			}
			<-r.Context().Done()
			w.WriteHeader(http.StatusOK) // too late: the worker has gone
		})
		failing := newReceiver(t, answer(http.StatusInternalServerError))
		target := newReceiver(t, nil)
		redirecting := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.srv.URL+"/in", http.StatusTemporaryRedirect)
		})
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		unreachable := netip.MustParseAddrPort(closed.Addr().String())
		closed.Close()
		allow := []netip.AddrPort{good.addr(), slow.addr(), failing.addr(), target.addr(), redirecting.addr(), unreachable}
		const attempts = 3
		s, _ := startHookServer(t, url, hookTestConfig(allow, func(c *webhooks.Config) {
			c.Timeout = 2 * time.Second
			c.MaxAttempts = attempts
		}))
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		token := s.login(t, "ann@example.com", "ann-password")
		hooks := map[string]string{}
		for _, h := range []struct {
			name, url string
		}{
			{"slow", slow.srv.URL}, {"unreachable", "http://" + unreachable.String()}, {"redirecting", redirecting.srv.URL},
			{"failing", failing.srv.URL}, {"good", good.srv.URL},
		} {
			hooks[h.name], _ = createHook(t, s, token, h.url+"/in", "link.created")
		}
		s.ok(t, token, createLinkMut, nil)
		check := func(name string, wantStatus string, wantAttempts int, code int, errPart string) {
			t.Helper()
			ds := waitDeliveries(t, s, token, hooks[name], name+" finishing", finished)
			d := ds[0]
			if len(ds) != 1 || d.Status != wantStatus || d.Attempts != wantAttempts {
				t.Errorf("%s: deliveries %+v, want one %s after %d attempts", name, ds, wantStatus, wantAttempts)
			}
			if code == 0 && d.StatusCode != nil || code != 0 && (d.StatusCode == nil || *d.StatusCode != code) {
				t.Errorf("%s: statusCode %v, want %d", name, d.StatusCode, code)
			}
			if errPart == "" && d.LastError != nil || errPart != "" && (d.LastError == nil || !strings.Contains(*d.LastError, errPart)) {
				t.Errorf("%s: lastError %v, want one containing %q", name, d.LastError, errPart)
			}
			t.Logf("%s: %s after %d attempts, statusCode %v, lastError %q", name, d.Status, d.Attempts, ptrText(d.StatusCode), ptrText(d.LastError))
		}
		check("good", "DELIVERED", 1, http.StatusOK, "")
		check("failing", "FAILED", attempts, http.StatusInternalServerError, "HTTP 500")
		check("redirecting", "FAILED", attempts, http.StatusTemporaryRedirect, "redirects are not followed")
		check("unreachable", "FAILED", attempts, 0, "connection refused")
		check("slow", "FAILED", attempts, 0, "no answer within 2s")
		if !servedMeanwhile.Load() {
			t.Error("the good receiver was not served while the slow one held an attempt")
		}
		if n := failing.count(); n != attempts {
			t.Errorf("the failing receiver got %d requests, want %d", n, attempts)
		}
		if n := slowCalls.Load(); n != attempts {
			t.Errorf("the slow receiver got %d requests, want %d", n, attempts)
		}
		if n := target.count(); n != 0 {
			t.Errorf("the redirect's target got %d requests, want none", n)
		}
		// No fault touches the good receiver's delivery: at least once may
		// not mean twice here. On a failure, say whether it was the same
		// event (a resend) and what the worker logged.
		if n := good.count(); n != 1 {
			good.mu.Lock()
			var ids []string
			for _, r := range good.got {
				ids = append(ids, r.header.Get("webhook-id"))
			}
			good.mu.Unlock()
			var worker []string
			for _, l := range strings.Split(s.Log.String(), "\n") {
				if strings.Contains(l, "webhooks:") {
					worker = append(worker, l)
				}
			}
			t.Errorf("the good receiver got %d requests (webhook-ids %v), want 1; the worker logged:\n%s", n, ids, strings.Join(worker, "\n"))
		}
	})
}

// TestWebhookOutcomeOutlastsALockWait: on MySQL, the outcome of an attempt is
// written although its row is locked for longer than the server's lock wait
// timeout (a deadlock with a claim fails it the same way), so that a delivery
// the receiver accepted is not sent again when its lease ends.
func TestWebhookOutcomeOutlastsALockWait(t *testing.T) {
	url := storetest.URL(t, "mysql")
	if strings.Contains(url, "?") {
		url += "&innodb_lock_wait_timeout=1"
	} else {
		url += "?innodb_lock_wait_timeout=1"
	}
	locker := openDB(t, url).SQL()
	locked := make(chan error, 1)
	release := make(chan struct{})
	var lockOnce sync.Once
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		// Lock the delivery's row before answering: the worker's write of
		// the outcome waits for it past the lock wait timeout.
		lockOnce.Do(func() {
			tx, err := locker.BeginTx(context.Background(), nil)
			if err == nil {
				_, err = tx.Exec("SELECT id FROM webhook_deliveries WHERE message_id = ? FOR UPDATE", r.Header.Get("webhook-id"))
				go func() { <-release; tx.Rollback() }()
			}
			locked <- err
		})
		w.WriteHeader(http.StatusOK)
	})
	s, _ := startHookServer(t, url, hookTestConfig([]netip.AddrPort{rc.addr()}, func(c *webhooks.Config) { c.Timeout = 2 * time.Second }))
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	hook, _ := createHook(t, s, token, rc.srv.URL+"/in", "link.created")
	s.ok(t, token, createLinkMut, nil)
	if err := <-locked; err != nil {
		close(release)
		t.Fatalf("locking the delivery: %v", err)
	}
	// Held past the lock wait timeouts of all the store's tries of a
	// transaction (five of 1s): the worker tries again.
	time.Sleep(6500 * time.Millisecond)
	if ds := hookDeliveries(t, s, token, hook); len(ds) != 1 || ds[0].Status != "PENDING" || ds[0].Attempts != 0 {
		t.Errorf("while the row is locked: %+v, want one PENDING delivery, no attempt written", ds)
	}
	close(release)
	ds := waitDeliveries(t, s, token, hook, "the delivery finishing", finished)
	if ds[0].Status != "DELIVERED" || ds[0].Attempts != 1 {
		t.Errorf("delivery %+v, want DELIVERED after 1 attempt", ds[0])
	}
	if n := rc.count(); n != 1 {
		t.Errorf("the receiver got %d requests, want 1", n)
	}
	if !strings.Contains(s.Log.String(), "recording an attempt failed; trying again") {
		t.Errorf("the worker did not try again to record the attempt; log:\n%s", s.Log.String())
	}
}

func ptrText[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestWebhookSurvivesRestart stops the server between two attempts, and again
// in the middle of one, and starts another on the same database: each event
// arrives after the restart, with the webhook-id of its first attempt.
func TestWebhookSurvivesRestart(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		rc := newReceiver(t, answer(http.StatusServiceUnavailable))
		allow := []netip.AddrPort{rc.addr()}
		// The first server waits an hour between attempts; the second's clock
		// is two hours later, so that the retry is due when it starts.
		first, stop := startHookServer(t, url, hookTestConfig(allow, func(c *webhooks.Config) {
			c.Backoff, c.MaxBackoff, c.MaxAttempts = time.Hour, time.Hour, 5
		}))
		first.createAccount(t, "ann@example.com", "ann-password", "links:write", "account:write")
		token := first.login(t, "ann@example.com", "ann-password")
		hook, secret := createHook(t, first, token, rc.srv.URL+"/in", "link.created")
		first.ok(t, token, createLinkMut, nil)
		firstTry := rc.next(t)
		waitDeliveries(t, first, token, hook, "the first attempt recorded", func(ds []delivery) bool {
			return len(ds) == 1 && ds[0].Attempts == 1 && ds[0].Status == "PENDING" && ds[0].NextAttemptAt != nil
		})
		stop()

		rc.setHandle(nil)
		later := func() time.Time { return time.Now().Add(2 * time.Hour) }
		second, stop2 := startHookServer(t, url, hookTestConfig(allow, func(c *webhooks.Config) { c.Now = later }))
		token = second.login(t, "ann@example.com", "ann-password")
		retry := rc.next(t)
		if a, b := firstTry.header.Get("webhook-id"), retry.header.Get("webhook-id"); a == "" || a != b {
			t.Errorf("webhook-id %q after the restart, %q before; want the same", b, a)
		}
		if err := verifySignature(secret, retry.header, retry.body, later()); err != nil {
			t.Errorf("signature after the restart: %v", err)
		}
		ds := waitDeliveries(t, second, token, hook, "delivery after the restart", finished)
		if ds[0].Status != "DELIVERED" || ds[0].Attempts != 2 {
			t.Errorf("after the restart: %+v, want DELIVERED in 2 attempts", ds[0])
		}

		// Now stop the server while the receiver holds an attempt open: the
		// attempt is given back, uncounted, and the next server sends it.
		entered := make(chan struct{}, 1)
		rc.setHandle(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-r.Context().Done()
		})
		second.ok(t, token, `mutation { createLink(input: {url: "https://example.com/second"}) { id } }`, nil)
		<-rc.ch // the first request of the second event (the handler holds it)
		<-entered
		stop2()
		rc.setHandle(nil)
		third, _ := startHookServer(t, url, hookTestConfig(allow, func(c *webhooks.Config) { c.Now = later }))
		token = third.login(t, "ann@example.com", "ann-password")
		rc.next(t)
		ds = waitDeliveries(t, third, token, hook, "the interrupted delivery", func(ds []delivery) bool { return len(ds) == 2 && finished(ds) })
		if ds[0].Status != "DELIVERED" || ds[0].Attempts != 1 {
			t.Errorf("the interrupted delivery: %+v, want DELIVERED, the interrupted attempt not counted", ds[0])
		}
	})
}

// TestWebhookTenantIsolation: every webhook operation is confined to the
// caller's account; another's webhook is NOT_FOUND and stays as it was; an
// account's events go to its own webhooks only; an administrator lists,
// reads and deletes any; each operation needs account:write.
func TestWebhookTenantIsolation(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		annRc, bobRc := newReceiver(t, nil), newReceiver(t, nil)
		s, _ := startHookServer(t, url, hookTestConfig([]netip.AddrPort{annRc.addr(), bobRc.addr()}, nil))
		for _, who := range []string{"ann", "bob"} {
			s.createAccount(t, who+"@example.com", who+"-password", "links:write", "account:write")
		}
		s.createAccount(t, "reader@example.com", "reader-password", "links:read", "account:read")
		s.createAccount(t, "root@example.com", "root-password", "admin:write")
		s.createAccount(t, "auditor@example.com", "auditor-password", "admin:read")
		s.createAccount(t, "nobody@example.com", "nobody-password")
		ann, bob := s.login(t, "ann@example.com", "ann-password"), s.login(t, "bob@example.com", "bob-password")
		root := s.login(t, "root@example.com", "root-password")
		annHook, _ := createHook(t, s, ann, annRc.srv.URL+"/in", "link.created")
		bobHook, _ := createHook(t, s, bob, bobRc.srv.URL+"/in", "link.created")
		s.ok(t, ann, createLinkMut, nil)
		annRc.next(t)
		waitDeliveries(t, s, ann, annHook, "ann's delivery", finished)

		ids := func(token string) []string {
			var out []string
			for _, w := range get(t, s.ok(t, token, `{ webhooks { id } }`, nil), "webhooks").([]any) {
				out = append(out, w.(map[string]any)["id"].(string))
			}
			return out
		}
		if got := ids(bob); len(got) != 1 || got[0] != bobHook {
			t.Errorf("bob's webhooks %v, want his alone", got)
		}
		wantCode(t, s.do(t, bob, deliveriesQuery, map[string]any{"id": annHook}), "NOT_FOUND")
		wantCode(t, s.do(t, bob, `mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": annHook}), "NOT_FOUND")
		wantCode(t, s.do(t, bob, deliveriesQuery, map[string]any{"id": "999999"}), "NOT_FOUND")
		if got := hookDeliveries(t, s, ann, annHook); len(got) != 1 {
			t.Errorf("ann's deliveries after bob's tries: %+v", got)
		}
		if got := hookDeliveries(t, s, bob, bobHook); len(got) != 0 || bobRc.count() != 0 {
			t.Errorf("bob's webhook got ann's event: %+v, %d requests", got, bobRc.count())
		}
		for _, op := range []struct {
			q    string
			vars map[string]any
		}{
			{`{ webhooks { id } }`, nil},
			{deliveriesQuery, map[string]any{"id": annHook}},
			{`mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": annHook}},
			{createWebhookMut, map[string]any{"u": annRc.srv.URL, "e": []string{"link.created"}}},
		} {
			for _, who := range []string{"reader", "auditor", "nobody"} {
				wantCode(t, s.do(t, s.login(t, who+"@example.com", who+"-password"), op.q, op.vars), "FORBIDDEN")
			}
			wantCode(t, s.do(t, "", op.q, op.vars), "UNAUTHENTICATED")
		}
		if got := ids(root); len(got) != 2 {
			t.Errorf("the administrator's webhooks %v, want both", got)
		}
		if got := hookDeliveries(t, s, root, annHook); len(got) != 1 {
			t.Errorf("the administrator reading ann's deliveries: %+v", got)
		}
		s.ok(t, root, `mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": annHook})
		if got := ids(ann); len(got) != 0 {
			t.Errorf("ann's webhooks after the administrator deleted hers: %v", got)
		}
		if n := queryInt(t, openDB(t, url).SQL(), `SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = `+annHook); n != 0 {
			t.Errorf("%d deliveries of the deleted webhook remain", n)
		}
		s.ok(t, bob, `mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": bobHook})
		wantCode(t, s.do(t, bob, `mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": bobHook}), "NOT_FOUND")
	})
}

package safehttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"linkapi/internal/safehttp"
)

// resolver answers from a map, and counts its lookups per name.
type resolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	lookups map[string]int
	// next, when set, answers instead of the map: n is the lookup's number for
	// that name, from 1.
	next func(host string, n int) []netip.Addr
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lookups == nil {
		r.lookups = map[string]int{}
	}
	r.lookups[host]++
	if r.next != nil {
		return r.next(host, r.lookups[host]), nil
	}
	a, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return a, nil
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// server is an httptest server that counts its requests.
type server struct {
	*httptest.Server
	hits atomic.Int64
	addr netip.AddrPort
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	s.addr = netip.MustParseAddrPort(s.Listener.Addr().String())
	return s
}

func (s *server) port() string { return strconv.Itoa(int(s.addr.Port())) }

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

// refusal returns the *RefusedError in err, failing the test when there is none.
func refusal(t *testing.T, err error, want safehttp.Reason) *safehttp.RefusedError {
	t.Helper()
	var re *safehttp.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("got error %v; want a safehttp refusal (%s)", err, want)
	}
	if re.Reason != want {
		t.Fatalf("got refusal %q (%v); want %q", re.Reason, err, want)
	}
	return re
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return err
}

// TestRefusesAddressesAtDial dials one address of each refused range, as a URL
// literal, through the production guard (nothing allowed). The Control hook
// refuses before the socket connects, so nothing leaves the machine.
func TestRefusesAddressesAtDial(t *testing.T) {
	c := safehttp.NewClient(safehttp.Options{})
	for _, host := range []string{
		"127.0.0.1", "127.1.2.3", "0.0.0.0", "10.0.0.1", "172.16.5.4", "192.168.0.1",
		"169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1",
		"[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:10.0.0.1]",
		"[64:ff9b::7f00:1]", "[64:ff9b::a9fe:a9fe]", "[2002:7f00:1::1]", "[fd00:ec2::254]", "[fc00::1]",
		"[fe80::1]", "[ff02::1]", "[2001:db8::1]",
	} {
		err := get(c, "http://"+host+":8080/")
		re := refusal(t, err, safehttp.ReasonAddress)
		if re.Range == "" {
			t.Errorf("%s: refusal names no range", host)
		}
	}
}

// TestRefusesNameResolvingToLoopback: a public-looking name whose DNS answer is
// 127.0.0.1 reaches nothing, although a server listens there.
func TestRefusesNameResolvingToLoopback(t *testing.T) {
	internal := newServer(t, ok)
	for _, answer := range [][]netip.Addr{
		addrs("127.0.0.1"), addrs("::ffff:127.0.0.1"), addrs("::1", "127.0.0.1"),
	} {
		r := &resolver{answers: map[string][]netip.Addr{"evil.example": answer}}
		c := safehttp.NewClient(safehttp.Options{Resolver: r})
		err := get(c, "http://evil.example:"+internal.port()+"/")
		refusal(t, err, safehttp.ReasonAddress)
	}
	if n := internal.hits.Load(); n != 0 {
		t.Fatalf("the loopback server got %d requests; want 0", n)
	}
}

// TestRefusesEachNameAtEveryConnection is DNS rebinding: the name first answers
// the allowed server, then loopback. The second connection is judged on the
// address it dials and refused.
func TestRefusesEachNameAtEveryConnection(t *testing.T) {
	allowed := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // each request dials anew
		ok(w, r)
	})
	internal := newServer(t, ok)
	r := &resolver{next: func(_ string, n int) []netip.Addr {
		if n == 1 {
			return []netip.Addr{allowed.addr.Addr()}
		}
		return addrs("10.0.0.7")
	}}
	c := safehttp.NewClient(safehttp.Options{Resolver: r, Allow: []netip.AddrPort{allowed.addr}})
	if err := get(c, "http://rebind.example:"+allowed.port()+"/"); err != nil {
		t.Fatalf("first request: %v", err)
	}
	refusal(t, get(c, "http://rebind.example:"+allowed.port()+"/"), safehttp.ReasonAddress)
	if allowed.hits.Load() != 1 || internal.hits.Load() != 0 {
		t.Fatalf("hits: allowed %d, internal %d; want 1 and 0", allowed.hits.Load(), internal.hits.Load())
	}
}

// TestSkipsRefusedAddressesOfAName: of a name's addresses, the refused ones are
// skipped and an allowed one is used.
func TestSkipsRefusedAddressesOfAName(t *testing.T) {
	allowed := newServer(t, ok)
	r := &resolver{answers: map[string][]netip.Addr{"mixed.example": addrs("127.0.0.2", "127.0.0.1")}}
	c := safehttp.NewClient(safehttp.Options{Resolver: r, Allow: []netip.AddrPort{allowed.addr}})
	if err := get(c, "http://mixed.example:"+allowed.port()+"/"); err != nil {
		t.Fatalf("got %v; want the allowed address reached", err)
	}
}

func TestRefusesNameWithoutAddress(t *testing.T) {
	r := &resolver{answers: map[string][]netip.Addr{"empty.example": nil}}
	c := safehttp.NewClient(safehttp.Options{Resolver: r})
	refusal(t, get(c, "http://empty.example/"), safehttp.ReasonNoAddress)
	// An unknown name is the resolver's error, not a refusal.
	err := get(c, "http://unknown.example/")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("got %v; want the resolver's DNSError", err)
	}
}

// TestRefusesRedirectToPrivate: an allowed server redirects to loopback, a name
// that resolves to private or metadata addresses, and IPv4-mapped loopback.
func TestRefusesRedirectToPrivate(t *testing.T) {
	internal := newServer(t, ok)
	var target string
	allowed := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	})
	r := &resolver{answers: map[string][]netip.Addr{
		"intranet.example": addrs("192.168.1.10"),
		"metadata.example": addrs("169.254.169.254"),
		"loop.example":     addrs("127.0.0.1"),
	}}
	c := safehttp.NewClient(safehttp.Options{Resolver: r, Allow: []netip.AddrPort{allowed.addr}})
	for _, target = range []string{
		internal.URL + "/",
		"http://loop.example:" + internal.port() + "/",
		"http://[::ffff:127.0.0.1]:" + internal.port() + "/",
		"http://intranet.example/",
		"http://metadata.example/latest/meta-data/",
		"http://[fd00:ec2::254]/latest/meta-data/",
	} {
		refusal(t, get(c, allowed.URL+"/"), safehttp.ReasonAddress)
	}
	if n := internal.hits.Load(); n != 0 {
		t.Fatalf("the loopback server got %d requests; want 0", n)
	}
}

// TestRedirectLimit: five redirects are followed, the sixth is refused.
func TestRedirectLimit(t *testing.T) {
	allowed := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if n > 0 {
			http.Redirect(w, r, "/"+strconv.Itoa(n-1), http.StatusMovedPermanently)
			return
		}
		ok(w, r)
	})
	c := safehttp.NewClient(safehttp.Options{Allow: []netip.AddrPort{allowed.addr}})
	if err := get(c, allowed.URL+"/"+strconv.Itoa(safehttp.MaxRedirects)); err != nil {
		t.Fatalf("%d redirects: %v", safehttp.MaxRedirects, err)
	}
	before := allowed.hits.Load()
	refusal(t, get(c, allowed.URL+"/"+strconv.Itoa(safehttp.MaxRedirects+1)), safehttp.ReasonRedirects)
	if got := allowed.hits.Load() - before; got != safehttp.MaxRedirects+1 {
		t.Fatalf("%d requests for %d redirects; want %d", got, safehttp.MaxRedirects+1, safehttp.MaxRedirects+1)
	}
}

// TestRefusesSchemes: only http and https, asked for or redirected to.
func TestRefusesSchemes(t *testing.T) {
	var target string
	allowed := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusFound)
	})
	c := safehttp.NewClient(safehttp.Options{Allow: []netip.AddrPort{allowed.addr}})
	bad := []string{"file:///etc/passwd", "ftp://example.com/", "gopher://127.0.0.1:70/", "ws://example.com/", "data:text/html,hi"}
	for _, u := range bad {
		refusal(t, get(c, u), safehttp.ReasonScheme)
	}
	for _, target = range bad {
		before := allowed.hits.Load()
		refusal(t, get(c, allowed.URL+"/"), safehttp.ReasonScheme)
		if allowed.hits.Load() != before+1 {
			t.Fatalf("redirect to %s: want exactly the first request served", target)
		}
	}
	if err := safehttp.CheckURL(mustURL(t, "HTTPS://example.com/")); err != nil {
		t.Fatalf("CheckURL(HTTPS://example.com/) = %v; want nil", err)
	}
}

// TestRefusesUserinfo: credentials in a URL are never sent, asked for or
// redirected to, and the request does not leave.
func TestRefusesUserinfo(t *testing.T) {
	var target string
	allowed := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		ok(w, r)
	})
	c := safehttp.NewClient(safehttp.Options{Allow: []netip.AddrPort{allowed.addr}})
	withUser := strings.Replace(allowed.URL, "http://", "http://admin:secret@", 1) + "/"
	err := get(c, withUser)
	re := refusal(t, err, safehttp.ReasonUserinfo)
	if strings.Contains(err.Error(), "secret") || strings.Contains(re.URL, "secret") {
		t.Fatalf("the refusal %q repeats the password", err)
	}
	refusal(t, get(c, strings.Replace(allowed.URL, "http://", "http://admin@", 1)+"/"), safehttp.ReasonUserinfo)
	if n := allowed.hits.Load(); n != 0 {
		t.Fatalf("server got %d requests; want 0", n)
	}
	target = withUser
	refusal(t, get(c, allowed.URL+"/redirect"), safehttp.ReasonUserinfo)
	if n := allowed.hits.Load(); n != 1 {
		t.Fatalf("server got %d requests; want only the redirect", n)
	}
}

// TestRefusesBlockedPorts: a public address on a port browsers refuse (SMTP
// here) is refused before the socket connects.
func TestRefusesBlockedPorts(t *testing.T) {
	r := &resolver{answers: map[string][]netip.Addr{"mail.example": addrs("93.184.216.34")}}
	c := safehttp.NewClient(safehttp.Options{Resolver: r})
	for _, u := range []string{"http://mail.example:25/", "http://93.184.216.34:6667/", "https://[2606:4700::1]:22/"} {
		re := refusal(t, get(c, u), safehttp.ReasonPort)
		if !re.Addr.Addr().IsValid() {
			t.Errorf("%s: refusal names no address", u)
		}
	}
}

// TestNoCredentialsOrCookies: Authorization, Proxy-Authorization and Cookie set
// by the caller are not sent; a cookie set by a response is not sent back on the
// redirect it answers with; the User-Agent is linkapi's.
func TestNoCredentialsOrCookies(t *testing.T) {
	type seen struct{ auth, proxyAuth, cookie, agent string }
	var got []seen
	var mu sync.Mutex
	allowed := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Header.Get("Authorization"), r.Header.Get("Proxy-Authorization"), r.Header.Get("Cookie"), r.UserAgent()})
		mu.Unlock()
		if r.URL.Path == "/first" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: "/"})
			http.Redirect(w, r, "/second", http.StatusFound)
			return
		}
		ok(w, r)
	})
	c := safehttp.NewClient(safehttp.Options{Allow: []netip.AddrPort{allowed.addr}})
	req, _ := http.NewRequest(http.MethodGet, allowed.URL+"/first", nil)
	req.Header.Set("Authorization", "Bearer token")
	req.Header.Set("Proxy-Authorization", "Basic eDp5")
	req.Header.Set("Cookie", "a=b")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 2 {
		t.Fatalf("%d requests; want 2", len(got))
	}
	for i, s := range got {
		if s.auth != "" || s.proxyAuth != "" || s.cookie != "" {
			t.Errorf("request %d carried credentials %+v", i, s)
		}
		if !strings.HasPrefix(s.agent, "linkapi/") || s.agent != safehttp.UserAgent() {
			t.Errorf("request %d User-Agent %q; want %q", i, s.agent, safehttp.UserAgent())
		}
	}
	if c.Jar != nil {
		t.Error("the client has a cookie jar")
	}
}

func TestUserAgentOption(t *testing.T) {
	var agent atomic.Value
	allowed := newServer(t, func(w http.ResponseWriter, r *http.Request) { agent.Store(r.UserAgent()); ok(w, r) })
	c := safehttp.NewClient(safehttp.Options{UserAgent: "linkapi-webhooks/1", Allow: []netip.AddrPort{allowed.addr}})
	if err := get(c, allowed.URL); err != nil {
		t.Fatal(err)
	}
	if got := agent.Load(); got != "linkapi-webhooks/1" {
		t.Fatalf("User-Agent %q; want the option's", got)
	}
}

func TestRefusedErrorMessages(t *testing.T) {
	for _, e := range []*safehttp.RefusedError{
		{Reason: safehttp.ReasonAddress, Addr: netip.MustParseAddrPort("127.0.0.1:80"), Range: "loopback"},
		{Reason: safehttp.ReasonPort, Addr: netip.MustParseAddrPort("8.8.8.8:25")},
		{Reason: safehttp.ReasonScheme, URL: "ftp://x/"},
		{Reason: safehttp.ReasonUserinfo, URL: "http://x/"},
		{Reason: safehttp.ReasonRedirects, URL: "http://x/"},
		{Reason: safehttp.ReasonNoAddress, URL: "x"},
	} {
		if msg := e.Error(); !strings.HasPrefix(msg, "safehttp: refused ") {
			t.Errorf("%s: message %q", e.Reason, msg)
		}
		if !errors.Is(fmt.Errorf("wrapped: %w", e), safehttp.ErrRefused) {
			t.Errorf("%s: not ErrRefused", e.Reason)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// fixedResolver answers every name with its addresses.
type fixedResolver []netip.Addr

func (r fixedResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return r, nil
}

// TestCheckTarget refuses a stored URL whose host is, or resolves to, an
// address the guard refuses, and lets a public one and an allowed one through.
func TestCheckTarget(t *testing.T) {
	ctx := context.Background()
	public := safehttp.Options{Resolver: fixedResolver{netip.MustParseAddr("93.184.216.34")}}
	private := safehttp.Options{Resolver: fixedResolver{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.1")}}
	for _, c := range []struct {
		url  string
		o    safehttp.Options
		want safehttp.Reason
	}{
		{"https://hooks.example/in", private, safehttp.ReasonAddress},
		{"http://127.0.0.1:8080/", public, safehttp.ReasonAddress},
		{"http://[::ffff:169.254.169.254]/", public, safehttp.ReasonAddress},
		{"https://hooks.example:25/", public, safehttp.ReasonPort},
		{"ftp://hooks.example/", public, safehttp.ReasonScheme},
		{"https://u:p@hooks.example/", public, safehttp.ReasonUserinfo},
		{"https://hooks.example/", safehttp.Options{Resolver: fixedResolver{}}, safehttp.ReasonNoAddress},
	} {
		u, _ := url.Parse(c.url)
		var refused *safehttp.RefusedError
		if err := safehttp.CheckTarget(ctx, u, c.o); !errors.As(err, &refused) || refused.Reason != c.want {
			t.Errorf("CheckTarget(%s) = %v, want a refusal for %s", c.url, err, c.want)
		}
	}
	for _, c := range []struct {
		url string
		o   safehttp.Options
	}{
		{"https://hooks.example/in", public},
		{"http://8.8.8.8:8080/", safehttp.Options{}},
		{"http://127.0.0.1:8080/", safehttp.Options{Allow: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8080")}}},
	} {
		u, _ := url.Parse(c.url)
		if err := safehttp.CheckTarget(ctx, u, c.o); err != nil {
			t.Errorf("CheckTarget(%s) = %v, want nil", c.url, err)
		}
	}
}

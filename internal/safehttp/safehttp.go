// Package safehttp is the one outbound HTTP client of the server: page metadata
// and webhook deliveries both go through it, so that neither can be turned
// against the operator's own network (server-side request forgery).
//
// The guard decides at dial time: the dialler's Control hook sees the address of
// the socket about to connect, after name resolution, and refuses it unless it is
// public (see [Classify]) and its port is not one browsers refuse (see
// [BlockedPort]). Because the check is on the address actually dialled, a name
// whose DNS answer changes between a check and the connection (DNS rebinding)
// cannot slip past it. Every request, redirects included, is also checked for its
// scheme (http and https only) and for credentials in the URL; at most
// [MaxRedirects] redirects are followed.
//
// The client keeps no cookies, forwards no Authorization, Cookie or
// Proxy-Authorization header, and ignores HTTP_PROXY and HTTPS_PROXY: a proxy
// would make the connection for us, to an address the guard never sees.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a request follows before it is refused.
const MaxRedirects = 5

// ErrRefused is matched (errors.Is) by every refusal of the guard; errors.As with
// a *RefusedError gives the reason.
var ErrRefused = errors.New("safehttp: refused")

// Reason says which rule refused a request.
type Reason string

// The rules a request can break.
const (
	ReasonAddress   Reason = "address"    // the address dialled is not public
	ReasonPort      Reason = "port"       // the port is one browsers refuse
	ReasonScheme    Reason = "scheme"     // not http or https
	ReasonUserinfo  Reason = "userinfo"   // user name or password in the URL
	ReasonRedirects Reason = "redirects"  // more than MaxRedirects redirects
	ReasonNoAddress Reason = "no address" // the name resolved to no address
)

// RefusedError is the error of a request the guard refused. Addr is set for
// ReasonAddress and ReasonPort, Range names the address range for
// ReasonAddress, URL (without its query) for the URL rules.
type RefusedError struct {
	Reason Reason
	Addr   netip.AddrPort
	Range  string
	URL    string
}

func (e *RefusedError) Error() string {
	switch e.Reason {
	case ReasonAddress:
		return fmt.Sprintf("safehttp: refused to connect to %s: %s address", e.Addr, e.Range)
	case ReasonPort:
		return fmt.Sprintf("safehttp: refused to connect to %s: port %d is not allowed", e.Addr, e.Addr.Port())
	case ReasonScheme:
		return fmt.Sprintf("safehttp: refused %s: only http and https are allowed", e.URL)
	case ReasonUserinfo:
		return fmt.Sprintf("safehttp: refused %s: credentials in the URL are not allowed", e.URL)
	case ReasonRedirects:
		return fmt.Sprintf("safehttp: refused %s: more than %d redirects", e.URL, MaxRedirects)
	case ReasonNoAddress:
		return fmt.Sprintf("safehttp: refused %s: the name has no address", e.URL)
	}
	return "safehttp: refused"
}

// Is makes errors.Is(err, ErrRefused) true for every RefusedError.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Resolver looks up a host name's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a client. The zero value is the production guard.
type Options struct {
	// Timeout bounds each request, redirects and reading the body included
	// (http.Client.Timeout); 0 leaves it to the request's context.
	Timeout time.Duration
	// UserAgent is sent when the request sets none; empty means [UserAgent].
	UserAgent string
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Allow lists endpoints that are reached although the rules refuse them.
	// It exists for tests, which serve from loopback; the server never sets it.
	Allow []netip.AddrPort
}

// UserAgent returns "linkapi/VERSION", VERSION being the module version the
// binary was built from ("dev" for a build outside version control).
func UserAgent() string {
	uaOnce.Do(func() {
		v := "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		ua = "linkapi/" + v
	})
	return ua
}

var (
	uaOnce sync.Once
	ua     string
)

// NewClient returns an http.Client that follows at most MaxRedirects redirects,
// keeps no cookies and connects only through the guard (see the package comment).
func NewClient(o Options) *http.Client {
	return &http.Client{
		Transport: NewTransport(o),
		Timeout:   o.Timeout,
		Jar:       nil,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return &RefusedError{Reason: ReasonRedirects, URL: redact(req.URL)}
			}
			return nil
		},
	}
}

// NewTransport returns the guarded http.RoundTripper that NewClient uses, for a
// caller that builds its own http.Client: every request it sends is checked with
// CheckURL, loses its credential headers, and is dialled through the guard.
func NewTransport(o Options) http.RoundTripper {
	g := &guard{resolver: o.Resolver, allow: slices.Clone(o.Allow)}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	t := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the guard
		DialContext:            g.dialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	agent := o.UserAgent
	if agent == "" {
		agent = UserAgent()
	}
	return &transport{base: t, userAgent: agent}
}

type transport struct {
	base      http.RoundTripper
	userAgent string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := CheckURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
		r.Header.Del(h)
	}
	if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	return t.base.RoundTrip(r)
}

// CheckURL returns a *RefusedError unless u is an http or https URL without
// credentials. It does not look at the host: the address is judged when it is
// dialled. A caller that stores a URL to call later (a webhook) checks it with
// CheckURL to refuse a bad one at once.
func CheckURL(u *url.URL) error {
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return &RefusedError{Reason: ReasonScheme, URL: redact(u)}
	}
	if u.User != nil {
		return &RefusedError{Reason: ReasonUserinfo, URL: redact(u)}
	}
	return nil
}

// redact returns u without credentials, query and fragment, for messages.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// CheckAddr returns a *RefusedError unless a connection to ap is allowed: a
// public address (Classify) on a port that is not blocked (BlockedPort).
func CheckAddr(ap netip.AddrPort) error {
	if public, name := Classify(ap.Addr()); !public {
		return &RefusedError{Reason: ReasonAddress, Addr: ap, Range: name}
	}
	if BlockedPort(ap.Port()) {
		return &RefusedError{Reason: ReasonPort, Addr: ap}
	}
	return nil
}

type guard struct {
	resolver Resolver
	allow    []netip.AddrPort
}

// control is the dialler's Control hook: it runs once the socket exists and
// before it connects, with the address it connects to.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("safehttp: cannot read the address %q being dialled: %w", address, err)
	}
	ap = netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port())
	if slices.Contains(g.allow, ap) {
		return nil
	}
	return CheckAddr(ap)
}

// dialContext resolves the host itself, so that tests can inject the answer,
// and dials its addresses one after the other; the Control hook judges each.
func (g *guard) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("safehttp: bad port in %q", address)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ipNetwork := "ip"
		switch network {
		case "tcp4":
			ipNetwork = "ip4"
		case "tcp6":
			ipNetwork = "ip6"
		}
		if addrs, err = g.resolver.LookupNetIP(ctx, ipNetwork, host); err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, &RefusedError{Reason: ReasonNoAddress, URL: host}
		}
	}
	d := &net.Dialer{Timeout: 5 * time.Second, Control: g.control}
	var first error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(a.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// CheckTarget returns a *RefusedError unless a request to u could be sent: an
// http or https URL without credentials (CheckURL) whose host resolves, with
// o's resolver, to addresses that are all allowed (CheckAddr, or listed in
// o.Allow). It is for a caller that stores a URL to call later, such as a
// webhook, to refuse a private one at once; the guard still judges the address
// dialled on every request, since the name may resolve elsewhere by then. A
// name that does not resolve is an error of the resolver.
func CheckTarget(ctx context.Context, u *url.URL, o Options) error {
	if err := CheckURL(u); err != nil {
		return err
	}
	host := u.Hostname()
	if host == "" {
		return &RefusedError{Reason: ReasonNoAddress, URL: redact(u)}
	}
	port := uint64(80)
	if strings.EqualFold(u.Scheme, "https") {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return fmt.Errorf("safehttp: bad port in %q", redact(u))
		}
		port = n
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := o.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return err
		}
		if len(addrs) == 0 {
			return &RefusedError{Reason: ReasonNoAddress, URL: host}
		}
	}
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap().WithZone(""), uint16(port))
		if slices.Contains(o.Allow, ap) {
			continue
		}
		if err := CheckAddr(ap); err != nil {
			return err
		}
	}
	return nil
}

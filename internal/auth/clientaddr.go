package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type clientAddrKey struct{}

// WithClientAddr returns a copy of ctx that carries the address of the client
// making the request, which Login limits failed logins by.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr returns the client address carried by ctx, or "" when there is none.
func ClientAddr(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	return addr
}

// RequestClientAddr returns the address of the client that sent r: the socket
// peer (r.RemoteAddr without its port), unless that peer is in trusted, the
// reverse proxies in front of the server. Then it is the rightmost address of
// X-Forwarded-For that is not itself a trusted proxy, read from the right
// because only the entries our own proxies appended can be believed; the left
// ones are whatever the client sent. With trusted empty, X-Forwarded-For is
// never read, so a client cannot choose its own address.
func RequestClientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	client := peer
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHostAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break // garbage: trust nothing further left
		}
		client = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return client.String()
}

// AddrGroup is the group a client address is limited by, in the limits on
// failed logins and on anonymous requests alike: the address itself for IPv4,
// its /64 for IPv6 (one subscriber usually holds a whole /64), and the text as
// given when it is not an address.
func AddrGroup(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// ParseTrustedProxies reads a comma-separated list of IP addresses and CIDR
// prefixes, such as "10.0.0.0/8, 127.0.0.1", for RequestClientAddr.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// parseHostAddr reads "ip", "ip:port" or "[ip]:port", dropping any zone and
// unmapping IPv4-mapped IPv6.
func parseHostAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

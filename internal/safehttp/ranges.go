package safehttp

import (
	"net/netip"
)

// special is one address range that outbound requests never reach, with the name
// a refusal gives it.
type special struct {
	prefix netip.Prefix
	name   string
}

// refusedV4 lists the IPv4 ranges that are not public: the IANA IPv4
// Special-Purpose Address Registry (RFC 6890 and successors) less nothing. A
// range there that IANA marks globally reachable (a few /32s in 192.0.0.0/24) is
// refused all the same: no web page or webhook receiver lives there.
var refusedV4 = []special{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (this network)"}, // 0.0.0.0 reaches the local host on Linux
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT, RFC 6598)"}, // also Alibaba Cloud's metadata service
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"}, // 169.254.169.254
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (TEST-NET-1)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (TEST-NET-2)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (TEST-NET-3)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (incl. broadcast)"}, // 255.255.255.255
}

// IPv6 ranges that carry an IPv4 address in their low bits (or, for 6to4, in
// bits 16 to 47): the address is judged by the IPv4 address it reaches.
var (
	mappedV6 = netip.MustParsePrefix("::ffff:0:0/96")   // IPv4-mapped
	nat64V6  = netip.MustParsePrefix("64:ff9b::/96")    // NAT64 well-known prefix (RFC 6052)
	sixto4V6 = netip.MustParsePrefix("2002::/16")       // 6to4 (RFC 3056)
	globalV6 = netip.MustParsePrefix("2000::/3")        // global unicast
	compatV6 = netip.MustParsePrefix("::/96")           // IPv4-compatible (deprecated), :: and ::1 too
	transV6  = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (SIIT, RFC 2765)
)

// refusedV6 lists the non-public ranges inside global unicast (2000::/3); every
// IPv6 address outside 2000::/3 is refused too (loopback, unspecified, unique
// local fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8,
// discard 100::/64, local-use NAT64 64:ff9b:1::/48, SRv6 5f00::/16), except the
// IPv4-carrying forms above.
var refusedV6 = []special{
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (Teredo, benchmarking, ORCHID)"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
}

// namesOutsideGlobal names the usual IPv6 ranges outside 2000::/3, for messages.
var namesOutsideGlobal = []special{
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{transV6, "IPv4-translated"},
	{compatV6, "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Classify reports whether a is a public address that outbound requests may
// reach and, when it is not, the name of the range that holds it. An IPv6 address
// that carries an IPv4 one (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4
// 2002::/16) is judged by that IPv4 address, so ::ffff:127.0.0.1,
// 64:ff9b::10.0.0.1 and 2002:a9fe:a9fe:: are refused while
// 64:ff9b::8.8.8.8 (a public IPv4 site through a NAT64 gateway) is not.
func Classify(a netip.Addr) (public bool, rangeName string) {
	if !a.IsValid() {
		return false, "invalid address"
	}
	a = a.WithZone("")
	if a.Is4() {
		return classify4(a, "")
	}
	switch {
	case mappedV6.Contains(a):
		return classify4(a.Unmap(), "IPv4-mapped ")
	case nat64V6.Contains(a):
		b := a.As16()
		return classify4(netip.AddrFrom4([4]byte(b[12:16])), "NAT64 ")
	case sixto4V6.Contains(a):
		b := a.As16()
		return classify4(netip.AddrFrom4([4]byte(b[2:6])), "6to4 ")
	case !globalV6.Contains(a):
		for _, s := range namesOutsideGlobal {
			if s.prefix.Contains(a) {
				return false, s.name
			}
		}
		return false, "not global unicast"
	}
	for _, s := range refusedV6 {
		if s.prefix.Contains(a) {
			return false, s.name
		}
	}
	return true, ""
}

func classify4(a netip.Addr, form string) (bool, string) {
	for _, s := range refusedV4 {
		if s.prefix.Contains(a) {
			return false, form + s.name
		}
	}
	return true, ""
}

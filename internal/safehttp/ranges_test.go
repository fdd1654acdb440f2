package safehttp_test

import (
	"net/netip"
	"testing"

	"linkapi/internal/safehttp"
)

// TestClassify names one address of every refused range, in each form it can
// take, and public addresses that must stay reachable.
func TestClassify(t *testing.T) {
	refused := []string{
		// IPv4
		"0.0.0.0", "0.1.2.3", // unspecified, this network
		"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1", // RFC 1918
		"100.64.0.1", "100.127.255.254", "100.100.100.200", // CGNAT, Alibaba metadata
		"127.0.0.1", "127.255.255.254", // loopback
		"169.254.169.254", "169.254.0.1", // link-local, cloud metadata
		"192.0.0.8", "192.0.2.1", "198.51.100.7", "203.0.113.9", // IETF, documentation
		"192.88.99.1",                  // 6to4 relay
		"198.18.0.1", "198.19.255.255", // benchmarking
		"224.0.0.1", "239.255.255.250", // multicast
		"240.0.0.1", "255.255.255.255", // reserved, broadcast
		// IPv6
		"::", "::1", // unspecified, loopback
		"::127.0.0.1", "::8.8.8.8", // IPv4-compatible (deprecated): all refused
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:100.64.0.1", "::ffff:0.0.0.0",
		"::ffff:192.168.0.1", "::ffff:224.0.0.1", "::ffff:255.255.255.255", "::ffff:172.16.0.1", // IPv4-mapped
		"::ffff:0:7f00:1",                                                              // IPv4-translated
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b::c0a8:101", // NAT64 of private
		"64:ff9b:1::1",                                           // local-use NAT64
		"2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:c0a8:101::1", // 6to4 of private
		"fc00::1", "fd00:ec2::254", "fdff:ffff::1", // unique local, AWS IPv6 metadata
		"fe80::1", "fe80::1%eth0", "febf::1", // link-local
		"fec0::1",                       // site-local
		"ff02::1", "ff05::2", "ff0e::1", // multicast
		"100::1",                 // discard
		"2001:db8::1", "3fff::1", // documentation
		"2001::1", "2001:2::1", "2001:10::1", // Teredo, benchmarking, ORCHID
		"5f00::1", "4000::1", // outside global unicast
	}
	for _, s := range refused {
		a := netip.MustParseAddr(s)
		if public, name := safehttp.Classify(a); public || name == "" {
			t.Errorf("Classify(%s) = %v, %q; want refused with a range name", s, public, name)
		}
	}
	public := []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"169.253.255.255", "192.167.255.255", "198.17.255.255", "198.20.0.0", "223.255.255.255", "11.0.0.1",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
		"2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "2001:4860:4860::8888", "2c0f:fb50:4003::1",
	}
	for _, s := range public {
		if ok, name := safehttp.Classify(netip.MustParseAddr(s)); !ok {
			t.Errorf("Classify(%s) = refused (%s); want public", s, name)
		}
	}
	if ok, _ := safehttp.Classify(netip.Addr{}); ok {
		t.Error("the zero Addr is public; want refused")
	}
}

func TestClassifyNamesTheForm(t *testing.T) {
	for _, c := range []struct{ addr, name string }{
		{"127.0.0.1", "loopback"},
		{"::ffff:127.0.0.1", "IPv4-mapped loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64 link-local (cloud metadata)"},
		{"2002:a00:1::", "6to4 private (RFC 1918)"},
		{"fd12::1", "unique local"},
	} {
		if _, got := safehttp.Classify(netip.MustParseAddr(c.addr)); got != c.name {
			t.Errorf("Classify(%s) names %q; want %q", c.addr, got, c.name)
		}
	}
}

func TestBlockedPort(t *testing.T) {
	for _, p := range []uint16{0, 22, 25, 53, 110, 143, 465, 587, 6000, 6667, 10080} {
		if !safehttp.BlockedPort(p) {
			t.Errorf("port %d allowed; want blocked", p)
		}
	}
	for _, p := range []uint16{80, 443, 3000, 5678, 8000, 8080, 8443, 9000, 65535} {
		if safehttp.BlockedPort(p) {
			t.Errorf("port %d blocked; want allowed", p)
		}
	}
}

package auth

import (
	"context"
	"net/http/httptest"
	"testing"
)

func TestClientAddrContext(t *testing.T) {
	if got := ClientAddr(context.Background()); got != "" {
		t.Errorf("ClientAddr(no address) = %q, want empty", got)
	}
	if got := ClientAddr(WithClientAddr(context.Background(), "192.0.2.1")); got != "192.0.2.1" {
		t.Errorf("ClientAddr = %q, want 192.0.2.1", got)
	}
}

func TestRequestClientAddr(t *testing.T) {
	proxies, err := ParseTrustedProxies(" 10.0.0.0/8, 127.0.0.1 ,fd00::/8,")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted bool
		want    string
	}{
		{"socket address", "192.0.2.1:5555", nil, false, "192.0.2.1"},
		{"IPv6 socket address", "[2001:db8::1]:5555", nil, false, "2001:db8::1"},
		{"IPv6 with a zone", "[fe80::1%eth0]:5555", nil, false, "fe80::1"},
		{"IPv4-mapped", "[::ffff:192.0.2.1]:5555", nil, false, "192.0.2.1"},
		{"forwarded-for ignored without trusted proxies", "192.0.2.1:5555", []string{"198.51.100.1"}, false, "192.0.2.1"},
		{"forwarded-for ignored from an untrusted peer", "192.0.2.1:5555", []string{"198.51.100.1"}, true, "192.0.2.1"},
		{"behind a trusted proxy", "10.1.2.3:5555", []string{"198.51.100.1"}, true, "198.51.100.1"},
		{"client-chosen entries on the left are skipped", "10.1.2.3:5555", []string{"1.2.3.4, 198.51.100.1"}, true, "198.51.100.1"},
		{"two trusted proxies", "127.0.0.1:5555", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, true, "198.51.100.1"},
		{"several headers", "10.1.2.3:5555", []string{"6.6.6.6", "198.51.100.1"}, true, "198.51.100.1"},
		{"IPv6 in forwarded-for", "[fd00::1]:5555", []string{"2001:db8::7"}, true, "2001:db8::7"},
		{"a port in forwarded-for", "10.1.2.3:5555", []string{"198.51.100.1:4444"}, true, "198.51.100.1"},
		{"garbage stops the walk", "10.1.2.3:5555", []string{"198.51.100.1, garbage, 10.0.0.2"}, true, "10.0.0.2"},
		{"garbage only", "10.1.2.3:5555", []string{"garbage"}, true, "10.1.2.3"},
		{"all hops trusted", "10.1.2.3:5555", []string{"10.0.0.1, 10.0.0.2"}, true, "10.0.0.1"},
		{"no forwarded-for from a trusted proxy", "10.1.2.3:5555", nil, true, "10.1.2.3"},
		{"unparsable socket address", "pipe", nil, false, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/graphql", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			var trusted = proxies
			if !tt.trusted {
				trusted = nil
			}
			if got := RequestClientAddr(r, trusted); got != tt.want {
				t.Errorf("RequestClientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, s := range []string{"", " , "} {
		if p, err := ParseTrustedProxies(s); err != nil || len(p) != 0 {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v; want none", s, p, err)
		}
	}
	for _, s := range []string{"10.0.0.0/33", "example.com", "10.0.0.1/8/8"} {
		if _, err := ParseTrustedProxies(s); err == nil {
			t.Errorf("ParseTrustedProxies(%q) = nil error, want one", s)
		}
	}
	p, err := ParseTrustedProxies("10.1.2.3/8, ::ffff:192.0.2.1")
	if err != nil || len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "192.0.2.1/32" {
		t.Errorf("ParseTrustedProxies = %v, %v; want [10.0.0.0/8 192.0.2.1/32]", p, err)
	}
}

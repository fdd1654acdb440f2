package safehttp

import (
	"net/http"
	"net/url"
	"testing"
)

// TestNoProxy: the transport dials every request itself. A proxy from
// HTTP_PROXY would connect for us, to an address the guard never judges; a
// behavioural test cannot show it, because net/http never proxies loopback.
func TestNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://proxy.example:3128")
	t.Setenv("HTTPS_PROXY", "http://proxy.example:3128")
	base := NewTransport(Options{}).(*transport).base.(*http.Transport)
	if base.Proxy != nil {
		req := &http.Request{URL: &url.URL{Scheme: "http", Host: "example.com"}}
		p, _ := base.Proxy(req)
		t.Fatalf("the transport has a proxy function (answering %v for example.com); want none", p)
	}
	if base.DialTLSContext != nil || base.Dial != nil || base.DialTLS != nil { //nolint:staticcheck // the deprecated hooks would bypass the guard too
		t.Fatal("a dial hook other than the guard's is set")
	}
}

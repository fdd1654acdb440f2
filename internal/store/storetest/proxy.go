package storetest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Proxy forwards connections between a MySQL client and the server of
// LINKAPI_TEST_MYSQL_URL, on a loopback port of its own, and can hold a
// statement: once Hold is called, the next query that is that statement is not
// passed on, and nothing more from its connection is, so that the client waits
// for an answer as it would from a server that holds the statement (a Galera
// node pausing commits, say) until the client gives up and closes the
// connection, which the server then sees closed.
type Proxy struct {
	// URL is the database URL the proxy was started for, with the proxy's
	// address in place of the server's.
	URL string

	target string
	ln     net.Listener
	mu     sync.Mutex
	hold   string        // the statement to hold, "" for none
	held   chan struct{} // closed when it has been held
	conns  map[net.Conn]struct{}
}

// StartProxy starts a Proxy to the server of rawURL, a mysql:// URL, and stops
// it when t ends.
func StartProxy(t testing.TB, rawURL string) *Proxy {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("storetest: proxy: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storetest: proxy: %v", err)
	}
	p := &Proxy{target: u.Host, ln: ln, conns: map[net.Conn]struct{}{}}
	u.Host = ln.Addr().String()
	p.URL = u.String()
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Hold makes the proxy hold the next query that is stmt (compared without
// regard to case); Held's channel is closed once it has.
func (p *Proxy) Hold(stmt string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold, p.held = stmt, make(chan struct{})
}

// Held returns the channel that is closed once the statement given to the last
// Hold has been held.
func (p *Proxy) Held() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client) || !p.track(server) {
			client.Close()
			server.Close()
			return
		}
		go func() {
			io.Copy(client, server)
			client.Close()
		}()
		go func() {
			p.forward(server, client)
			server.Close()
		}()
	}
}

// comQuery starts the MySQL packet of a text query.
const comQuery = 0x03

// forward copies the client's packets to the server until the client closes,
// holding the statement Hold named: after it, the client's packets are read
// and dropped.
func (p *Proxy) forward(server, client net.Conn) {
	header := make([]byte, 4)
	holding := false
	for {
		if _, err := io.ReadFull(client, header); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(append(header[:3:3], 0)))
		payload := make([]byte, n)
		if _, err := io.ReadFull(client, payload); err != nil {
			return
		}
		if holding || p.holds(payload) {
			holding = true
			continue
		}
		if _, err := server.Write(append(header, payload...)); err != nil {
			return
		}
	}
}

// holds reports whether payload is the query to hold, and if so marks it held.
func (p *Proxy) holds(payload []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold == "" || len(payload) == 0 || payload[0] != comQuery ||
		!strings.EqualFold(string(bytes.TrimSpace(payload[1:])), p.hold) {
		return false
	}
	p.hold = ""
	close(p.held)
	return true
}

// Package oidctest is an OpenID Connect provider for tests: an httptest server
// on loopback serving a discovery document and a JWKS of keys made in the test,
// which the test rotates and breaks at will, and signs tokens with them.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mode is how the JWKS endpoint answers.
type Mode int

// The ways the JWKS endpoint can answer.
const (
	Serve        Mode = iota // the key set
	Down                     // 503
	Slow                     // nothing until the client gives up
	Huge                     // a body of many megabytes, without Content-Length
	HugeDeclared             // a Content-Length of many megabytes
	Junk                     // not JSON
	BadKey                   // JSON whose one key is not a key
)

// Key is a signing key of the provider.
type Key struct {
	KID     string
	Alg     string // RS256, ES256 or EdDSA
	Private crypto.Signer
	// NoAlg leaves alg out of the key's JWK.
	NoAlg bool
}

// Public returns the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.Private.Public() }

// PublicPEM returns the public key as PEM, the bytes an attacker would use as an
// HMAC secret in an algorithm-confusion attack.
func (k *Key) PublicPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Provider is the test provider.
type Provider struct {
	srv *httptest.Server

	mu   sync.Mutex
	keys []*Key
	mode Mode
	// Issuer, when set, is the issuer the discovery document claims instead
	// of the server's URL.
	issuer string
	// cacheControl is the Cache-Control of the key set's answer.
	cacheControl string

	jwksFetches, discoveryFetches atomic.Int64
	release                       chan struct{}
}

// New starts a provider on loopback, stopped when the test ends.
func New(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(p.release)
		p.srv.Close()
	})
	return p
}

// Issuer is the provider's issuer: its URL.
func (p *Provider) Issuer() string { return p.srv.URL }

// SetMode sets how the JWKS endpoint answers; Down also fails discovery.
func (p *Provider) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
}

// ClaimIssuer makes the discovery document claim another issuer.
func (p *Provider) ClaimIssuer(iss string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issuer = iss
}

// SetCacheControl sets the Cache-Control header of the key set's answer.
func (p *Provider) SetCacheControl(v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cacheControl = v
}

// JWKSFetches and DiscoveryFetches count the requests of each endpoint.
func (p *Provider) JWKSFetches() int64      { return p.jwksFetches.Load() }
func (p *Provider) DiscoveryFetches() int64 { return p.discoveryFetches.Load() }

// NewKey makes a key for alg (RS256, ES256 or EdDSA) with the given kid. It is
// not published until SetKeys or AddKey.
func NewKey(t testing.TB, alg, kid string) *Key {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("oidctest: no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{KID: kid, Alg: alg, Private: priv}
}

// SetKeys replaces the published key set (a rotation).
func (p *Provider) SetKeys(keys ...*Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
}

// AddKey publishes one more key.
func (p *Provider) AddKey(k *Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	p.discoveryFetches.Add(1)
	p.mu.Lock()
	mode, iss := p.mode, p.issuer
	p.mu.Unlock()
	if mode == Down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if iss == "" {
		iss = p.Issuer()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer": iss, "jwks_uri": p.Issuer() + "/jwks",
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.jwksFetches.Add(1)
	p.mu.Lock()
	mode, keys, cc := p.mode, append([]*Key(nil), p.keys...), p.cacheControl
	p.mu.Unlock()
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	switch mode {
	case Down:
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	case Slow:
		select {
		case <-r.Context().Done():
		case <-p.release:
		}
		return
	case Huge:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[`))
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for range 160 { // 10 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`]}`))
		return
	case HugeDeclared:
		w.Header().Set("Content-Length", "104857600")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[`))
		return
	case Junk:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`<html>this is not a key set</html>`))
		return
	case BadKey:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[{"kty":"RSA","kid":"bad","alg":"RS256","n":"!!!","e":"AQAB"}]}`))
		return
	}
	set := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		set = append(set, JWK(k))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": set})
}

// JWK returns the public JWK of k.
func JWK(k *Key) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{"kid": k.KID, "use": "sig"}
	if !k.NoAlg {
		m["alg"] = k.Alg
	}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		ecdh, _ := pub.ECDH()
		raw := ecdh.Bytes() // 0x04 || X || Y
		n := (len(raw) - 1) / 2
		m["kty"], m["crv"], m["x"], m["y"] = "EC", pub.Curve.Params().Name, b64(raw[1:1+n]), b64(raw[1+n:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	}
	return m
}

// Claims returns the claims of a valid token of the provider for subject and
// audience, expiring in an hour.
func (p *Provider) Claims(subject, audience string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": p.Issuer(), "sub": subject, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Sign signs claims with k, its kid in the header, with k's algorithm.
func Sign(t testing.TB, k *Key, claims jwt.MapClaims) string {
	t.Helper()
	return SignWith(t, k, jwt.GetSigningMethod(k.Alg), map[string]any{"kid": k.KID}, claims)
}

// SignWith signs claims with k's private key by method, with header set (a nil
// value removes the parameter).
func SignWith(t testing.TB, k *Key, method jwt.SigningMethod, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	s, err := tok.SignedString(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

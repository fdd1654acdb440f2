package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Defaults of an OIDC verifier.
const (
	// DefaultOIDCFetchTimeout bounds each request to the identity provider
	// (discovery or JWKS), connection, headers and body included.
	DefaultOIDCFetchTimeout = 5 * time.Second
	// DefaultOIDCMaxBody is the most of a discovery document or JWKS read.
	DefaultOIDCMaxBody = 256 << 10
	// DefaultOIDCRefresh is how often the key set is fetched anew when its
	// answer gives no cache lifetime (Cache-Control max-age).
	DefaultOIDCRefresh = 15 * time.Minute
	// maxOIDCRefresh is the longest cache lifetime of a key set honoured.
	maxOIDCRefresh = 24 * time.Hour
	// DefaultOIDCUnknownKID is how often at most a token with an unknown kid
	// makes the key set be fetched again (and a failed discovery be retried).
	DefaultOIDCUnknownKID = time.Minute
	// minRSABits is the smallest RSA key a provider's token may be signed with.
	minRSABits = 2048
)

// The algorithms accepted from an identity provider, each tied to one kind of
// key: RSA keys verify RS256 only, P-256 keys ES256 only, Ed25519 keys EdDSA
// only. Never HS*, never none.
var oidcAlgs = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}

// oidcHeaderParams are the JOSE header parameters a provider's token may carry.
// x5t and x5t#S256 (certificate thumbprints, which some providers send beside
// kid) are ignored; jku, jwk, x5u, x5c and crit are refused (RFC 8725 3.10).
var oidcHeaderParams = map[string]bool{"alg": true, "typ": true, "kid": true, "x5t": true, "x5t#S256": true}

// Errors of external token verification.
var (
	errProviderUnavailable = errors.New("identity provider's keys are unavailable")
	errNoKID               = errors.New("token names no key (kid)")
	errKeyAlg              = errors.New("token algorithm does not fit its key")
	errBodyTooLarge        = errors.New("identity provider answer too large")
)

// OIDCConfig configures an OIDC verifier.
type OIDCConfig struct {
	// Issuer is LINKAPI_OIDC_ISSUER: the iss of accepted tokens, and where the
	// discovery document is (Issuer + "/.well-known/openid-configuration").
	Issuer string
	// Audience is LINKAPI_OIDC_AUDIENCE: accepted tokens must name it in aud.
	Audience string
	// FetchTimeout, MaxBody, Refresh and UnknownKID default to the
	// DefaultOIDC* constants. The key set is fetched anew after its answer's
	// cache lifetime (Cache-Control max-age; no-cache and no-store are 0),
	// at least UnknownKID and at most a day after the last fetch, or after
	// Refresh when the answer gives none.
	FetchTimeout time.Duration
	MaxBody      int64
	Refresh      time.Duration
	UnknownKID   time.Duration
	// Logger, when set, is told of failed fetches.
	Logger *slog.Logger
	// Now returns the current time; tests replace it. Default time.Now.
	Now func() time.Time
}

// ExternalIdentity is what a verified token of the identity provider says.
type ExternalIdentity struct {
	Issuer, Subject string
	// Scopes are the token's scope (or scp) claim; HasScopes says whether it had
	// one at all.
	Scopes    []string
	HasScopes bool
	Email     string
	// EmailVerified is the email_verified claim, true only for a JSON true.
	EmailVerified bool
}

// OIDC verifies the access tokens of one OpenID Connect provider against the
// keys its discovery document names. It is safe for concurrent use. The
// provider being down, slow or answering junk never fails more than the
// provider's own tokens, and none for longer than FetchTimeout.
type OIDC struct {
	cfg    OIDCConfig
	ctx    context.Context // ends the key set's refresh goroutine
	client *http.Client

	mu          sync.Mutex
	kf          keyfunc.Keyfunc // nil until discovery succeeds
	discovering bool
	retry       *rate.Limiter // of discovery
	// unknownKID limits the refetches of unknown kids, across the key sets
	// that the periodic refresh makes.
	unknownKID *rate.Limiter
	// cacheFor is the cache lifetime of the last key set answer, -1 for none.
	cacheFor     atomic.Int64
	discoveryURL string
}

// CheckOIDCURL refuses an issuer or JWKS URL that is not https, or http on a
// loopback host (for a provider on the same machine, and tests). what names the
// URL in the error.
func CheckOIDCURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s: %q is not a URL such as https://idp.example.com/realms/main", what, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%s: %q must be https (http only on a loopback address)", what, raw)
}

// NewOIDC returns a verifier for cfg's issuer. It tries discovery once, within
// FetchTimeout; if that fails (the provider is down at start-up), it logs it
// and tries again on the provider's next token, then at most once per
// UnknownKID. ctx ends the background refresh of the key set.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if err := CheckOIDCURL("LINKAPI_OIDC_ISSUER", cfg.Issuer); err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, errors.New("LINKAPI_OIDC_AUDIENCE is required with LINKAPI_OIDC_ISSUER")
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultOIDCFetchTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultOIDCMaxBody
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultOIDCRefresh
	}
	if cfg.UnknownKID <= 0 {
		cfg.UnknownKID = DefaultOIDCUnknownKID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := &OIDC{cfg: cfg, ctx: ctx,
		retry:        rate.NewLimiter(rate.Every(cfg.UnknownKID), 1),
		unknownKID:   rate.NewLimiter(rate.Every(cfg.UnknownKID), 1),
		discoveryURL: strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"}
	o.cacheFor.Store(-1)
	o.client = newOIDCClient(cfg.FetchTimeout, cfg.MaxBody, o.seen)
	if _, err := o.discover(ctx); err != nil {
		cfg.Logger.Warn("OIDC discovery failed; retrying on the provider's next token", "issuer", cfg.Issuer, "err", err)
	}
	return o, nil
}

// Issuer is the provider's issuer.
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

// newOIDCClient is the HTTP client of discovery and JWKS fetches: each request
// ends within timeout, headers and body included, reads at most maxBody bytes
// of body and follows at most 3 redirects.
//
// It does not go through internal/safehttp: the URLs it fetches are the
// operator's configuration (the issuer, and the jwks_uri the issuer's own
// discovery document names), never a client's, and an organisation's identity
// provider is often on a private network that safehttp would refuse. What
// safehttp guards against, a caller steering the server's requests, cannot
// happen here; what it also gives, bounded time and size, is given here.
func newOIDCClient(timeout time.Duration, maxBody int64, seen func(*http.Response)) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{
		Timeout:   timeout,
		Transport: capBody{next: tr, max: maxBody, seen: seen},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			return CheckOIDCURL("redirect", req.URL.String())
		},
	}
}

// capBody is a RoundTripper whose responses' bodies fail once they pass max
// bytes, so a huge JWKS is refused after max bytes rather than read whole. It
// shows seen, when set, each response's headers.
type capBody struct {
	next http.RoundTripper
	max  int64
	seen func(*http.Response)
}

func (c capBody) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.ContentLength > c.max {
		res.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errBodyTooLarge, res.ContentLength, c.max)
	}
	if c.seen != nil {
		c.seen(res)
	}
	res.Body = &cappedReader{rc: res.Body, left: c.max}
	return res, nil
}

type cappedReader struct {
	rc   io.ReadCloser
	left int64
}

func (r *cappedReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		// One byte more tells a body of exactly max bytes from a longer one.
		var one [1]byte
		if n, _ := r.rc.Read(one[:]); n > 0 {
			return 0, errBodyTooLarge
		}
		return r.rc.Read(p)
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	r.left -= int64(n)
	return n, err
}

func (r *cappedReader) Close() error { return r.rc.Close() }

// discover fetches the discovery document, checks it and makes the key set
// from its jwks_uri. Only one discovery runs at a time; a caller that finds
// one running gets errProviderUnavailable at once.
func (o *OIDC) discover(ctx context.Context) (keyfunc.Keyfunc, error) {
	o.mu.Lock()
	if o.kf != nil || o.discovering {
		kf := o.kf
		o.mu.Unlock()
		if kf == nil {
			return nil, errProviderUnavailable
		}
		return kf, nil
	}
	o.discovering = true
	o.mu.Unlock()
	kf, jwksURI, err := o.discoverOnce(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.discovering = false
	if err != nil {
		return nil, err
	}
	o.kf = kf
	go o.refreshLoop(jwksURI)
	return kf, nil
}

func (o *OIDC) discoverOnce(ctx context.Context) (keyfunc.Keyfunc, string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.FetchTimeout)
	defer cancel()
	where := o.discoveryURL
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/json")
	res, err := o.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("discovery: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("discovery: %s answered %s", where, res.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		return nil, "", fmt.Errorf("discovery: %s: %w", where, err)
	}
	// OpenID Connect Discovery 1.0, 4.3: the issuer must be the one asked.
	if doc.Issuer != o.cfg.Issuer {
		return nil, "", fmt.Errorf("discovery: the document's issuer %q is not LINKAPI_OIDC_ISSUER %q", doc.Issuer, o.cfg.Issuer)
	}
	if err := CheckOIDCURL("jwks_uri", doc.JWKSURI); err != nil {
		return nil, "", fmt.Errorf("discovery: %w", err)
	}
	// The first fetch may fail: the key set is fetched again on an unknown kid
	// and by refreshLoop.
	kf, err := o.keySet(doc.JWKSURI, true)
	return kf, doc.JWKSURI, err
}

// keySet fetches the key set at jwksURI. With lenient, a failed fetch still
// gives a key set, empty until a refetch succeeds; otherwise it is an error.
func (o *OIDC) keySet(jwksURI string, lenient bool) (keyfunc.Keyfunc, error) {
	logger, issuer := o.cfg.Logger, o.cfg.Issuer
	remote, err := jwkset.NewStorageFromHTTP(jwksURI, jwkset.HTTPClientStorageOptions{
		Client:                    o.client,
		Ctx:                       o.ctx,
		HTTPTimeout:               o.cfg.FetchTimeout,
		NoErrorReturnFirstHTTPReq: lenient,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			logger.Warn("fetching the OIDC key set failed", "issuer", issuer, "jwks_uri", jwksURI, "err", err)
		},
	})
	if err != nil {
		return nil, err
	}
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{jwksURI: remote},
		RefreshUnknownKID: o.unknownKID,
		// Bounds both the wait for the rate limiter (a wait that would be
		// longer fails at once) and the refetch itself.
		RateLimitWaitMax: o.cfg.FetchTimeout,
	})
	if err != nil {
		return nil, err
	}
	return keyfunc.New(keyfunc.Options{Ctx: o.ctx, Storage: storage})
}

// seen records the cache lifetime of a key set answer.
func (o *OIDC) seen(res *http.Response) {
	if res.StatusCode == http.StatusOK && res.Request != nil && res.Request.URL.String() != o.discoveryURL {
		o.cacheFor.Store(int64(cacheLifetime(res.Header)))
	}
}

// cacheLifetime reads Cache-Control: 0 for no-store or no-cache, max-age
// otherwise, -1 when it says neither.
func cacheLifetime(h http.Header) time.Duration {
	age := time.Duration(-1)
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return 0
			case strings.HasPrefix(d, "max-age="):
				if n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
					age = time.Duration(min(n, int64(maxOIDCRefresh/time.Second))) * time.Second
				}
			}
		}
	}
	return age
}

// refreshAfter is how long the key set is used before it is fetched anew.
func (o *OIDC) refreshAfter() time.Duration {
	age := time.Duration(o.cacheFor.Load())
	if age < 0 {
		return o.cfg.Refresh
	}
	return min(max(age, o.cfg.UnknownKID), maxOIDCRefresh)
}

// refreshLoop fetches the key set anew whenever its cache lifetime ends,
// until the verifier's context ends. A failed fetch keeps the keys fetched
// before and is tried again after UnknownKID.
func (o *OIDC) refreshLoop(jwksURI string) {
	wait := o.refreshAfter()
	for {
		t := time.NewTimer(wait)
		select {
		case <-o.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		kf, err := o.keySet(jwksURI, false)
		if err != nil {
			o.cfg.Logger.Warn("refreshing the OIDC key set failed; keeping the keys fetched before", "issuer", o.cfg.Issuer, "err", err)
			wait = o.cfg.UnknownKID
			continue
		}
		o.mu.Lock()
		o.kf = kf
		o.mu.Unlock()
		wait = o.refreshAfter()
	}
}

// keys returns the key set, retrying a failed discovery at most once per
// UnknownKID.
func (o *OIDC) keys(ctx context.Context) (keyfunc.Keyfunc, error) {
	o.mu.Lock()
	kf := o.kf
	o.mu.Unlock()
	if kf != nil {
		return kf, nil
	}
	if !o.retry.Allow() {
		return nil, errProviderUnavailable
	}
	kf, err := o.discover(ctx)
	if err != nil {
		o.cfg.Logger.Warn("OIDC discovery failed", "issuer", o.cfg.Issuer, "err", err)
		return nil, errProviderUnavailable
	}
	return kf, nil
}

// Claims reports whether token claims to be the provider's (its unverified iss
// is the issuer), so that it is verified by Verify and not as one of ours.
func (o *OIDC) Claims(token string) bool {
	if o == nil || len(token) > MaxTokenBytes {
		return false
	}
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil {
		return false
	}
	return c.Issuer == o.cfg.Issuer
}

// oidcClaims are the claims read from a provider's token.
type oidcClaims struct {
	jwt.RegisteredClaims
	Scope         *string         `json:"scope"`
	Scp           json.RawMessage `json:"scp"`
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
}

// Verify checks a provider's token: at most MaxTokenBytes; canonical base64url;
// alg RS256, ES256 or EdDSA, and the one its key is for; a kid naming a key of
// the provider's set (an unknown kid refetches the set, at most once per
// UnknownKID); no key-carrying header; iss, aud, exp (required), nbf, iat with
// 30 seconds of leeway; a subject.
func (o *OIDC) Verify(ctx context.Context, token string) (*ExternalIdentity, error) {
	if len(token) > MaxTokenBytes {
		return nil, ErrTokenTooLarge
	}
	claims := &oidcClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		if err := checkHeader(tok.Header, oidcHeaderParams, "JWT", "at+jwt"); err != nil {
			return nil, err
		}
		if kid, ok := tok.Header["kid"].(string); !ok || kid == "" {
			return nil, errNoKID
		}
		kf, err := o.keys(ctx)
		if err != nil {
			return nil, err
		}
		key, err := kf.KeyfuncCtx(ctx)(tok)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUnknownKey, err)
		}
		if err := keyFits(key, tok.Method.Alg()); err != nil {
			return nil, err
		}
		return key, nil
	},
		jwt.WithValidMethods(oidcAlgs),
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(o.cfg.Issuer),
		jwt.WithAudience(o.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(o.cfg.Now),
	)
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" || len(claims.Subject) > 255 {
		return nil, fmt.Errorf("%w: subject", jwt.ErrTokenInvalidSubject)
	}
	id := &ExternalIdentity{Issuer: claims.Issuer, Subject: claims.Subject, Email: claims.Email}
	id.EmailVerified = string(claims.EmailVerified) == "true"
	switch {
	case claims.Scope != nil:
		id.Scopes, id.HasScopes = SplitScopes(*claims.Scope), true
	case len(claims.Scp) > 0:
		var list []string
		var one string
		switch {
		case json.Unmarshal(claims.Scp, &list) == nil:
		case json.Unmarshal(claims.Scp, &one) == nil:
			list = SplitScopes(one)
		default:
			return nil, fmt.Errorf("%w: scp is neither a string nor a list of strings", jwt.ErrTokenMalformed)
		}
		id.Scopes, id.HasScopes = list, true
	}
	return id, nil
}

// keyFits pins the algorithm to the key: RS256 for an RSA key of at least
// 2048 bits, ES256 for a P-256 key, EdDSA for an Ed25519 key. Any other key (a
// symmetric "oct" key above all, which would let an HMAC be checked with a
// key the provider publishes) verifies nothing.
func keyFits(key any, alg string) error {
	var want string
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("%w: RSA key of %d bits", errKeyAlg, k.N.BitLen())
		}
		want = jwt.SigningMethodRS256.Alg()
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("%w: EC key not on P-256", errKeyAlg)
		}
		want = jwt.SigningMethodES256.Alg()
	case ed25519.PublicKey:
		want = jwt.SigningMethodEdDSA.Alg()
	default:
		return fmt.Errorf("%w: a %T key", errKeyAlg, key)
	}
	if alg != want {
		return fmt.Errorf("%w: %s with a key for %s", errKeyAlg, alg, want)
	}
	return nil
}

// externalErrReason is errReason for a provider's token.
func externalErrReason(err error) string {
	switch {
	case errors.Is(err, errProviderUnavailable):
		return "identity provider's keys are unavailable"
	case errors.Is(err, errNoKID), errors.Is(err, errKeyAlg):
		return "invalid token"
	}
	return errReason(err)
}

package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and Audience are the iss and aud claims of every access token.
const (
	Issuer   = "linkapi"
	Audience = "linkapi"
)

// MinSecretLen is the shortest HMAC key NewTokens accepts, in bytes.
const MinSecretLen = 32

// leeway is the clock skew tolerated on exp, nbf and iat (RFC 7519 speaks of "no
// more than a few minutes"; we take 30 seconds).
const leeway = 30 * time.Second

// MaxTokenBytes bounds a bearer token. Parse refuses a longer one before decoding
// any of it, so that a client cannot make the server decode and unmarshal
// megabytes of JSON for a token it could never have been issued: ours are a few
// hundred bytes.
const MaxTokenBytes = 8 << 10

// ErrTokenTooLarge is the error of a token longer than MaxTokenBytes.
var ErrTokenTooLarge = fmt.Errorf("%w: longer than %d bytes", jwt.ErrTokenMalformed, MaxTokenBytes)

// errHeaderParameter is the error of a token whose JOSE header carries a
// parameter other than alg, typ and kid.
var errHeaderParameter = errors.New("token header carries a parameter this service does not accept")

// errUnknownKey is the error of a token whose kid names none of our keys.
var errUnknownKey = errors.New("token names a key this service does not hold")

// headerParams are the JOSE header parameters a token may carry. alg must be
// HS256; typ, when present, JWT; kid, when present, a string naming one of our
// configured keys (see KeyID), and it selects only among them. Anything
// else, above all crit (RFC 7515 4.1.11: a recipient must refuse extensions it
// does not understand) and the key-carrying jku, jwk, x5u, x5c, x5t and x5t#S256,
// is refused (RFC 8725 3.1, 3.10).
var headerParams = map[string]bool{"alg": true, "typ": true, "kid": true}

func init() {
	// Times in tokens carry milliseconds, not whole seconds: Authenticate rejects a
	// token whose iat is before the account's last password change, so a token
	// issued in the same second after a password change must stay valid, and one
	// issued before it must not. jwt.TimePrecision is a package global of jwt/v5.
	jwt.TimePrecision = time.Millisecond
}

// Claims are the claims of an access token: the registered ones plus scope, a
// space-separated list of scope names (RFC 9068).
type Claims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
	// SessionID is the session (sid) a login token belongs to; API tokens and
	// tokens issued outside a session have none.
	SessionID string `json:"sid,omitempty"`
}

// hmacKey is one of our signing keys and its key id.
type hmacKey struct {
	kid    string
	secret []byte
}

// Tokens issues and verifies HS256 access tokens. The current key signs; it and
// the previous keys verify.
type Tokens struct {
	// keys are the current key, then the previous ones.
	keys []hmacKey
	ttl  time.Duration

	// Now returns the current time; tests replace it. It defaults to time.Now.
	Now func() time.Time

	// verified holds the tokens Parse has verified, so that a token presented
	// again skips its signature and JSON (see verifiedTokens).
	verified verifiedTokens
	// validator checks a remembered token's claims against the clock.
	validator     *jwt.Validator
	validatorOnce sync.Once
}

// NewTokens returns a Tokens signing with secret, which must be at least 32 bytes,
// and issuing tokens that live for ttl. Tokens signed with any of previous (each
// at least 32 bytes too: LINKAPI_JWT_PREVIOUS_SECRETS) are still accepted, so
// that the signing key can rotate without ending every session.
func NewTokens(secret []byte, ttl time.Duration, previous ...[]byte) (*Tokens, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("LINKAPI_JWT_SECRET must be at least %d bytes", MinSecretLen)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("LINKAPI_TOKEN_TTL must be positive, not %s", ttl)
	}
	t := &Tokens{ttl: ttl, Now: time.Now}
	for i, k := range append([][]byte{secret}, previous...) {
		if len(k) < MinSecretLen {
			return nil, fmt.Errorf("LINKAPI_JWT_PREVIOUS_SECRETS: key %d is shorter than %d bytes", i, MinSecretLen)
		}
		kid := KeyID(k)
		if slices.ContainsFunc(t.keys, func(h hmacKey) bool { return h.kid == kid }) {
			continue // the same key twice verifies alike
		}
		t.keys = append(t.keys, hmacKey{kid: kid, secret: append([]byte(nil), k...)})
	}
	return t, nil
}

// KeyID returns the kid our tokens signed with secret carry: "hs1-" and the
// first 12 bytes of a domain-separated SHA-256 of the key, base64url. It names
// the key without revealing anything usable about it (the key is at least 256
// bits and a hash of it tells nothing of it), and is stable across restarts
// and instances that share the key.
func KeyID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("linkapi jwt key id\x00"))
	h.Write(secret)
	return "hs1-" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// CurrentKeyID is the kid of the key that signs.
func (t *Tokens) CurrentKeyID() string { return t.keys[0].kid }

// HasKeyID reports whether kid names one of our keys.
func (t *Tokens) HasKeyID(kid string) bool {
	return slices.ContainsFunc(t.keys, func(h hmacKey) bool { return h.kid == kid })
}

func (t *Tokens) now() time.Time {
	if t.Now == nil {
		return time.Now()
	}
	return t.Now()
}

// Issue returns a signed access token for the account with the given scopes, and
// when it expires.
func (t *Tokens) Issue(accountID int64, scopes []string) (token string, expiresAt time.Time, err error) {
	return t.issueAt(accountID, scopes, t.now(), "")
}

// Lifetime is how long a token issued now is accepted: its TTL and the leeway
// on its expiry.
func (t *Tokens) Lifetime() time.Duration { return t.ttl + leeway }

// issueAt is Issue with the issue time given: the time at which the facts the
// token rests on (the password hash it was checked against) were read; and sid
// the session it belongs to, "" for none.
func (t *Tokens) issueAt(accountID int64, scopes []string, now time.Time, sid string) (token string, expiresAt time.Time, err error) {
	if accountID <= 0 {
		return "", time.Time{}, fmt.Errorf("auth: issue token for account id %d", accountID)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: read token id: %w", err)
	}
	exp := jwt.NewNumericDate(now.Add(t.ttl))
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   strconv.FormatInt(accountID, 10),
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: exp,
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
		},
		Scope:     strings.Join(scopes, " "),
		SessionID: sid,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = t.keys[0].kid
	token, err = tok.SignedString(t.keys[0].secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return token, exp.Time, nil
}

// Parse verifies token (at most MaxTokenBytes, canonical base64url, HS256 only,
// no header parameter but alg, typ and kid, signature, issuer, audience, expiry,
// issue time) and returns its claims. The subject must be a positive account id.
// The key is the one the kid names among ours: a kid naming none, or not a
// string, is refused. A token without a kid (issued before tokens carried one)
// is checked against each of our keys.
func (t *Tokens) Parse(token string) (*Claims, error) {
	if len(token) > MaxTokenBytes {
		return nil, ErrTokenTooLarge
	}
	key := sha256.Sum256([]byte(token))
	if c, ok := t.verified.get(key); ok {
		// The claims are checked again against the clock, exactly as parsing
		// checks them; the signature and the rest depend on the token's bytes
		// and on this Tokens' keys alone, which do not change.
		t.validatorOnce.Do(func() { t.validator = jwt.NewValidator(t.parserOptions()...) })
		if err := t.validator.Validate(c); err != nil {
			return nil, fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
		}
		return c.exact(), nil
	}
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		if err := checkHeader(tok.Header, headerParams, "JWT"); err != nil {
			return nil, err
		}
		v, ok := tok.Header["kid"]
		if !ok {
			set := jwt.VerificationKeySet{}
			for _, k := range t.keys {
				set.Keys = append(set.Keys, k.secret)
			}
			return set, nil
		}
		kid, _ := v.(string)
		for _, k := range t.keys {
			if kid != "" && k.kid == kid {
				return k.secret, nil
			}
		}
		return nil, errUnknownKey
	}, t.parserOptions()...)
	if err != nil {
		return nil, err
	}
	if _, err := claims.AccountID(); err != nil {
		return nil, err
	}
	if claims.IssuedAt == nil {
		return nil, fmt.Errorf("%w: iat", jwt.ErrTokenRequiredClaimMissing)
	}
	// The library reads iat as a float64, which can land a hair below the
	// millisecond written and truncate to the one before; read it exactly.
	iat, err := exactIssuedAt(token)
	if err != nil {
		return nil, err
	}
	c := &verifiedClaims{Claims: *claims, issuedAt: &jwt.NumericDate{Time: iat}}
	t.verified.put(key, c, t.now())
	return c.exact(), nil
}

// parserOptions are the checks Parse makes of every token.
func (t *Tokens) parserOptions() []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(t.now),
	}
}

// checkHeader refuses a JOSE header with a parameter not in allowed, or a typ
// that is none of typs (compared case-insensitively, RFC 7515 4.1.9).
func checkHeader(header map[string]any, allowed map[string]bool, typs ...string) error {
	for name, v := range header {
		if !allowed[name] {
			return fmt.Errorf("%w: %q", errHeaderParameter, name)
		}
		if name == "typ" {
			typ, ok := v.(string)
			if !ok || !slices.ContainsFunc(typs, func(t string) bool { return strings.EqualFold(t, typ) }) {
				return fmt.Errorf("%w: typ %v", errHeaderParameter, v)
			}
		}
	}
	return nil
}

// AccountID returns the subject as a positive account id.
func (c *Claims) AccountID() (int64, error) {
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: subject %q is not an account id", jwt.ErrTokenInvalidSubject, c.Subject)
	}
	return id, nil
}

// exactIssuedAt decodes the iat claim of an already verified token as a decimal
// number of seconds and returns it truncated to the millisecond.
func exactIssuedAt(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, jwt.ErrTokenMalformed
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", jwt.ErrTokenMalformed, err)
	}
	var raw struct {
		IssuedAt json.Number `json:"iat"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", jwt.ErrTokenMalformed, err)
	}
	secs, ok := new(big.Rat).SetString(raw.IssuedAt.String())
	if !ok {
		return time.Time{}, fmt.Errorf("%w: iat", jwt.ErrTokenMalformed)
	}
	ms := secs.Mul(secs, big.NewRat(1000, 1))
	q := new(big.Int).Quo(ms.Num(), ms.Denom())
	if !q.IsInt64() {
		return time.Time{}, fmt.Errorf("%w: iat", jwt.ErrTokenMalformed)
	}
	return time.UnixMilli(q.Int64()), nil
}

// errReason returns a short, safe description of a token verification error.
func errReason(err error) string {
	switch {
	case errors.Is(err, ErrTokenTooLarge):
		return "token is too large"
	case errors.Is(err, errHeaderParameter):
		return "invalid token"
	case errors.Is(err, errUnknownKey):
		return "token signing key is unknown"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token is expired"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token signature is invalid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token is not for this service"
	}
	return "invalid token"
}

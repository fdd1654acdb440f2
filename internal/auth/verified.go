package auth

import (
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxVerifiedTokens bounds the tokens a Tokens remembers having verified.
const MaxVerifiedTokens = 4096

// verifiedTokens remembers, by the SHA-256 of a token's bytes, the claims of
// the tokens Parse has verified. What verification finds of a token besides
// its times (the signature under our keys, the header, the encoding, the
// issuer, the audience, the subject) depends on the token's bytes and on the
// keys alone, and a Tokens' keys never change; the times are checked again on
// every use. So a remembered token is accepted exactly when parsing it again
// would accept it. What a token does not say (the account's scopes, its
// password change, its ended sessions) is checked after Parse on every request
// as before. A token that fails is never remembered.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[32]byte]*verifiedClaims
	// hits counts the tokens found here, for tests.
	hits int
}

// verifiedClaims are a token's claims as the JWT library decoded them, which
// the clock is checked against, and its exact issue time.
type verifiedClaims struct {
	Claims
	issuedAt *jwt.NumericDate
}

// exact returns a copy of the claims with the exact issue time.
func (c *verifiedClaims) exact() *Claims {
	out := c.Claims
	out.IssuedAt = c.issuedAt
	return &out
}

func (v *verifiedTokens) get(key [32]byte) (*verifiedClaims, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.m[key]
	if ok {
		v.hits++
	}
	return c, ok
}

// put remembers c; when the cache is full it first forgets the tokens expired
// at now, and then, if none was, one at random.
func (v *verifiedTokens) put(key [32]byte, c *verifiedClaims, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[[32]byte]*verifiedClaims)
	}
	if len(v.m) >= MaxVerifiedTokens {
		for k, e := range v.m {
			if e.ExpiresAt == nil || !now.Before(e.ExpiresAt.Add(leeway)) {
				delete(v.m, k)
			}
		}
		for k := range v.m {
			if len(v.m) < MaxVerifiedTokens {
				break
			}
			delete(v.m, k)
		}
	}
	v.m[key] = c
}

package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"linkapi/internal/linkapi"
)

// APITokenPrefix starts every API token, so that a bearer token tells at a glance
// (and to secret scanners) which kind it is.
const APITokenPrefix = "lka_"

// NewAPITokenSecret returns a new API token and the hash under which it is kept.
func NewAPITokenSecret() (secret, hash string, err error) {
	return newSecret(APITokenPrefix)
}

// newSecret returns prefix and 256 random bits in unpadded base64url, and the
// hash under which it is kept.
func newSecret(prefix string) (secret, hash string, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(raw)
	return secret, HashAPIToken(secret), nil
}

// HashAPIToken returns the SHA-256 of an API token in hex. The secret has 256 bits
// of entropy, so a fast hash is enough: there is nothing to guess.
func HashAPIToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IsAPIToken reports whether a bearer token is an API token rather than a JWT.
func IsAPIToken(token string) bool {
	return strings.HasPrefix(token, APITokenPrefix)
}

// APITokenStore looks API tokens up for authentication, across all accounts.
type APITokenStore interface {
	// FindAPITokenForAuth returns the unexpired token with the given hash, or an
	// error with code NOT_FOUND.
	FindAPITokenForAuth(ctx context.Context, hash string) (*linkapi.APIToken, error)
}

// authenticateAPIToken turns an API token into a caller: its scopes intersected
// with its account's current ones, like a JWT's. A revoked, expired or unknown
// token, or one whose account is gone, is UNAUTHENTICATED.
func (a *Authenticator) authenticateAPIToken(ctx context.Context, secret string) (*Caller, error) {
	if a.APITokens == nil || len(secret) > 256 {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid token")
	}
	tok, err := a.APITokens.FindAPITokenForAuth(ctx, HashAPIToken(secret))
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid token")
	} else if err != nil {
		return nil, err
	}
	acc, err := a.Store.FindAccountForToken(ctx, tok.AccountID)
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid token")
	} else if err != nil {
		return nil, err
	}
	// A password change ends every earlier credential, API tokens included, so
	// that a stolen session cannot outlive it by minting a long-lived token.
	if tok.EndedByPasswordChange(acc.PasswordChangedAt) {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "token was issued before the last password change")
	}
	return &Caller{AccountID: acc.ID, Scopes: Effective(tok.Scopes, acc.Scopes), Account: acc, APITokenID: tok.ID}, nil
}

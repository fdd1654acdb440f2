package auth

import (
	"context"
	"slices"

	"linkapi/internal/linkapi"
)

// Caller is the authenticated principal of a request. Scopes are its effective
// scopes, already expanded. Account, when set, is the account as read when the
// request was authenticated, so that `me` needs no second read. APITokenID is the
// API token the request came with, 0 for a login token or the command line.
// SessionID is the session of the access token (its sid claim), 0 for none.
type Caller struct {
	AccountID  int64
	Scopes     []string
	Account    *linkapi.Account
	APITokenID int64
	SessionID  int64
}

// ByAPIToken reports whether the caller authenticated with an API token.
func (c *Caller) ByAPIToken() bool { return c != nil && c.APITokenID != 0 }

// Has reports whether the caller holds scope, directly or by implication. A nil
// caller holds nothing.
func (c *Caller) Has(scope string) bool {
	if c == nil {
		return false
	}
	return slices.Contains(c.Scopes, scope) || Implies(c.Scopes, scope)
}

// HasAll reports whether the caller holds every one of scopes.
func (c *Caller) HasAll(scopes []string) bool {
	for _, s := range scopes {
		if !c.Has(s) {
			return false
		}
	}
	return true
}

// CanReadAll reports whether the caller may read across accounts (admin:read).
func (c *Caller) CanReadAll() bool { return c.Has(AdminRead) }

// CanWriteAll reports whether the caller may write across accounts and manage
// accounts (admin:write).
func (c *Caller) CanWriteAll() bool { return c.Has(AdminWrite) }

type callerKey struct{}

// NewContext returns a copy of ctx that carries c.
func NewContext(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller carried by ctx, or nil for an anonymous request.
func FromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// System returns a caller with every scope and no account, for the command-line
// tools and the bootstrap of a fresh database.
func System() *Caller {
	return &Caller{AccountID: 0, Scopes: Expand([]string{AdminWrite})}
}

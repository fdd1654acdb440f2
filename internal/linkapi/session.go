package linkapi

import (
	"context"
	"time"
)

// Session is one login of an account, a "signed-in device": the access tokens
// and the chain of refresh tokens issued for it. Scopes are those granted at
// login. It is live until it ends (logout, revocation, a password change, reuse
// of a spent refresh token), reaches ExpiresAt (its absolute lifetime) or goes
// unrefreshed until RefreshExpiresAt (its idle lifetime).
type Session struct {
	ID               int64
	AccountID        int64
	Scopes           []string
	UserAgent        string
	Address          string
	CreatedAt        time.Time
	LastUsedAt       time.Time
	ExpiresAt        time.Time
	RefreshExpiresAt time.Time
	EndedAt          *time.Time
	EndReason        string
}

// Reasons a session ended, as Session.EndReason records them.
const (
	SessionLogout   = "logout"
	SessionRevoked  = "revoked"
	SessionReused   = "reuse"
	SessionPassword = "password"
)

// SessionLimits are the lifetimes of what a session issues: Access, how long an
// access token is accepted (its TTL and the clock leeway); Refresh, how long a
// refresh token lasts unused (LINKAPI_REFRESH_TTL); MaxAge, how long the session
// lasts however often it is refreshed (LINKAPI_SESSION_MAX_AGE).
type SessionLimits struct {
	Access  time.Duration
	Refresh time.Duration
	MaxAge  time.Duration
}

// SessionStart is what a new session begins with. RefreshHash is the hash of its
// first refresh token.
type SessionStart struct {
	AccountID   int64
	Scopes      []string
	UserAgent   string
	Address     string
	RefreshHash string
	Limits      SessionLimits
}

// SessionRefresh spends the refresh token whose hash is Hash and puts the one
// whose hash is NextHash in its place. Account, when not 0, is the account the
// request authenticated as: a refresh token of another account is refused.
// Scopes, when not nil, are those the new access token asks for, each of which
// the session must hold.
type SessionRefresh struct {
	Hash      string
	NextHash  string
	Account   int64
	Scopes    []string
	UserAgent string
	Address   string
	Limits    SessionLimits
}

// Longest user agent and address a session keeps; longer ones are cut.
const (
	MaxSessionUserAgent = 255
	MaxSessionAddress   = 64
)

// SessionService shows and ends the caller's sessions.
type SessionService interface {
	// FindSessions lists the caller's live sessions, most recently used first.
	FindSessions(ctx context.Context) ([]*Session, error)
	// RevokeSession ends a live session of the caller's (any, for an
	// administrator) at once, its access tokens included. NOT_FOUND.
	RevokeSession(ctx context.Context, id int64) error
}

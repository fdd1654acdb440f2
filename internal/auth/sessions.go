package auth

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"linkapi/internal/linkapi"
)

// RefreshTokenPrefix starts every refresh token, so that it tells at a glance
// (and to secret scanners) what it is.
const RefreshTokenPrefix = "lkr_"

// refreshTokenLen is the length of a refresh token: the prefix and 256 random
// bits in unpadded base64url.
var refreshTokenLen = len(RefreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// Default lifetimes of a session: LINKAPI_REFRESH_TTL, LINKAPI_SESSION_MAX_AGE.
const (
	DefaultRefreshTTL    = 720 * time.Hour
	DefaultSessionMaxAge = 2160 * time.Hour
)

// SessionStore keeps sessions and their refresh tokens, which it knows only by
// hash. Each method returns UNAUTHENTICATED for a refresh token it refuses.
type SessionStore interface {
	// StartSession records a new session with its first refresh token.
	StartSession(ctx context.Context, in linkapi.SessionStart) (*linkapi.Session, error)
	// RefreshSession spends a refresh token and records the next one in its
	// place; a reused token ends its session.
	RefreshSession(ctx context.Context, in linkapi.SessionRefresh) (*linkapi.Session, error)
	// EndSessionByRefreshToken ends the session of a refresh token.
	EndSessionByRefreshToken(ctx context.Context, hash string, account int64) (*linkapi.Session, error)
	// EndCallerSession ends the session of the caller's access token.
	EndCallerSession(ctx context.Context) error
}

// newRefreshToken returns a new refresh token and the hash it is kept under.
func newRefreshToken() (secret, hash string, err error) {
	return newSecret(RefreshTokenPrefix)
}

// errBadRefreshToken is the answer to a refresh token that is not one in form.
func errBadRefreshToken() error {
	return linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid refresh token")
}

// refreshTokenHash returns the hash of a refresh token that has the form of
// one, without reading anything; UNAUTHENTICATED otherwise.
func refreshTokenHash(token string) (string, error) {
	if len(token) != refreshTokenLen || !strings.HasPrefix(token, RefreshTokenPrefix) {
		return "", errBadRefreshToken()
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(token[len(RefreshTokenPrefix):]); err != nil {
		return "", errBadRefreshToken()
	}
	return HashAPIToken(token), nil
}

type userAgentKey struct{}

// WithUserAgent returns a copy of ctx that carries the User-Agent of the
// request, which a session records.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

// UserAgent returns the User-Agent carried by ctx, or "".
func UserAgent(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}

// sessionLimits are the lifetimes of what a session issues.
func (a *Authenticator) sessionLimits() linkapi.SessionLimits {
	l := a.SessionLimits
	if l.Refresh <= 0 {
		l.Refresh = DefaultRefreshTTL
	}
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultSessionMaxAge
	}
	l.Access = a.Tokens.Lifetime()
	return l
}

// startSession begins a session for a login that has just succeeded and fills
// in its refresh token; the access token is issued for it.
func (a *Authenticator) startSession(ctx context.Context, acc *linkapi.Account, granted []string, readAt time.Time) (*Issued, error) {
	secret, hash, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	sess, err := a.Sessions.StartSession(ctx, linkapi.SessionStart{
		AccountID: acc.ID, Scopes: granted, UserAgent: UserAgent(ctx), Address: ClientAddr(ctx),
		RefreshHash: hash, Limits: a.sessionLimits(),
	})
	if err != nil {
		return nil, err
	}
	return a.issueFor(acc, sess, granted, secret, readAt)
}

// issueFor issues an access token of sess with the given scopes, beside its
// refresh token.
func (a *Authenticator) issueFor(acc *linkapi.Account, sess *linkapi.Session, scopes []string, refresh string, now time.Time) (*Issued, error) {
	token, exp, err := a.Tokens.issueAt(sess.AccountID, scopes, now, strconv.FormatInt(sess.ID, 10))
	if err != nil {
		return nil, err
	}
	return &Issued{
		AccessToken: token, TokenType: "Bearer", IssuedAt: now, ExpiresAt: exp, Scopes: scopes, Account: acc,
		RefreshToken: refresh, RefreshExpiresAt: sess.RefreshExpiresAt, SessionID: sess.ID,
	}, nil
}

// Refresh spends a refresh token and issues a new access token and a new
// refresh token of the same session. scopes, when not nil, narrows the access
// token to those, each of which the session must have been granted (FORBIDDEN;
// BAD_USER_INPUT for an unknown one). A request that authenticated as an
// account may present only that account's refresh token. UNAUTHENTICATED for a
// malformed, unknown, expired, spent or ended refresh token, or another
// account's; a token spent earlier than store.RefreshRaceWindow ends its
// session (reuse); the loser of concurrent refreshes is refused and the session
// goes on.
func (a *Authenticator) Refresh(ctx context.Context, refreshToken string, scopes []string) (*Issued, error) {
	hash, err := refreshTokenHash(refreshToken)
	if err != nil {
		return nil, err
	}
	if scopes != nil {
		if scopes, err = Normalize(scopes); err != nil {
			return nil, err
		}
	}
	var account int64
	if c := FromContext(ctx); c != nil {
		account = c.AccountID
	}
	secret, next, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	now := a.Tokens.now()
	sess, err := a.Sessions.RefreshSession(ctx, linkapi.SessionRefresh{
		Hash: hash, NextHash: next, Account: account, Scopes: scopes,
		UserAgent: UserAgent(ctx), Address: ClientAddr(ctx), Limits: a.sessionLimits(),
	})
	if err != nil {
		return nil, err
	}
	acc, err := a.Store.FindAccountForToken(ctx, sess.AccountID)
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "session has ended")
	} else if err != nil {
		return nil, err
	}
	if scopes == nil {
		scopes = sess.Scopes
	}
	return a.issueFor(acc, sess, scopes, secret, now)
}

// Logout ends a session at once, its access tokens included: that of
// refreshToken when given (which must be the caller's when there is a caller),
// otherwise the caller's own. UNAUTHENTICATED for a bad refresh token or, without
// one, no caller; BAD_USER_INPUT for a caller without a session (an API token).
func (a *Authenticator) Logout(ctx context.Context, refreshToken *string) error {
	c := FromContext(ctx)
	if refreshToken == nil {
		if c == nil {
			return linkapi.Errorf(linkapi.EUNAUTHENTICATED, "log out with an access token or a refresh token")
		}
		return a.Sessions.EndCallerSession(ctx)
	}
	hash, err := refreshTokenHash(*refreshToken)
	if err != nil {
		return err
	}
	var account int64
	if c != nil {
		account = c.AccountID
	}
	_, err = a.Sessions.EndSessionByRefreshToken(ctx, hash, account)
	return err
}

// sessionOf returns the session id of claims, 0 for none, or UNAUTHENTICATED
// when it has ended.
func sessionOf(claims *Claims, acc *linkapi.Account) (int64, error) {
	if claims.SessionID == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(claims.SessionID, 10, 64)
	if err != nil || id <= 0 {
		return 0, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid token")
	}
	for _, ended := range acc.EndedSessions {
		if ended == id {
			return 0, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "session has ended")
		}
	}
	return id, nil
}

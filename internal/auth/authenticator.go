package auth

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"linkapi/internal/linkapi"
)

// CredentialStore looks accounts up for authentication, across all accounts.
// Both methods return an error with code NOT_FOUND when there is no such account.
type CredentialStore interface {
	// FindCredentialsByEmail returns the account with the lower-cased email and
	// its password hash.
	FindCredentialsByEmail(ctx context.Context, email string) (*linkapi.Account, string, error)
	// FindAccountForToken returns the account a token's subject names.
	FindAccountForToken(ctx context.Context, id int64) (*linkapi.Account, error)
}

// Authenticator logs accounts in and turns bearer tokens into callers.
type Authenticator struct {
	Store  CredentialStore
	Tokens *Tokens
	// Hashing bounds the password checks that run at once; nil means no bound.
	Hashing *Limiter
	// Failures limits failed logins per account and per client address (see
	// WithClientAddr); nil means NewFailureLimiter(DefaultFailureLimits()),
	// made on first use.
	Failures     FailureGuard
	failuresOnce sync.Once
	// APITokens, when set, lets bearer tokens be API tokens as well as JWTs.
	APITokens APITokenStore
	// Sessions, when set, makes each login a session with a refresh token,
	// whose access tokens carry its id (sid).
	Sessions SessionStore
	// SessionLimits are the refresh tokens' idle lifetime and the sessions'
	// absolute one; zero means DefaultRefreshTTL and DefaultSessionMaxAge.
	SessionLimits linkapi.SessionLimits
	// External, when set with ExternalAccounts, accepts the access tokens of an
	// OpenID Connect provider beside ours: a token whose iss is the provider's
	// is verified by External alone, never with our keys, and acts as the
	// local account its (iss, sub) is linked to.
	External         *OIDC
	ExternalAccounts ExternalAccountStore
	// AutoCreate makes an account with AutoCreateScopes for a provider's token
	// whose (iss, sub) is linked to none, when it carries an email and
	// email_verified true and no account has that email.
	AutoCreate       bool
	AutoCreateScopes []string
}

// ExternalAccountStore finds and makes the accounts of external identities.
type ExternalAccountStore interface {
	// FindAccountForExternal returns the account (issuer, subject) is linked
	// to, as FindAccountForToken would; NOT_FOUND when none.
	FindAccountForExternal(ctx context.Context, issuer, subject string) (*linkapi.Account, error)
	// CreateExternalAccount makes an account linked to (issuer, subject);
	// CONFLICT when the email is taken or the identity linked already.
	CreateExternalAccount(ctx context.Context, email string, scopes []string, issuer, subject string) (*linkapi.Account, error)
}

// Limiter lets at most a fixed number of password checks run at once. argon2id
// takes tens of milliseconds of CPU and 19 MiB each, so a flood of logins would
// otherwise starve every other request; a check that cannot start within Wait
// fails with RATE_LIMITED instead of queueing without end.
type Limiter struct {
	slots chan struct{}
	Wait  time.Duration
}

// NewLimiter returns a Limiter of n slots that waits at most wait for one.
func NewLimiter(n int, wait time.Duration) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(n, 1)), Wait: wait}
}

// DefaultHashing leaves half the CPUs to everything else: one slot per two CPUs
// this process may use (runtime.GOMAXPROCS, which follows a container's CPU
// limit), at least one, and a wait of two seconds. The slots are this
// instance's own, whatever other instances share.
func DefaultHashing() *Limiter {
	return NewLimiter(runtime.GOMAXPROCS(0)/2, 2*time.Second)
}

// Do runs fn in a slot, or returns RATE_LIMITED when none frees up in time.
func (l *Limiter) Do(ctx context.Context, fn func()) error {
	if l == nil {
		fn()
		return nil
	}
	timer := time.NewTimer(l.Wait)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
	case <-timer.C:
		err := linkapi.Errorf(linkapi.ERATELIMITED, "too many logins at once; try again in a few seconds")
		err.RetryAfter = max(l.Wait, time.Second)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.slots }()
	fn()
	return nil
}

// Issued is the result of a successful login or refresh. RefreshToken,
// RefreshExpiresAt and SessionID are set when there is a session.
type Issued struct {
	AccessToken      string
	TokenType        string // always "Bearer"
	IssuedAt         time.Time
	ExpiresAt        time.Time
	Scopes           []string
	Account          *linkapi.Account
	RefreshToken     string
	RefreshExpiresAt time.Time
	SessionID        int64
}

// failures returns the FailureLimiter, making the default one on first use.
func (a *Authenticator) failures() FailureGuard {
	a.failuresOnce.Do(func() {
		if a.Failures == nil {
			a.Failures = NewFailureLimiter(DefaultFailureLimits())
		}
	})
	return a.Failures
}

// errTooManyFailures is the answer to a login past the failure limits; wait is
// how long until one more try is allowed.
func errTooManyFailures(wait time.Duration) error {
	secs := int64(math.Ceil(wait.Seconds()))
	err := linkapi.Errorf(linkapi.ERATELIMITED, "too many failed logins; try again in %d seconds", secs)
	err.RetryAfter = time.Duration(secs) * time.Second
	return err
}

// errBadCredentials is returned alike for an unknown email and a wrong password.
func errBadCredentials() error {
	return linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid email or password")
}

// Login checks email and password and issues an access token, and, with
// Sessions set, starts a session with a refresh token. With scopes nil the
// token carries every scope the account holds; otherwise just scopes, each of which
// the account must hold. It returns UNAUTHENTICATED for an unknown email or a wrong
// password (the same error for both), BAD_USER_INPUT for an unknown scope,
// FORBIDDEN for a scope the account does not hold, and RATE_LIMITED, with a
// RetryAfter, when too many logins are being checked at once or too many have
// failed lately for this email or from this client address (ClientAddr(ctx)).
// Only a wrong password counts as a failure.
func (a *Authenticator) Login(ctx context.Context, email, password string, scopes []string) (*Issued, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	// The token's iat is when the password hash was read, not when the token is
	// signed: a change of password that commits while this login waits for a
	// hashing slot must still end the token it is about to get.
	readAt := a.Tokens.now()
	acc, hash, err := a.Store.FindCredentialsByEmail(ctx, email)
	known := err == nil
	if !known && linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
		return nil, err
	}
	err = a.GuardPasswordCheck(ctx, email, func() error {
		if known && CheckPassword(hash, password) {
			return nil
		}
		if !known {
			CheckDummyPassword(password)
		}
		return linkapi.ErrWrongPassword
	})
	if errors.Is(err, linkapi.ErrWrongPassword) {
		return nil, errBadCredentials()
	} else if err != nil {
		return nil, err
	}

	granted := knownScopes(acc.Scopes)
	if scopes != nil {
		want, err := Normalize(scopes)
		if err != nil {
			return nil, err
		}
		for _, s := range want {
			if !Implies(acc.Scopes, s) {
				return nil, linkapi.Errorf(linkapi.EFORBIDDEN, "scope %s is not granted to this account", s)
			}
		}
		granted = want
	}

	if a.Sessions != nil {
		return a.startSession(ctx, acc, granted, readAt)
	}
	token, exp, err := a.Tokens.issueAt(acc.ID, granted, readAt, "")
	if err != nil {
		return nil, err
	}
	return &Issued{
		AccessToken: token,
		TokenType:   "Bearer",
		IssuedAt:    readAt,
		ExpiresAt:   exp,
		Scopes:      granted,
		Account:     acc,
	}, nil
}

// Authenticate verifies a bearer token and returns the caller it stands for, with
// the token's scopes intersected with the account's current ones. It returns
// UNAUTHENTICATED for a bad or expired token, an unknown or deleted account, or a
// token issued before the account's last password change, or a token of a session
// that has ended.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Caller, error) {
	if IsAPIToken(token) {
		return a.authenticateAPIToken(ctx, token)
	}
	if a.External != nil && a.ExternalAccounts != nil && a.External.Claims(token) {
		return a.authenticateExternal(ctx, token)
	}
	claims, err := a.Tokens.Parse(token)
	if err != nil {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "%s", errReason(err))
	}
	id, err := claims.AccountID()
	if err != nil {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid token")
	}
	acc, err := a.Store.FindAccountForToken(ctx, id)
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid token")
	} else if err != nil {
		return nil, err
	}
	if claims.IssuedAt.Time.Before(acc.PasswordChangedAt.Truncate(time.Millisecond)) {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "token was issued before the last password change")
	}
	sid, err := sessionOf(claims, acc)
	if err != nil {
		return nil, err
	}
	return &Caller{
		AccountID: acc.ID,
		Scopes:    Effective(SplitScopes(claims.Scope), acc.Scopes),
		Account:   acc,
		SessionID: sid,
	}, nil
}

// GuardPasswordCheck runs check, which verifies a password of the account with
// the given email (Login's, or changePassword's current one), in a hashing slot,
// counting it against the failure allowances of the email and the client address
// when it returns linkapi.ErrWrongPassword. So neither login nor a stolen token
// can be used to guess a password quickly.
//
// The failure allowance is taken inside the hashing slot, so that only the checks
// actually running hold a share of it: checks queued for a slot do not use up an
// address's allowance, while guesses still cannot run past it.
func (a *Authenticator) GuardPasswordCheck(ctx context.Context, email string, check func() error) error {
	email = strings.ToLower(strings.TrimSpace(email))
	var err error
	var refused bool
	var wait time.Duration
	if herr := a.Hashing.Do(ctx, func() {
		done, w, ok := a.failures().Attempt(ctx, email, ClientAddr(ctx))
		if !ok {
			refused, wait = true, w
			return
		}
		err = check()
		done(errors.Is(err, linkapi.ErrWrongPassword))
	}); herr != nil {
		return herr
	}
	if refused {
		return errTooManyFailures(wait)
	}
	return err
}

// errNotLinked is the answer to a provider's valid token whose identity is
// linked to no account.
func errNotLinked() error {
	return linkapi.Errorf(linkapi.EUNAUTHENTICATED, "no account is linked to this identity; an administrator links it with linkapi account link")
}

// authenticateExternal verifies a token of the identity provider and returns
// the caller of the account its (iss, sub) is linked to, making one first with
// AutoCreate. Scopes: the account's, narrowed to the token's scope (or scp)
// claim when it has one. Every failure, the provider's keys being unavailable
// included, is UNAUTHENTICATED; nothing is written unless an account is made.
func (a *Authenticator) authenticateExternal(ctx context.Context, token string) (*Caller, error) {
	id, err := a.External.Verify(ctx, token)
	if err != nil {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "%s", externalErrReason(err))
	}
	acc, err := a.ExternalAccounts.FindAccountForExternal(ctx, id.Issuer, id.Subject)
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		if !a.AutoCreate || !id.EmailVerified || id.Email == "" {
			return nil, errNotLinked()
		}
		acc, err = a.ExternalAccounts.CreateExternalAccount(ctx, id.Email, a.AutoCreateScopes, id.Issuer, id.Subject)
		switch linkapi.ErrorCode(err) {
		case linkapi.ECONFLICT:
			// The identity was linked by a concurrent first request, or the
			// email is another account's, which is never linked by email alone.
			acc, err = a.ExternalAccounts.FindAccountForExternal(ctx, id.Issuer, id.Subject)
			if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
				return nil, errNotLinked()
			}
		case linkapi.EINVALID:
			return nil, errNotLinked()
		}
	}
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		return nil, errNotLinked()
	}
	if err != nil {
		return nil, err
	}
	scopes := Expand(acc.Scopes)
	if id.HasScopes {
		scopes = Effective(id.Scopes, acc.Scopes)
	}
	return &Caller{AccountID: acc.ID, Scopes: scopes, Account: acc}, nil
}

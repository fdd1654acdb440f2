package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// RefreshRaceWindow is how long after a refresh token is spent a second use of
// it from the client that spent it (the same address and user agent: two tabs of
// one browser, a retry whose first answer was lost) is taken for a concurrent
// refresh rather than for theft: that use is refused and changes nothing. A
// spent token presented later, or by another client at any time, is reuse, and
// ends its session: a thief who refreshed first cannot keep the session by
// leaving its owner to retry within the window. A refresh that loses the race
// on the spending UPDATE itself is refused the same way, whenever it read the
// token.
const RefreshRaceWindow = 10 * time.Second

// sessionRow is the sessions table.
type sessionRow struct {
	ID               int64
	AccountID        int64
	Scopes           string
	UserAgent        string
	Address          string
	CreatedAt        time.Time
	LastUsedAt       time.Time
	ExpiresAt        time.Time
	RefreshExpiresAt time.Time
	AccessExpiresAt  time.Time
	EndedAt          *time.Time
	EndReason        *string
}

func (sessionRow) TableName() string { return "sessions" }

func (r *sessionRow) domain() *linkapi.Session {
	s := &linkapi.Session{
		ID:               r.ID,
		AccountID:        r.AccountID,
		Scopes:           auth.SplitScopes(r.Scopes),
		UserAgent:        r.UserAgent,
		Address:          r.Address,
		CreatedAt:        r.CreatedAt.UTC(),
		LastUsedAt:       r.LastUsedAt.UTC(),
		ExpiresAt:        r.ExpiresAt.UTC(),
		RefreshExpiresAt: r.RefreshExpiresAt.UTC(),
	}
	if s.Scopes == nil {
		s.Scopes = []string{}
	}
	if r.EndedAt != nil {
		ended := r.EndedAt.UTC()
		s.EndedAt = &ended
	}
	if r.EndReason != nil {
		s.EndReason = *r.EndReason
	}
	return s
}

// refreshTokenRow is the refresh_tokens table; TokenHash is unique.
type refreshTokenRow struct {
	ID        int64
	SessionID int64
	AccountID int64
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

func (r *sessionRow) setOwner(account int64)      { r.AccountID = account }
func (r *refreshTokenRow) setOwner(account int64) { r.AccountID = account }

// liveSessions narrows a statement on sessions to the live ones at now.
func liveSessions(tx *gorm.DB, now time.Time) *gorm.DB {
	return tx.Where("sessions.ended_at IS NULL AND sessions.expires_at > ? AND sessions.refresh_expires_at > ?", now, now)
}

// holder returns a tenant of the account a credential presented with the
// request (a password just checked, a refresh token just found) has proved,
// before there is a caller.
func (s *Store) holder(ctx context.Context, account int64) tenant {
	return tenant{db: s.db.WithContext(ctx), account: account}
}

// clip cuts s to at most n characters of valid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// StartSession records a new session of in.AccountID, whose password the caller
// has just checked, with its first refresh token, and drops the account's
// sessions that can matter no more. The account must exist (NOT_FOUND).
func (s *Store) StartSession(ctx context.Context, in linkapi.SessionStart) (*linkapi.Session, error) {
	now := s.now()
	row := sessionRow{
		Scopes:           strings.Join(in.Scopes, " "),
		UserAgent:        clip(in.UserAgent, linkapi.MaxSessionUserAgent),
		Address:          clip(in.Address, linkapi.MaxSessionAddress),
		CreatedAt:        now,
		LastUsedAt:       now,
		ExpiresAt:        now.Add(in.Limits.MaxAge),
		AccessExpiresAt:  now.Add(in.Limits.Access),
		RefreshExpiresAt: minTime(now.Add(in.Limits.Refresh), now.Add(in.Limits.MaxAge)),
	}
	tn := s.holder(ctx, in.AccountID)
	err := s.inTransaction(tn.db, func(tx *gorm.DB) error {
		row.ID = 0 // an attempt before this one may have numbered it
		tn := tenant{db: tx, account: in.AccountID}
		// Sessions that are over and whose access tokens have all expired are
		// kept no longer: nothing can use them or needs to refuse them.
		err := tn.table(&sessionRow{}).
			Where("sessions.access_expires_at <= ? AND (sessions.ended_at IS NOT NULL OR sessions.expires_at <= ? OR sessions.refresh_expires_at <= ?)", now, now, now).
			Delete(&sessionRow{}).Error
		if err != nil {
			return err
		}
		if err := createOne(tn, &row); err != nil {
			return translate(err, "account")
		}
		return addRefreshToken(tn, &row, in.RefreshHash, now)
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// addRefreshToken records the refresh token whose hash is given as the newest
// of the session, lasting as long as the session's idle lifetime.
func addRefreshToken(tn tenant, session *sessionRow, hash string, now time.Time) error {
	return translate(createOne(tn, &refreshTokenRow{
		SessionID: session.ID,
		TokenHash: hash,
		CreatedAt: now,
		ExpiresAt: session.RefreshExpiresAt,
	}), "refresh token")
}

// Errors of RefreshSession and EndSessionByRefreshToken. Each is
// UNAUTHENTICATED: a refresh token is a credential, and a bad one is refused
// like a bad password.
var (
	errRefreshUnknown = linkapi.Errorf(linkapi.EUNAUTHENTICATED, "invalid refresh token")
	errRefreshExpired = linkapi.Errorf(linkapi.EUNAUTHENTICATED, "refresh token is expired")
	errRefreshRace    = linkapi.Errorf(linkapi.EUNAUTHENTICATED, "refresh token was just used by another request; use the tokens that request got")
	errRefreshReused  = linkapi.Errorf(linkapi.EUNAUTHENTICATED, "refresh token was already used; its session has ended")
	errSessionEnded   = linkapi.Errorf(linkapi.EUNAUTHENTICATED, "session has ended")
)

// findRefreshToken returns the refresh token with the given hash, of account
// unless account is 0. errRefreshUnknown for none, or another account's.
func (s *Store) findRefreshToken(ctx context.Context, hash string, account int64) (*refreshTokenRow, error) {
	var row refreshTokenRow
	err := s.unscoped(ctx, "authentication: the refresh token a secret names, before there is a caller").
		Where("token_hash = ?", hash).Take(&row).Error
	if linkapi.ErrorCode(translate(err, "refresh token")) == linkapi.ENOTFOUND {
		return nil, errRefreshUnknown
	} else if err != nil {
		return nil, err
	}
	if account != 0 && row.AccountID != account {
		return nil, errRefreshUnknown
	}
	return &row, nil
}

// RefreshSession spends the refresh token whose hash is in.Hash and issues the
// one whose hash is in.NextHash in its place, in the same session, and returns
// the session. A scope of in.Scopes the session was not granted is FORBIDDEN.
// Every other refusal is UNAUTHENTICATED, and each changes nothing but one: a
// token spent more than RefreshRaceWindow ago is reuse, which ends its session
// (OAuth 2.0 Security BCP, refresh token rotation). Of concurrent refreshes of
// one token exactly one wins, by a conditional UPDATE; the others are refused
// and the session goes on.
func (s *Store) RefreshSession(ctx context.Context, in linkapi.SessionRefresh) (*linkapi.Session, error) {
	now := s.now()
	tok, err := s.findRefreshToken(ctx, in.Hash, in.Account)
	if err != nil {
		return nil, err
	}
	if tok.UsedAt != nil {
		if now.Sub(*tok.UsedAt) < RefreshRaceWindow {
			same, err := s.sameRefreshClient(ctx, tok, in)
			if err != nil {
				return nil, err
			}
			if same {
				return nil, errRefreshRace
			}
		}
		if err := s.endSession(ctx, tok.AccountID, tok.SessionID, linkapi.SessionReused); err != nil && linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			return nil, err
		}
		return nil, errRefreshReused
	}
	if !tok.ExpiresAt.After(now) {
		return nil, errRefreshExpired
	}
	var row sessionRow
	err = s.inTransaction(s.holder(ctx, tok.AccountID).db, func(tx *gorm.DB) error {
		tn := tenant{db: tx, account: tok.AccountID}
		res := tn.table(&refreshTokenRow{}).Where("refresh_tokens.id = ? AND refresh_tokens.used_at IS NULL", tok.ID).
			Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errRefreshRace
		}
		if err := liveSessions(tn.table(&sessionRow{}), now).Where("sessions.id = ?", tok.SessionID).Take(&row).Error; err != nil {
			if linkapi.ErrorCode(translate(err, "session")) == linkapi.ENOTFOUND {
				return errSessionEnded
			}
			return err
		}
		for _, sc := range in.Scopes {
			if !auth.Implies(auth.SplitScopes(row.Scopes), sc) {
				return linkapi.Errorf(linkapi.EFORBIDDEN, "scope %s was not granted to this session", sc)
			}
		}
		row.LastUsedAt = laterOf(row.LastUsedAt, now) // never backwards, whatever this instance's clock says
		row.AccessExpiresAt = now.Add(in.Limits.Access)
		row.RefreshExpiresAt = minTime(now.Add(in.Limits.Refresh), row.ExpiresAt)
		row.UserAgent = clip(in.UserAgent, linkapi.MaxSessionUserAgent)
		row.Address = clip(in.Address, linkapi.MaxSessionAddress)
		err := tn.table(&sessionRow{}).Where("sessions.id = ?", row.ID).Updates(map[string]any{
			"last_used_at":       row.LastUsedAt,
			"access_expires_at":  row.AccessExpiresAt,
			"refresh_expires_at": row.RefreshExpiresAt,
			"user_agent":         row.UserAgent,
			"address":            row.Address,
		}).Error
		if err != nil {
			return err
		}
		return addRefreshToken(tn, &row, in.NextHash, now)
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// sameRefreshClient reports whether in comes from the client that last refreshed
// tok's session: the address and user agent the session keeps are those of its
// latest refresh, the one that spent tok when it was spent last. An ended
// session has no client to match.
func (s *Store) sameRefreshClient(ctx context.Context, tok *refreshTokenRow, in linkapi.SessionRefresh) (bool, error) {
	var row sessionRow
	err := s.holder(ctx, tok.AccountID).table(&sessionRow{}).Where("sessions.id = ?", tok.SessionID).Take(&row).Error
	if err != nil {
		if linkapi.ErrorCode(translate(err, "session")) == linkapi.ENOTFOUND {
			return false, nil
		}
		return false, err
	}
	return row.Address == clip(in.Address, linkapi.MaxSessionAddress) &&
		row.UserAgent == clip(in.UserAgent, linkapi.MaxSessionUserAgent), nil
}

// EndSessionByRefreshToken ends the session of the refresh token whose hash is
// given, spent or not, and returns it: logout with a refresh token. account, when
// not 0, is the account the request authenticated as, which the token must be
// of. UNAUTHENTICATED for an unknown token or another account's; ending a session
// that has already ended is not an error.
func (s *Store) EndSessionByRefreshToken(ctx context.Context, hash string, account int64) (*linkapi.Session, error) {
	tok, err := s.findRefreshToken(ctx, hash, account)
	if err != nil {
		return nil, err
	}
	if err := s.endSession(ctx, tok.AccountID, tok.SessionID, linkapi.SessionLogout); err != nil && linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
		return nil, err
	}
	return &linkapi.Session{ID: tok.SessionID, AccountID: tok.AccountID}, nil
}

// EndCallerSession ends the session the caller's access token belongs to:
// logout. NOT_FOUND when it has already ended; BAD_USER_INPUT when the caller
// has no session (an API token).
func (s *Store) EndCallerSession(ctx context.Context) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if c.SessionID == 0 {
		return linkapi.Errorf(linkapi.EINVALID, "this token has no session; pass the refresh token to end one")
	}
	return s.endSession(ctx, c.AccountID, c.SessionID, linkapi.SessionLogout)
}

// RevokeSession ends a live session: the caller's own, or any for an
// administrator. NOT_FOUND.
func (s *Store) RevokeSession(ctx context.Context, id int64) error {
	var row sessionRow
	tx, _, err := s.owned(ctx, writing, &sessionRow{})
	if err != nil {
		return err
	}
	if err := liveSessions(tx, s.now()).Where("sessions.id = ?", id).Take(&row).Error; err != nil {
		return translate(err, "session")
	}
	return s.endSession(ctx, row.AccountID, row.ID, linkapi.SessionRevoked)
}

// endSession ends a session of account that has not ended yet, and drops the
// account from the cache so that the session's access tokens stop working on
// the next request. NOT_FOUND when there is no such session, or it has ended.
func (s *Store) endSession(ctx context.Context, account, id int64, reason string) error {
	defer s.forgetAccount(ctx, account)
	res := s.holder(ctx, account).table(&sessionRow{}).
		Where("sessions.id = ? AND sessions.ended_at IS NULL", id).
		Updates(map[string]any{"ended_at": s.now(), "end_reason": reason})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return linkapi.Errorf(linkapi.ENOTFOUND, "session not found")
	}
	return nil
}

// endAllSessions ends every session of the account that tn is confined to, on
// a change of password.
func endAllSessions(tn tenant, now time.Time) error {
	return tn.table(&sessionRow{}).Where("sessions.ended_at IS NULL").
		Updates(map[string]any{"ended_at": now, "end_reason": linkapi.SessionPassword}).Error
}

// FindSessions lists the caller's own live sessions, most recently used first.
func (s *Store) FindSessions(ctx context.Context) ([]*linkapi.Session, error) {
	tn, err := s.own(ctx, reading)
	if err != nil {
		return nil, err
	}
	var rows []sessionRow
	err = liveSessions(tn.table(&sessionRow{}), s.now()).
		Order("sessions.last_used_at DESC").Order("sessions.id DESC").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	return domains(rows, (*sessionRow).domain), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// apiTokenRow is the api_tokens table; SecretHash is unique.
type apiTokenRow struct {
	ID         int64
	AccountID  int64
	Name       string
	SecretHash string
	Scopes     string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  time.Time
}

func (apiTokenRow) TableName() string { return "api_tokens" }

func (r *apiTokenRow) domain() *linkapi.APIToken {
	t := &linkapi.APIToken{
		ID:        r.ID,
		AccountID: r.AccountID,
		Name:      r.Name,
		Scopes:    auth.SplitScopes(r.Scopes),
		CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(),
	}
	if t.Scopes == nil {
		t.Scopes = []string{}
	}
	if r.LastUsedAt != nil {
		used := r.LastUsedAt.UTC()
		t.LastUsedAt = &used
	}
	return t
}

// CreateAPIToken makes a token for the caller's own account with at most the
// caller's scopes. A caller that is itself an API token may not make one
// (FORBIDDEN): a token's children would outlive its revocation. BAD_USER_INPUT or
// FORBIDDEN.
func (s *Store) CreateAPIToken(ctx context.Context, in linkapi.APITokenCreate) (*linkapi.APIToken, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if c.ByAPIToken() {
		return nil, "", linkapi.Errorf(linkapi.EFORBIDDEN, "an API token cannot create API tokens; log in to make one")
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > linkapi.MaxAPITokenNameLength || strings.ContainsRune(name, 0) {
		return nil, "", linkapi.Errorf(linkapi.EINVALID, "name must be 1 to %d characters", linkapi.MaxAPITokenNameLength)
	}
	scopes, err := auth.Normalize(in.Scopes)
	if err != nil {
		return nil, "", err
	}
	for _, sc := range scopes {
		if !c.Has(sc) {
			return nil, "", linkapi.Errorf(linkapi.EFORBIDDEN, "scope %s is not yours to give", sc)
		}
	}
	lifetime := linkapi.DefaultAPITokenLifetime
	if in.ExpiresIn != nil {
		lifetime = *in.ExpiresIn
	}
	if lifetime < linkapi.MinAPITokenLifetime || lifetime > linkapi.MaxAPITokenLifetime {
		return nil, "", linkapi.Errorf(linkapi.EINVALID, "expiresIn must be between %d and %d seconds",
			int(linkapi.MinAPITokenLifetime.Seconds()), int(linkapi.MaxAPITokenLifetime.Seconds()))
	}
	if c.AccountID == 0 {
		return nil, "", linkapi.Errorf(linkapi.EINVALID, "API tokens belong to an account")
	}
	secret, hash, err := auth.NewAPITokenSecret()
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	row := apiTokenRow{
		Name:       name,
		SecretHash: hash,
		Scopes:     strings.Join(scopes, " "),
		CreatedAt:  now,
		ExpiresAt:  now.Add(lifetime),
	}
	// The account is locked while its tokens are counted, so that concurrent
	// creations cannot pass the cap together.
	err = s.transact(ctx, writing, c.AccountID, func(tx tenant) error {
		row.ID = 0 // an attempt before this one may have numbered it
		if err := lockRow(tx, &accountRow{}, c.AccountID); err != nil {
			return translate(err, "account")
		}
		var n int64
		if err := tx.table(&apiTokenRow{}).Count(&n).Error; err != nil {
			return err
		}
		if n >= linkapi.MaxAPITokens {
			return linkapi.Errorf(linkapi.EINVALID, "an account has at most %d API tokens; revoke some first", linkapi.MaxAPITokens)
		}
		return translate(createOne(tx, &row), "API token")
	})
	if err != nil {
		return nil, "", err
	}
	return row.domain(), secret, nil
}

// FindAPITokens lists the caller's own tokens, newest first; those that no
// longer work (expired, or ended by a password change) too, until they are
// revoked, so that their owner sees them lapse, each with when and why it ended.
func (s *Store) FindAPITokens(ctx context.Context) ([]*linkapi.APIToken, error) {
	tn, err := s.own(ctx, reading)
	if err != nil {
		return nil, err
	}
	var rows []apiTokenRow
	if err := tn.table(&apiTokenRow{}).Order("api_tokens.id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	tokens := domains(rows, (*apiTokenRow).domain)
	if len(tokens) == 0 {
		return tokens, nil
	}
	var acc accountRow
	if err := tn.table(&accountRow{}).Select("password_changed_at").Take(&acc).Error; err != nil {
		return nil, translate(err, "account")
	}
	now := s.now()
	for _, t := range tokens {
		t.SetEnd(acc.PasswordChangedAt.UTC(), now)
	}
	return tokens, nil
}

// RevokeAPIToken deletes a token at once. NOT_FOUND.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	return s.deleteOwned(ctx, &apiTokenRow{}, id, "API token")
}

// apiTokenTouchEvery is how stale last_used_at may get: recording every use would
// turn every request into a write.
const apiTokenTouchEvery = time.Minute

// FindAPITokenForAuth returns the unexpired token with the given secret hash,
// without a tenant filter, and records its use at most once a minute. NOT_FOUND.
// Recording the use is best-effort: it never moves last_used_at backwards (an
// instance whose clock is behind, or that read the row before another instance
// wrote it, writes nothing), and when it fails the request goes on; the failure
// is logged and counted in linkapi_db_last_used_write_failures_total.
func (s *Store) FindAPITokenForAuth(ctx context.Context, hash string) (*linkapi.APIToken, error) {
	now := s.now()
	var row apiTokenRow
	err := s.unscoped(ctx, "authentication: the token a secret names, before there is a caller").
		Where("secret_hash = ? AND expires_at > ?", hash, now).Take(&row).Error
	if err != nil {
		return nil, translate(err, "API token")
	}
	if row.LastUsedAt == nil || row.LastUsedAt.Before(now.Add(-apiTokenTouchEvery)) {
		tctx, cancel := context.WithTimeout(ctx, lastUsedTimeout)
		res := s.unscoped(tctx, "authentication: records the use of the token just found").
			Model(&apiTokenRow{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", row.ID, now).
			Update("last_used_at", now)
		cancel()
		switch {
		case res.Error != nil:
			s.tx.lastUsedFailures.Add(1)
			s.log.WarnContext(ctx, "could not record the use of an API token; going on", "api_token", row.ID, "err", res.Error)
		case res.RowsAffected == 1:
			row.LastUsedAt = &now
		}
	}
	return row.domain(), nil
}

// lastUsedTimeout bounds the best-effort write of a token's last use, so that a
// slow database delays the request it serves by no more.
const lastUsedTimeout = time.Second

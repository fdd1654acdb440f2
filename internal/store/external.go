package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// externalIdentityRow is the external_identities table: an identity provider's
// account (issuer, subject), unique, linked to a local account.
type externalIdentityRow struct {
	ID        int64
	AccountID int64
	Issuer    string
	Subject   string
	CreatedAt time.Time
}

func (externalIdentityRow) TableName() string         { return "external_identities" }
func (externalIdentityRow) ownerColumn() string       { return "account_id" }
func (r *externalIdentityRow) setOwner(account int64) { r.AccountID = account }
func (r *externalIdentityRow) domain() *linkapi.ExternalIdentity {
	return &linkapi.ExternalIdentity{ID: r.ID, AccountID: r.AccountID, Issuer: r.Issuer, Subject: r.Subject, CreatedAt: r.CreatedAt.UTC()}
}

// checkIdentity refuses an issuer or subject that is empty, longer than 255
// bytes, not UTF-8 or holding a NUL.
func checkIdentity(issuer, subject string) error {
	for _, f := range []struct{ name, v string }{{"issuer", issuer}, {"subject", subject}} {
		if f.v == "" || len(f.v) > 255 || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return linkapi.Errorf(linkapi.EINVALID, "%s must be 1 to 255 bytes of UTF-8", f.name)
		}
	}
	return nil
}

// LinkExternalIdentity links (issuer, subject) to the account. Administrators
// only (FORBIDDEN); NOT_FOUND for no such account; CONFLICT when the identity
// is linked already (to this account or another); BAD_USER_INPUT.
func (s *Store) LinkExternalIdentity(ctx context.Context, accountID int64, issuer, subject string) (*linkapi.ExternalIdentity, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := checkIdentity(issuer, subject); err != nil {
		return nil, err
	}
	id, err := s.targetAccount(ctx, writing, &accountID)
	if err != nil {
		return nil, err
	}
	tn, err := s.as(ctx, writing, id)
	if err != nil {
		return nil, err
	}
	row := &externalIdentityRow{Issuer: issuer, Subject: subject, CreatedAt: s.now()}
	if err := createOne(tn, row); err != nil {
		return nil, translate(err, "link of this identity")
	}
	return row.domain(), nil
}

// UnlinkExternalIdentity removes the link of (issuer, subject): its tokens stop
// working at once. Administrators only (FORBIDDEN); NOT_FOUND.
func (s *Store) UnlinkExternalIdentity(ctx context.Context, issuer, subject string) (*linkapi.ExternalIdentity, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	tx, _, err := s.owned(ctx, writing, &externalIdentityRow{})
	if err != nil {
		return nil, err
	}
	var row externalIdentityRow
	if err := tx.Where("issuer = ? AND subject = ?", issuer, subject).Take(&row).Error; err != nil {
		return nil, translate(err, "link of this identity")
	}
	tx, _, err = s.owned(ctx, writing, &externalIdentityRow{})
	if err != nil {
		return nil, err
	}
	if err := tx.Where("id = ?", row.ID).Delete(&externalIdentityRow{}).Error; err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// FindExternalIdentities lists the identities linked to an account, oldest
// first, through the tenant filter.
func (s *Store) FindExternalIdentities(ctx context.Context, accountID int64) ([]*linkapi.ExternalIdentity, error) {
	id, err := s.targetAccount(ctx, reading, &accountID)
	if err != nil {
		return nil, err
	}
	tn, err := s.as(ctx, reading, id)
	if err != nil {
		return nil, err
	}
	var rows []externalIdentityRow
	if err := tn.table(&externalIdentityRow{}).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]*linkapi.ExternalIdentity, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// FindAccountForExternal returns the account (issuer, subject) is linked to,
// as FindAccountForToken would, without a tenant filter. NOT_FOUND when the
// identity is linked to none.
func (s *Store) FindAccountForExternal(ctx context.Context, issuer, subject string) (*linkapi.Account, error) {
	var row externalIdentityRow
	err := s.unscoped(ctx, "authentication: the account a verified token of the identity provider is linked to, which becomes the caller").
		Select("account_id").Where("issuer = ? AND subject = ?", issuer, subject).Take(&row).Error
	if err != nil {
		return nil, translate(err, "linked account")
	}
	return s.FindAccountForToken(ctx, row.AccountID)
}

// CreateExternalAccount makes an account for email with scopes, linked to
// (issuer, subject), in one transaction: the account an identity provider's
// first token makes with LINKAPI_OIDC_AUTO_CREATE. The account has a random
// password nobody knows (its owner signs in through the provider, or an
// administrator sets one). CONFLICT when the email is taken or the identity
// linked already: an existing account is never linked by its email alone.
func (s *Store) CreateExternalAccount(ctx context.Context, email string, scopes []string, issuer, subject string) (*linkapi.Account, error) {
	if err := checkIdentity(issuer, subject); err != nil {
		return nil, err
	}
	email, err := linkapi.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if scopes, err = auth.Normalize(scopes); err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(base64.RawURLEncoding.EncodeToString(raw))
	if err != nil {
		return nil, err
	}
	now := s.now()
	acc := accountRow{Email: email, PasswordHash: hash, Scopes: strings.Join(scopes, " "),
		PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
	err = s.unscoped(ctx, "authentication: a verified token of the identity provider makes its account, which no account owns before it exists").
		Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&acc).Error; err != nil {
				return translate(err, "account with this email")
			}
			return translate(tx.Create(&externalIdentityRow{AccountID: acc.ID, Issuer: issuer, Subject: subject, CreatedAt: now}).Error,
				"link of this identity")
		})
	if err != nil {
		return nil, err
	}
	return acc.domain(), nil
}

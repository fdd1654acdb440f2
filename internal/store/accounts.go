package store

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// FindAccountByID returns the account: any for an administrator, otherwise only the
// caller's own. NOT_FOUND.
func (s *Store) FindAccountByID(ctx context.Context, id int64) (*linkapi.Account, error) {
	row, err := s.findAccount(ctx, reading, id)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (s *Store) findAccount(ctx context.Context, a access, id int64) (*accountRow, error) {
	tx, _, err := s.owned(ctx, a, &accountRow{})
	if err != nil {
		return nil, err
	}
	var row accountRow
	if err := tx.Where("accounts.id = ?", id).Take(&row).Error; err != nil {
		return nil, translate(err, "account")
	}
	return &row, nil
}

// FindAccountsByIDs returns the accounts among ids that the caller may see, keyed by
// id; the others are simply absent.
func (s *Store) FindAccountsByIDs(ctx context.Context, ids []int64) (map[int64]*linkapi.Account, error) {
	tn, _, err := s.tenantOf(ctx, reading)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, inList(tn.selectFrom(&accountRow{}, s.reads.accountColumns, ""), "accounts.id", ids))
	if err != nil {
		return nil, err
	}
	accounts, err := scanAccounts(rows)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*linkapi.Account, len(accounts))
	for _, a := range accounts {
		out[a.ID] = a
	}
	return out, nil
}

// FindAccounts returns a page of the accounts the caller may see, newest first.
func (s *Store) FindAccounts(ctx context.Context, filter linkapi.AccountFilter) (*linkapi.AccountList, error) {
	tx, _, err := s.owned(ctx, reading, &accountRow{})
	if err != nil {
		return nil, err
	}
	var rows []accountRow
	if err := paged(tx, "accounts.id", filter.Page).Find(&rows).Error; err != nil {
		return nil, err
	}
	rows, more := trimPage(rows, filter.First)
	return &linkapi.AccountList{Accounts: domains(rows, (*accountRow).domain), HasNextPage: more}, nil
}

// CountAccounts counts the accounts FindAccounts would list, across every page.
func (s *Store) CountAccounts(ctx context.Context, filter linkapi.AccountFilter) (int, error) {
	tx, _, err := s.owned(ctx, reading, &accountRow{})
	if err != nil {
		return 0, err
	}
	var n int64
	err = tx.Count(&n).Error
	return int(n), err
}

// requireAdmin returns FORBIDDEN unless the caller may manage every account. The
// schema already asks for admin:write; this keeps the store safe on its own.
func requireAdmin(ctx context.Context) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !c.CanWriteAll() {
		return linkapi.Errorf(linkapi.EFORBIDDEN, "admin:write is required")
	}
	return nil
}

// CreateAccount creates an account; nil scopes mean the default ones. Administrators
// only (FORBIDDEN); BAD_USER_INPUT for a bad email, password or scope; CONFLICT when
// the email is taken, compared case-insensitively.
func (s *Store) CreateAccount(ctx context.Context, in linkapi.AccountCreate) (*linkapi.Account, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	email, err := linkapi.NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := auth.ValidatePassword(in.Password); err != nil {
		return nil, err
	}
	scopes := auth.DefaultScopes
	if in.Scopes != nil {
		if scopes, err = auth.Normalize(in.Scopes); err != nil {
			return nil, err
		}
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	row := accountRow{
		Email:             email,
		PasswordHash:      hash,
		Scopes:            strings.Join(scopes, " "),
		PasswordChangedAt: now,
		CreatedAt:         now,
		UpdatedAt:         now,
	}
	// requireAdmin has let only an administrator here; a new account has no
	// owner to confine the insert to.
	err = s.unscoped(ctx, "an administrator creates an account, which no account owns before it exists").Create(&row).Error
	if err != nil {
		return nil, translate(err, "account with this email")
	}
	return row.domain(), nil
}

// SetAccountScopes replaces an account's scopes. Administrators only (FORBIDDEN);
// NOT_FOUND; BAD_USER_INPUT for an unknown scope.
func (s *Store) SetAccountScopes(ctx context.Context, id int64, scopes []string) (*linkapi.Account, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	scopes, err := auth.Normalize(scopes)
	if err != nil {
		return nil, err
	}
	row, err := s.findAccount(ctx, writing, id)
	if err != nil {
		return nil, err
	}
	tn, err := s.as(ctx, writing, row.ID)
	if err != nil {
		return nil, err
	}
	row.Scopes = strings.Join(scopes, " ")
	row.UpdatedAt = s.now()
	defer s.forgetAccount(ctx, id)
	if err := tn.table(row).Select("scopes", "updated_at").Updates(row).Error; err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// DeleteAccount deletes an account with its links and tags: the caller's own, or
// any for an administrator. NOT_FOUND.
func (s *Store) DeleteAccount(ctx context.Context, id int64) error {
	defer s.forgetAccount(ctx, id)
	return s.deleteOwned(ctx, &accountRow{}, id, "account")
}

// SetPassword replaces an account's password without the current one, for an
// operator: administrators only (FORBIDDEN). Like a password change it ends the
// account's tokens issued before it, and every session. BAD_USER_INPUT for a password that fails
// validation, NOT_FOUND.
func (s *Store) SetPassword(ctx context.Context, id int64, next string) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	if err := auth.ValidatePassword(next); err != nil {
		return err
	}
	hash, err := auth.HashPassword(next)
	if err != nil {
		return err
	}
	tn, err := s.as(ctx, writing, id)
	if err != nil {
		return err
	}
	now := s.now()
	defer s.forgetAccount(ctx, id)
	return s.inTransaction(tn.db, func(tx *gorm.DB) error {
		tn := tenant{db: tx, account: id}
		res := tn.table(&accountRow{}).Updates(map[string]any{
			"password_hash":       hash,
			"password_changed_at": now,
			"updated_at":          now,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
		}
		return endAllSessions(tn, now)
	})
}

// ChangePassword changes the caller's own password and records when, so that
// tokens issued before stop working and every session ends. BAD_USER_INPUT when current is wrong or next
// is unacceptable.
func (s *Store) ChangePassword(ctx context.Context, current, next string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	tn, err := s.as(ctx, writing, c.AccountID)
	if err != nil {
		return err
	}
	var row accountRow
	if err := tn.table(&accountRow{}).Take(&row).Error; err != nil {
		return translate(err, "account")
	}
	if !auth.CheckPassword(row.PasswordHash, current) {
		return linkapi.ErrWrongPassword
	}
	if err := auth.ValidatePassword(next); err != nil {
		return err
	}
	hash, err := auth.HashPassword(next)
	if err != nil {
		return err
	}
	now := s.now()
	defer s.forgetAccount(ctx, row.ID)
	return s.inTransaction(tn.db, func(tx *gorm.DB) error {
		tn := tenant{db: tx, account: row.ID}
		err := tn.table(&row).Updates(map[string]any{
			"password_hash":       hash,
			"password_changed_at": now,
			"updated_at":          now,
		}).Error
		if err != nil {
			return err
		}
		return endAllSessions(tn, now)
	})
}

// FindAccountByEmail returns the account with the email, read through the tenant
// filter (so the caller's own, or any for an administrator) and without its
// password hash: for the command line, which names accounts by email. NOT_FOUND.
func (s *Store) FindAccountByEmail(ctx context.Context, email string) (*linkapi.Account, error) {
	tx, _, err := s.owned(ctx, reading, &accountRow{})
	if err != nil {
		return nil, err
	}
	var row accountRow
	err = tx.Omit("password_hash").Where("accounts.email = ?", strings.ToLower(strings.TrimSpace(email))).Take(&row).Error
	if err != nil {
		return nil, translate(err, "account")
	}
	return row.domain(), nil
}

// FindCredentialsByEmail returns an account and its password hash for login,
// without a tenant filter. NOT_FOUND.
func (s *Store) FindCredentialsByEmail(ctx context.Context, email string) (*linkapi.Account, string, error) {
	var row accountRow
	err := s.unscoped(ctx, "authentication: the account an email names, before the password is checked").
		Where("email = ?", strings.ToLower(strings.TrimSpace(email))).Take(&row).Error
	if err != nil {
		return nil, "", translate(err, "account")
	}
	return row.domain(), row.PasswordHash, nil
}

// FindAccountForToken returns the account a token names, without a tenant filter,
// with its EndedSessions. NOT_FOUND.
func (s *Store) FindAccountForToken(ctx context.Context, id int64) (*linkapi.Account, error) {
	now := s.now()
	if s.events == nil || s.events.Listening() {
		if a := s.accounts.get(id, now); a != nil {
			return a, nil
		}
	}
	gen := s.accounts.generation()
	// One statement reads the account and, joined to it, its ended sessions
	// whose access tokens may still be live: a row for each, or one row with no
	// session when there is none.
	var rows []struct {
		Account      accountRow `gorm:"embedded"`
		EndedSession *int64
	}
	err := s.unscoped(ctx, "authentication: the account a verified token names, which becomes the caller, and its ended sessions").
		Table("accounts").Select("accounts.*, sessions.id AS ended_session").
		Joins("LEFT JOIN sessions ON sessions.account_id = accounts.id AND sessions.access_expires_at > ? "+
			"AND (sessions.ended_at IS NOT NULL OR sessions.expires_at <= ?)", now, now).
		Where("accounts.id = ?", id).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
	}
	a := rows[0].Account.domain()
	for _, r := range rows {
		if r.EndedSession != nil {
			a.EndedSessions = append(a.EndedSessions, *r.EndedSession)
		}
	}
	s.accounts.put(a, now, gen)
	return a, nil
}

// CountAllAccounts counts every account, without a tenant filter; serve uses it to
// tell a fresh database.
func (s *Store) CountAllAccounts(ctx context.Context) (int64, error) {
	var n int64
	err := s.unscoped(ctx, "start-up: serve counts every account to tell a fresh database, before any caller").
		Model(&accountRow{}).Count(&n).Error
	return n, err
}

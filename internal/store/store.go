// Package store keeps accounts, links and tags in SQLite or MySQL through gorm. It is
// the one place that confines reads and writes to the caller's account: every
// statement on an owned table goes through a tenant (Store.owned, Store.as,
// Store.transact), which applies the tenant filter, lifted only when the caller
// holds admin:read (reads) or admin:write (writes), and stamps the account on the
// rows it inserts; the few that must cross accounts go through Store.unscoped,
// which names its reason. A guard fails every other statement on an owned table.
// To add an owned table, see tenant.go.
package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// Store implements the domain services on a gorm database.
type Store struct {
	db       *gorm.DB
	now      func() time.Time
	accounts accountCache
	events   AccountEvents
	quota    linkapi.Quota
	tx       *txStats
	log      *slog.Logger
	reads    *reads
}

// Option configures a Store.
type Option func(*Store)

// WithQuota bounds what each account may store; without it, linkapi.DefaultQuota.
func WithQuota(q linkapi.Quota) Option {
	return func(s *Store) { s.quota = q }
}

// WithAccountEvents makes the store tell e of every change to an account that
// must reach the account caches of other instances, and reuse cached accounts
// only while e hears of theirs.
func WithAccountEvents(e AccountEvents) Option {
	return func(s *Store) { s.events = e }
}

// WithLogger makes the store log what it lets pass (a failed best-effort write)
// to l; without it, slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.log = l }
}

// WithClock makes the store read the time from now, for the times it writes and
// the lifetime of its account cache; without it, the database's NowFunc.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns a Store on db, which must already be migrated. It reuses the
// account read for a token for AccountCacheTTL.
func New(db *DB, opts ...Option) *Store {
	return NewWithAccountCache(db, AccountCacheTTL, opts...)
}

// NewWithAccountCache is New with another reuse time; 0 reads the account on
// every request.
func NewWithAccountCache(db *DB, ttl time.Duration, opts ...Option) *Store {
	s := &Store{db: storeHandle(db.orm), now: db.orm.Config.NowFunc, accounts: accountCache{ttl: ttl}, quota: linkapi.DefaultQuota, tx: db.tx, log: slog.Default(), reads: db.reads}
	for _, o := range opts {
		o(s)
	}
	return s
}

var (
	_ linkapi.LinkService    = (*Store)(nil)
	_ linkapi.TagService     = (*Store)(nil)
	_ linkapi.AccountService = (*Store)(nil)
	_ auth.CredentialStore   = (*Store)(nil)
	_ auth.SessionStore      = (*Store)(nil)
	_ linkapi.SessionService = (*Store)(nil)
)

// access says whether a query reads or writes, which decides the admin scope that
// lifts the tenant filter.
type access int

const (
	reading access = iota
	writing
)

// caller returns the authenticated caller, or UNAUTHENTICATED for an anonymous one.
func caller(ctx context.Context) (*auth.Caller, error) {
	c := auth.FromContext(ctx)
	if c == nil {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "authentication required")
	}
	return c, nil
}

// crossesAccounts reports whether the caller may act on every account.
func crossesAccounts(c *auth.Caller, a access) bool {
	if a == writing {
		return c.CanWriteAll()
	}
	return c.CanReadAll()
}

// deleteOwned deletes the row of model's table with the given id if the caller may
// write it; NOT_FOUND otherwise, whether it is missing or another account's.
func (s *Store) deleteOwned(ctx context.Context, model table, id int64, what string) error {
	tx, _, err := s.owned(ctx, writing, model)
	if err != nil {
		return err
	}
	res := tx.Where(model.TableName()+".id = ?", id).Delete(model)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return linkapi.Errorf(linkapi.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// targetAccount resolves the account a list or a create names: the caller's own when
// requested is nil. Naming another account needs admin scope (FORBIDDEN otherwise),
// and an administrator's named account must exist (NOT_FOUND).
func (s *Store) targetAccount(ctx context.Context, a access, requested *int64) (int64, error) {
	c, err := caller(ctx)
	if err != nil {
		return 0, err
	}
	if requested == nil {
		if c.AccountID == 0 {
			return 0, linkapi.Errorf(linkapi.EINVALID, "accountId is required")
		}
		return c.AccountID, nil
	}
	if *requested == c.AccountID {
		return c.AccountID, nil
	}
	if !crossesAccounts(c, a) {
		return 0, linkapi.Errorf(linkapi.EFORBIDDEN, "accountId names another account")
	}
	var n int64
	err = s.unscoped(ctx, "an administrator names an account: whether it exists, whoever owns it").
		Model(&accountRow{}).Where("id = ?", *requested).Count(&n).Error
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
	}
	return *requested, nil
}

// listTenant is the tenant of a list: the named account, after checking that
// the caller may name it, or, when none is named, the caller's own (every
// account for an administrator).
func (s *Store) listTenant(ctx context.Context, accountID *int64) (tenant, error) {
	if accountID == nil {
		tn, _, err := s.tenantOf(ctx, reading)
		return tn, err
	}
	id, err := s.targetAccount(ctx, reading, accountID)
	if err != nil {
		return tenant{}, err
	}
	return s.as(ctx, reading, id)
}

// paged applies a newest-first window: ids below p.After, one more row than asked
// so that the caller can tell whether a next page exists.
func paged(tx *gorm.DB, column string, p linkapi.Page) *gorm.DB {
	if p.After > 0 {
		tx = tx.Where(column+" < ?", p.After)
	}
	return tx.Order(column + " DESC").Limit(p.First + 1)
}

// trimPage cuts the extra row that paged asked for.
func trimPage[T any](rows []T, first int) ([]T, bool) {
	if len(rows) > first {
		return rows[:first], true
	}
	return rows, false
}

// translate maps database errors to domain errors by identity, never by message.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return linkapi.Errorf(linkapi.ENOTFOUND, "%s not found", what)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return linkapi.Errorf(linkapi.ECONFLICT, "%s already exists", what)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return linkapi.Errorf(linkapi.ENOTFOUND, "%s refers to something that does not exist", what)
	}
	return err
}

// likePattern escapes s for a LIKE ... ESCAPE '!' substring match.
func likePattern(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return "%" + r.Replace(s) + "%"
}

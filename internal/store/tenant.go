package store

// How the tenant filter is kept, and how to add an owned table
//
// Every table the store keeps is owned: each of its rows belongs to one account
// (ownedTables lists them). A statement reaches an owned table in one of two ways
// only:
//
//   - through a tenant, which confines statements to one account: Store.owned
//     starts a query confined to the caller's account (or, for an administrator,
//     deliberately lifted), Store.as gives a handle on an account the caller may
//     act on, and Store.transact a transaction on it. tenant.table adds the filter
//     on the table's owner column; tenant.create stamps the account on the rows it
//     inserts;
//   - through Store.unscoped(ctx, reason), for the few statements that must cross
//     accounts (authentication, an administrator's existence check, counting at
//     start-up). `grep -n unscoped internal/store` lists every one with its reason.
//
// The guard, a gorm callback Open registers on every statement, fails with an
// internal error any statement the store makes on an owned table that came
// through neither (a bare s.db, a subquery built on s.db, raw SQL naming one).
//
// To add an owned table: write its migration with an account_id column (or
// cascade from one), give its row type TableName and ownerColumn methods (and
// setOwner, if tenant.create inserts it) so that it implements table, add it to
// ownedTables, and reach it only through a tenant or, with a reason, unscoped.
// The guard catches what is missed; TestGuard shows what it catches.

import (
	"context"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// table is the row type of an owned table: it names the table and the column
// that holds the owning account's id.
type table interface {
	TableName() string
	ownerColumn() string
}

// ownedRow is the row type of a table whose rows tenant.create inserts.
type ownedRow interface {
	table
	setOwner(account int64)
}

func (accountRow) ownerColumn() string  { return "id" }
func (linkRow) ownerColumn() string     { return "account_id" }
func (tagRow) ownerColumn() string      { return "account_id" }
func (linkTagRow) ownerColumn() string  { return "account_id" }
func (apiTokenRow) ownerColumn() string { return "account_id" }
func (sessionRow) ownerColumn() string  { return "account_id" }
func (refreshTokenRow) ownerColumn() string {
	return "account_id"
}

func (r *linkRow) setOwner(account int64)     { r.AccountID = account }
func (r *tagRow) setOwner(account int64)      { r.AccountID = account }
func (r *linkTagRow) setOwner(account int64)  { r.AccountID = account }
func (r *apiTokenRow) setOwner(account int64) { r.AccountID = account }

// ownedTables are the tables the guard watches: every table of the schema but
// goose's own.
var ownedTables = map[string]bool{
	accountRow{}.TableName():          true,
	linkRow{}.TableName():             true,
	tagRow{}.TableName():              true,
	linkTagRow{}.TableName():          true,
	apiTokenRow{}.TableName():         true,
	changeRow{}.TableName():           true,
	sessionRow{}.TableName():          true,
	refreshTokenRow{}.TableName():     true,
	webhookRow{}.TableName():          true,
	deliveryRow{}.TableName():         true,
	externalIdentityRow{}.TableName(): true,
}

// tenant is a handle on the database, or on a transaction, confined to one
// account, or, with every, to none: an administrator's read or write across
// accounts.
type tenant struct {
	db      *gorm.DB
	account int64
	every   bool
}

// filter is the tenant filter on t's table: the condition on its owner column,
// whose one argument is the tenant's account, and false for a tenant across
// every account, which has none. It is the one place the filter is written:
// table applies it to gorm's statements, selectFrom to the hand-written ones.
func (tn tenant) filter(t table) (string, bool) {
	if tn.every {
		return "", false
	}
	return t.TableName() + "." + t.ownerColumn() + " = ?", true
}

// table starts a statement on t's table through the tenant filter.
func (tn tenant) table(t table) *gorm.DB {
	tx := tn.db.Set(scopedKey, "owned").Model(t)
	if cond, ok := tn.filter(t); ok {
		return tx.Where(cond, tn.account)
	}
	return tx
}

// from starts a statement on sub, a query of the tenant's (made with table), as
// a derived table called name; the tenant filter is sub's.
func (tn tenant) from(sub *gorm.DB, name string) *gorm.DB {
	return tn.db.Set(scopedKey, "owned").Table("(?) AS "+name, sub)
}

// create inserts rows, stamped with the tenant's account, batch rows at a time.
// A tenant across every account stamps none and may not insert.
func create[R any, P interface {
	*R
	ownedRow
}](tn tenant, rows []R, batch int, onConflict ...clause.Expression) error {
	if tn.every {
		return linkapi.Errorf(linkapi.EINTERNAL, "store: insert through a tenant of no one account")
	}
	if len(rows) == 0 {
		return nil
	}
	for i := range rows {
		P(&rows[i]).setOwner(tn.account)
	}
	return tn.db.Set(scopedKey, "owned").Clauses(onConflict...).CreateInBatches(&rows, batch).Error
}

// createOne inserts one row stamped with the tenant's account.
func createOne[R any, P interface {
	*R
	ownedRow
}](tn tenant, row P, onConflict ...clause.Expression) error {
	_, err := insertOne(tn, row, onConflict...)
	return err
}

// insertOne is createOne that also says how many rows it inserted, 0 when
// onConflict let a conflicting row be.
func insertOne[R any, P interface {
	*R
	ownedRow
}](tn tenant, row P, onConflict ...clause.Expression) (int64, error) {
	if tn.every {
		return 0, linkapi.Errorf(linkapi.EINTERNAL, "store: insert through a tenant of no one account")
	}
	row.setOwner(tn.account)
	res := tn.db.Set(scopedKey, "owned").Clauses(onConflict...).Create(row)
	return res.RowsAffected, res.Error
}

// tenantOf returns the caller's tenant: its own account, or, when its scopes let
// it act on every account, none.
func (s *Store) tenantOf(ctx context.Context, a access) (tenant, *auth.Caller, error) {
	c, err := caller(ctx)
	if err != nil {
		return tenant{}, nil, err
	}
	return tenant{db: s.db.WithContext(ctx), account: c.AccountID, every: crossesAccounts(c, a)}, c, nil
}

// as returns a tenant confined to account, which the caller must own or, by its
// scopes, may act on (FORBIDDEN otherwise). The caller names account through
// targetAccount, which also checks it exists, or through a row read with owned.
func (s *Store) as(ctx context.Context, a access, account int64) (tenant, error) {
	c, err := caller(ctx)
	if err != nil {
		return tenant{}, err
	}
	if account != c.AccountID && !crossesAccounts(c, a) {
		return tenant{}, linkapi.Errorf(linkapi.EFORBIDDEN, "accountId names another account")
	}
	return tenant{db: s.db.WithContext(ctx), account: account}, nil
}

// own returns a tenant confined to the caller's own account, administrator or
// not: for what is the caller's alone, such as its tokens and sessions.
func (s *Store) own(ctx context.Context, a access) (tenant, error) {
	c, err := caller(ctx)
	if err != nil {
		return tenant{}, err
	}
	return s.as(ctx, a, c.AccountID)
}

// transact runs fn in a transaction confined to account, as as would, again
// from the start when the database refuses it for a deadlock or a certification
// failure (see inTransaction): fn sets afresh whatever it changes outside.
func (s *Store) transact(ctx context.Context, a access, account int64, fn func(tenant) error) error {
	tn, err := s.as(ctx, a, account)
	if err != nil {
		return err
	}
	return s.inTransaction(tn.db, func(tx *gorm.DB) error {
		return fn(tenant{db: tx, account: account})
	})
}

// owned starts a query on t's table confined to the caller's account: by
// account_id for links, tags, their pairs and tokens, by id for accounts.
// Administrators see every row.
func (s *Store) owned(ctx context.Context, a access, t table) (*gorm.DB, *auth.Caller, error) {
	tn, c, err := s.tenantOf(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	return tn.table(t), c, nil
}

// unscoped starts a statement that crosses accounts, the one way past the tenant
// filter; reason says why it must.
func (s *Store) unscoped(ctx context.Context, reason string) *gorm.DB {
	return s.db.WithContext(ctx).Set(scopedKey, "unscoped: "+reason)
}

// Settings keys: storeKey marks the statements of a Store's handle, scopedKey
// those made through a tenant or unscoped.
const (
	storeKey  = "linkapi:store"
	scopedKey = "linkapi:scoped"
)

// storeHandle returns db marked as the store's own, so that the guard checks it.
func storeHandle(db *gorm.DB) *gorm.DB {
	return db.Set(storeKey, true).Session(&gorm.Session{})
}

// errBareStatement is what the guard fails a statement with.
var errBareStatement = linkapi.Errorf(linkapi.EINTERNAL, "store: statement on an owned table outside owned and unscoped")

// registerGuard installs the guard before every kind of statement on db.
func registerGuard(db *gorm.DB) error {
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().Before("gorm:query").Register("linkapi:guard", guard),
		cb.Create().Before("gorm:begin_transaction").Register("linkapi:guard", guard),
		cb.Update().Before("gorm:begin_transaction").Register("linkapi:guard", guard),
		cb.Delete().Before("gorm:begin_transaction").Register("linkapi:guard", guard),
		cb.Row().Before("gorm:row").Register("linkapi:guard", guard),
		cb.Raw().Before("gorm:raw").Register("linkapi:guard", guard),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// guard fails a statement of the store that names an owned table, itself or in
// a subquery, unless it came through a tenant or unscoped.
func guard(db *gorm.DB) {
	if bare(db.Statement) {
		_ = db.AddError(errBareStatement)
	}
}

// bare reports whether stmt, or a subquery in it, is a store statement that
// names an owned table without having come through a tenant or unscoped.
func bare(stmt *gorm.Statement) bool {
	if _, ok := stmt.Settings.Load(storeKey); !ok {
		return false // a statement of someone else's handle, such as a test's
	}
	if _, ok := stmt.Settings.Load(scopedKey); !ok {
		if ownedTables[stmt.Table] || namesOwned(stmt.SQL.String()) {
			return true
		}
		if stmt.TableExpr != nil && namesOwned(stmt.TableExpr.SQL) {
			return true
		}
		for _, j := range stmt.Joins {
			if namesOwned(j.Name) {
				return true
			}
		}
		for _, c := range stmt.Clauses {
			if exprNamesOwned(c.Expression) {
				return true
			}
		}
		for _, c := range stmt.Selects {
			if namesOwned(c) {
				return true
			}
		}
	}
	if stmt.TableExpr != nil && bareVars(stmt.TableExpr.Vars) {
		return true
	}
	for _, c := range stmt.Clauses {
		if w, ok := c.Expression.(clause.Where); ok && bareExprs(w.Exprs) {
			return true
		}
	}
	return false
}

// exprNamesOwned reports whether the SQL text of a WHERE or SELECT clause names
// an owned table, as a subquery written out in it would.
func exprNamesOwned(e clause.Expression) bool {
	switch e := e.(type) {
	case clause.Expr:
		return namesOwned(e.SQL)
	case clause.Select:
		for _, c := range e.Columns {
			if namesOwned(c.Name) {
				return true
			}
		}
		return e.Expression != nil && exprNamesOwned(e.Expression)
	case clause.Where:
		for _, x := range e.Exprs {
			if exprNamesOwned(x) {
				return true
			}
		}
	case clause.AndConditions:
		for _, x := range e.Exprs {
			if exprNamesOwned(x) {
				return true
			}
		}
	case clause.OrConditions:
		for _, x := range e.Exprs {
			if exprNamesOwned(x) {
				return true
			}
		}
	}
	return false
}

func bareExprs(exprs []clause.Expression) bool {
	for _, e := range exprs {
		switch e := e.(type) {
		case clause.Expr:
			if bareVars(e.Vars) {
				return true
			}
		case clause.AndConditions:
			if bareExprs(e.Exprs) {
				return true
			}
		case clause.OrConditions:
			if bareExprs(e.Exprs) {
				return true
			}
		}
	}
	return false
}

func bareVars(vars []any) bool {
	for _, v := range vars {
		if sub, ok := v.(*gorm.DB); ok && bare(sub.Statement) {
			return true
		}
	}
	return false
}

// namesOwned reports whether the SQL text names an owned table.
func namesOwned(sql string) bool {
	if sql == "" {
		return false
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(sql), func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if ownedTables[w] {
			return true
		}
	}
	return false
}

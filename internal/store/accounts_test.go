package store

import (
	"context"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestFindAccountByEmailReadsNoHash looks an account up by email as the command
// line does: the account comes back, its statement never names the password
// hash, another account's caller gets NOT_FOUND, and an unknown email too.
func TestFindAccountByEmailReadsNoHash(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		db := dbtOpen(t, url)
		var mu sync.Mutex
		var queries []string
		if err := db.orm.Callback().Query().After("gorm:query").Register("test:record", func(tx *gorm.DB) {
			mu.Lock()
			defer mu.Unlock()
			queries = append(queries, tx.Statement.SQL.String())
		}); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		sys := auth.NewContext(context.Background(), auth.System())
		ann, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		bob, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "bob@example.com", Password: "password-2"})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		queries = nil
		mu.Unlock()
		got, err := s.FindAccountByEmail(sys, " Ann@Example.com ")
		if err != nil || got.ID != ann.ID {
			t.Fatalf("got %v, %v; want ann", got, err)
		}
		mu.Lock()
		for _, q := range queries {
			if strings.Contains(q, "password_hash") || strings.Contains(q, "*") {
				t.Errorf("the lookup reads the hash: %s", q)
			}
		}
		if len(queries) == 0 {
			t.Error("no statement was recorded")
		}
		mu.Unlock()
		asBob := auth.NewContext(context.Background(), &auth.Caller{AccountID: bob.ID, Scopes: []string{auth.AccountRead}})
		if _, err := s.FindAccountByEmail(asBob, "ann@example.com"); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("bob looking up ann: got %v, want NOT_FOUND", err)
		}
		if _, err := s.FindAccountByEmail(sys, "nobody@example.com"); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("an unknown email: got %v, want NOT_FOUND", err)
		}
	})
}

// TestSetPasswordIsForAdministrators lets only an administrator set a password
// without the current one: anyone else gets FORBIDDEN and the password stays.
func TestSetPasswordIsForAdministrators(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := New(dbtOpen(t, url))
		sys := auth.NewContext(context.Background(), auth.System())
		ann, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		asAnn := auth.NewContext(context.Background(), &auth.Caller{AccountID: ann.ID, Scopes: auth.Expand([]string{auth.AccountWrite})})
		if err := s.SetPassword(asAnn, ann.ID, "password-2"); linkapi.ErrorCode(err) != linkapi.EFORBIDDEN {
			t.Errorf("the owner without admin:write: got %v, want FORBIDDEN", err)
		}
		if err := s.SetPassword(sys, ann.ID+100, "password-2"); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("no such account: got %v, want NOT_FOUND", err)
		}
		if _, hash, err := s.FindCredentialsByEmail(context.Background(), "ann@example.com"); err != nil || !auth.CheckPassword(hash, "password-1") {
			t.Errorf("the password changed after refusals: %v", err)
		}
	})
}

package store

import (
	"context"
	"testing"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestExternalIdentitiesConfined checks that only an administrator links and
// unlinks identities, that an account's caller sees its own identities and not
// another's, that (issuer, subject) is compared exactly, and that a link
// refused changes nothing.
func TestExternalIdentitiesConfined(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := New(dbtOpen(t, url))
		sys := auth.NewContext(context.Background(), auth.System())
		ann, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "ann@example.com", Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		bob, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: "bob@example.com", Password: "password-2"})
		if err != nil {
			t.Fatal(err)
		}
		const iss = "https://idp.example.com"
		if _, err := s.LinkExternalIdentity(sys, ann.ID, iss, "Ann"); err != nil {
			t.Fatal(err)
		}
		asAnn := auth.NewContext(context.Background(), &auth.Caller{AccountID: ann.ID, Scopes: auth.Expand(ann.Scopes)})
		asBob := auth.NewContext(context.Background(), &auth.Caller{AccountID: bob.ID, Scopes: auth.Expand(bob.Scopes)})
		for name, err := range map[string]error{
			"link as a user":   second(s.LinkExternalIdentity(asBob, bob.ID, iss, "bob")),
			"unlink as a user": second(s.UnlinkExternalIdentity(asAnn, iss, "Ann")),
		} {
			if linkapi.ErrorCode(err) != linkapi.EFORBIDDEN {
				t.Errorf("%s: %v, want FORBIDDEN", name, err)
			}
		}
		if _, err := s.FindExternalIdentities(asBob, ann.ID); linkapi.ErrorCode(err) != linkapi.EFORBIDDEN && linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("bob reading ann's identities: %v, want FORBIDDEN or NOT_FOUND", err)
		}
		if ids, err := s.FindExternalIdentities(asAnn, ann.ID); err != nil || len(ids) != 1 || ids[0].Subject != "Ann" {
			t.Errorf("ann's own identities = %v, %v", ids, err)
		}
		for name, c := range map[string]struct {
			account      int64
			iss, subject string
			code         string
		}{
			"again, to another account": {bob.ID, iss, "Ann", linkapi.ECONFLICT},
			"no such account":           {999999, iss, "x", linkapi.ENOTFOUND},
			"empty subject":             {bob.ID, iss, "", linkapi.EINVALID},
			"NUL in subject":            {bob.ID, iss, "a\x00", linkapi.EINVALID},
			"not UTF-8":                 {bob.ID, iss, "\xff", linkapi.EINVALID},
			"empty issuer":              {bob.ID, "", "x", linkapi.EINVALID},
		} {
			if _, err := s.LinkExternalIdentity(sys, c.account, c.iss, c.subject); linkapi.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", name, err, c.code)
			}
		}
		// Exact comparison: another case is another identity.
		if _, err := s.FindAccountForExternal(sys, iss, "ann"); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("subject of another case: %v, want NOT_FOUND", err)
		}
		if a, err := s.FindAccountForExternal(sys, iss, "Ann"); err != nil || a.ID != ann.ID {
			t.Errorf("FindAccountForExternal = %v, %v; want ann", a, err)
		}
		if ids, _ := s.FindExternalIdentities(sys, bob.ID); len(ids) != 0 {
			t.Errorf("refused links left bob %v", ids)
		}
		// Auto-create never takes an existing account's email.
		if _, err := s.CreateExternalAccount(sys, "BOB@example.com", auth.DefaultScopes, iss, "bob-sub"); linkapi.ErrorCode(err) != linkapi.ECONFLICT {
			t.Errorf("CreateExternalAccount with bob's email: %v, want CONFLICT", err)
		}
		if _, err := s.FindAccountForExternal(sys, iss, "bob-sub"); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("the refused auto-create linked bob-sub: %v", err)
		}
		// An identity taken already: the transaction makes no account either.
		n, _ := s.CountAllAccounts(sys)
		if _, err := s.CreateExternalAccount(sys, "cy@example.com", auth.DefaultScopes, iss, "Ann"); linkapi.ErrorCode(err) != linkapi.ECONFLICT {
			t.Errorf("CreateExternalAccount of a linked identity: %v, want CONFLICT", err)
		}
		if m, _ := s.CountAllAccounts(sys); m != n {
			t.Errorf("the refused auto-create left %d accounts, want %d", m, n)
		}
		if _, err := s.UnlinkExternalIdentity(sys, iss, "Ann"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UnlinkExternalIdentity(sys, iss, "Ann"); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("unlink twice: %v, want NOT_FOUND", err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

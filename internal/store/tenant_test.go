package store

import (
	"context"
	"testing"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestBatchLookupsStayInTheCallersAccount checks the methods the batch resolvers use:
// asked for another account's ids, they return nothing of it.
func TestBatchLookupsStayInTheCallersAccount(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := New(dbtOpen(t, url))
		sys := auth.NewContext(context.Background(), auth.System())
		mk := func(email string) (context.Context, *linkapi.Account, *linkapi.Link) {
			a, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: email, Password: "password-1"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := auth.NewContext(context.Background(), &auth.Caller{AccountID: a.ID, Scopes: auth.Expand(auth.DefaultScopes)})
			l, err := s.CreateLink(ctx, linkapi.LinkCreate{URL: "https://example.com/" + email, Tags: []string{"t"}})
			if err != nil {
				t.Fatal(err)
			}
			return ctx, a, l
		}
		annCtx, ann, annLink := mk("ann@example.com")
		_, bob, bobLink := mk("bob@example.com")

		tags, err := s.FindTagsByLinkIDs(annCtx, []int64{annLink.ID, bobLink.ID}, linkapi.AllTagFields)
		if err != nil {
			t.Fatal(err)
		}
		if len(tags[annLink.ID]) != 1 || len(tags[bobLink.ID]) != 0 {
			t.Errorf("tags by link = %v, want one tag on ann's link and none on bob's", tags)
		}
		accounts, err := s.FindAccountsByIDs(annCtx, []int64{ann.ID, bob.ID})
		if err != nil {
			t.Fatal(err)
		}
		if accounts[ann.ID] == nil || accounts[bob.ID] != nil {
			t.Errorf("accounts by id = %v, want ann's only", accounts)
		}

		admin := auth.NewContext(context.Background(), &auth.Caller{AccountID: ann.ID, Scopes: auth.Expand([]string{auth.AdminRead})})
		accounts, err = s.FindAccountsByIDs(admin, []int64{ann.ID, bob.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(accounts) != 2 {
			t.Errorf("admin:read got %d accounts, want 2", len(accounts))
		}
		// admin:read crosses accounts for reads only.
		if err := s.DeleteLink(admin, bobLink.ID); linkapi.ErrorCode(err) != linkapi.ENOTFOUND {
			t.Errorf("admin:read deleting bob's link: got %q, want NOT_FOUND", linkapi.ErrorCode(err))
		}
		if _, err := s.FindLinkByID(admin, bobLink.ID); err != nil {
			t.Errorf("admin:read reading bob's link: %v", err)
		}
		if _, err := s.FindLinkByID(context.Background(), annLink.ID); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
			t.Errorf("anonymous store read: got %q, want UNAUTHENTICATED", linkapi.ErrorCode(err))
		}
	})
}

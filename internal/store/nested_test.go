package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store/storetest"
)

// TestNestedPagesAreTheSinglePages checks the reads for nested connections against
// the single-parent lists they replace: for every parent, every page size and
// every cursor, the batched page is FindLinks's (or FindTags's) page, and the
// batched count is CountLinks's (CountTags's); another account's parents get
// nothing unless the caller holds admin:read.
func TestNestedPagesAreTheSinglePages(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		s := New(dbtOpen(t, url))
		sys := auth.NewContext(context.Background(), auth.System())
		var accounts []int64
		var callers []context.Context
		for _, email := range []string{"ann@example.com", "bob@example.com", "cy@example.com"} {
			a, err := s.CreateAccount(sys, linkapi.AccountCreate{Email: email, Password: "password-1"})
			if err != nil {
				t.Fatal(err)
			}
			accounts = append(accounts, a.ID)
			callers = append(callers, auth.NewContext(context.Background(), &auth.Caller{AccountID: a.ID, Scopes: auth.Expand(auth.DefaultScopes)}))
		}
		// Ann has 7 links and bob 3, tagged in overlapping patterns; cy has none.
		for i := 0; i < 10; i++ {
			owner := callers[0]
			if i%3 == 2 {
				owner = callers[1]
			}
			tags := []string{fmt.Sprintf("t%d", i%2)}
			if i%3 == 0 {
				tags = append(tags, "third")
			}
			if _, err := s.CreateLink(owner, linkapi.LinkCreate{URL: fmt.Sprintf("https://example.com/%d", i), Tags: tags}); err != nil {
				t.Fatal(err)
			}
		}
		admin := auth.NewContext(context.Background(), &auth.Caller{AccountID: accounts[0], Scopes: auth.Expand([]string{auth.AdminRead})})
		all, err := s.FindTags(admin, linkapi.TagFilter{Page: linkapi.Page{First: 100}})
		if err != nil {
			t.Fatal(err)
		}
		var tagIDs []int64
		for _, tag := range all.Tags {
			tagIDs = append(tagIDs, tag.ID)
		}
		tagIDs = append(tagIDs, 999999)
		accountIDs := append(append([]int64(nil), accounts...), 999999)

		for _, who := range []struct {
			name string
			ctx  context.Context
			sees func(account int64) bool
		}{
			{"ann", callers[0], func(a int64) bool { return a == accounts[0] }},
			{"admin", admin, func(int64) bool { return true }},
		} {
			ctx := who.ctx
			tagOwner := map[int64]int64{}
			for _, tag := range all.Tags {
				tagOwner[tag.ID] = tag.AccountID
			}
			linkCounts, err := s.CountLinksByAccountIDs(ctx, accountIDs)
			if err != nil {
				t.Fatal(err)
			}
			tagCounts, err := s.CountTagsByAccountIDs(ctx, accountIDs)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range accounts {
				want := [2]int{}
				if who.sees(a) {
					if want[0], err = s.CountLinks(ctx, linkapi.LinkFilter{AccountID: &a}); err != nil {
						t.Fatal(err)
					}
					if want[1], err = s.CountTags(ctx, linkapi.TagFilter{AccountID: &a}); err != nil {
						t.Fatal(err)
					}
				}
				if got := [2]int{linkCounts[a], tagCounts[a]}; got != want {
					t.Errorf("%s: account %d counts (links, tags) = %v, want %v", who.name, a, got, want)
				}
			}
			for _, first := range []int{0, 1, 2, 3, 100} {
				// Walk every parent's pages with the single lists' cursors, asking the
				// batched read for all parents at each cursor.
				for _, a := range accountIDs {
					visible := a != 999999 && who.sees(a)
					for p := (linkapi.LinkPage{First: first}); ; {
						got, err := s.FindLinksByAccountIDs(ctx, accountIDs, p)
						if err != nil {
							t.Fatal(err)
						}
						want := &linkapi.LinkList{}
						if visible {
							if want, err = s.FindLinks(ctx, linkapi.LinkFilter{AccountID: &a, LinkPage: p}); err != nil {
								t.Fatal(err)
							}
						}
						comparePage(t, fmt.Sprintf("%s: links of account %d at %+v", who.name, a, p), got[a], want.Links, want.HasNextPage)
						if !want.HasNextPage || first == 0 {
							break
						}
						p.After = linkapi.CursorOf(want.Links[len(want.Links)-1], linkapi.OrderCreatedDesc)
					}
					for p := (linkapi.Page{First: first}); ; {
						got, err := s.FindTagsByAccountIDs(ctx, accountIDs, p)
						if err != nil {
							t.Fatal(err)
						}
						want := &linkapi.TagList{}
						if visible {
							if want, err = s.FindTags(ctx, linkapi.TagFilter{AccountID: &a, Page: p}); err != nil {
								t.Fatal(err)
							}
						}
						comparePage(t, fmt.Sprintf("%s: tags of account %d at %+v", who.name, a, p), got[a], want.Tags, want.HasNextPage)
						if !want.HasNextPage || first == 0 {
							break
						}
						p.After = lastTagID(want.Tags)
					}
				}
				for _, tag := range tagIDs {
					p := linkapi.LinkPage{First: first}
					for {
						got, err := s.FindLinksByTagIDs(ctx, tagIDs, p)
						if err != nil {
							t.Fatal(err)
						}
						want := &linkapi.LinkList{}
						if owner, ok := tagOwner[tag]; ok && who.sees(owner) {
							if want, err = s.FindLinks(ctx, linkapi.LinkFilter{TagID: &tag, LinkPage: p}); err != nil {
								t.Fatal(err)
							}
						}
						comparePage(t, fmt.Sprintf("%s: links of tag %d at %+v", who.name, tag, p), got[tag], want.Links, want.HasNextPage)
						if !want.HasNextPage || first == 0 {
							break
						}
						p.After = linkapi.CursorOf(want.Links[len(want.Links)-1], linkapi.OrderCreatedDesc)
					}
				}
			}
		}

		for _, ids := range [][]int64{nil, {}} {
			if got, err := s.FindLinksByTagIDs(callers[0], ids, linkapi.LinkPage{First: 1}); err != nil || len(got) != 0 {
				t.Errorf("FindLinksByTagIDs(%v) = %v, %v; want nothing", ids, got, err)
			}
		}
		anonymous := context.Background()
		if _, err := s.FindLinksByTagIDs(anonymous, tagIDs, linkapi.LinkPage{First: 1}); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
			t.Errorf("anonymous FindLinksByTagIDs: got %q, want UNAUTHENTICATED", linkapi.ErrorCode(err))
		}
		if _, err := s.FindTagsByAccountIDs(anonymous, accountIDs, linkapi.Page{First: 1}); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
			t.Errorf("anonymous FindTagsByAccountIDs: got %q, want UNAUTHENTICATED", linkapi.ErrorCode(err))
		}
		if _, err := s.CountLinksByAccountIDs(anonymous, accountIDs); linkapi.ErrorCode(err) != linkapi.EUNAUTHENTICATED {
			t.Errorf("anonymous CountLinksByAccountIDs: got %q, want UNAUTHENTICATED", linkapi.ErrorCode(err))
		}
	})
}

// comparePage checks a batched page, nil when absent, against the single page.
func comparePage[T any](t *testing.T, what string, got any, want []T, wantMore bool) {
	t.Helper()
	var items []T
	more := false
	switch g := got.(type) {
	case *linkapi.LinkList:
		if g != nil {
			items, more = any(g.Links).([]T), g.HasNextPage
		}
	case *linkapi.TagList:
		if g != nil {
			items, more = any(g.Tags).([]T), g.HasNextPage
		}
	}
	if len(items) == 0 && len(want) == 0 {
		items, want = nil, nil
	}
	if !reflect.DeepEqual(items, want) || more != wantMore {
		t.Errorf("%s: got %v (more %v), want %v (more %v)", what, items, more, want, wantMore)
	}
}

func lastTagID(tags []*linkapi.Tag) int64 {
	if len(tags) == 0 {
		return 0
	}
	return tags[len(tags)-1].ID
}

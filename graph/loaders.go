package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"linkapi/internal/linkapi"
)

// A list resolver registers the objects it returns as one group; the first child
// field that needs related rows (Link.tags, Link.account, Tag.account) fetches them
// for the whole group in one statement, through the same tenant-confined services as
// everything else. Unlike a time-window dataloader this needs no wait and its
// statement count does not depend on scheduling: one statement per list and field.
//
// Groups live for one query operation. In a mutation every field reads afresh, so
// that nothing a mutation changed is read back from before the change.
type group struct {
	ids        []int64
	accountIDs []int64

	tagsOnce sync.Once
	tags     map[int64][]*linkapi.Tag
	tagsErr  error

	accountsOnce sync.Once
	accounts     map[int64]*linkapi.Account
	accountsErr  error
}

type batches struct {
	mu    sync.Mutex
	links map[int64]*group
	tags  map[int64]*group
}

type batchesKey struct{}

// withBatches gives each query operation its own groups.
func withBatches(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if oc := graphql.GetOperationContext(ctx); oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return next(ctx)
	}
	return next(context.WithValue(ctx, batchesKey{}, &batches{links: map[int64]*group{}, tags: map[int64]*group{}}))
}

func newGroup(n int) *group {
	return &group{ids: make([]int64, 0, n)}
}

func (g *group) add(id, accountID int64, seen map[int64]bool) {
	g.ids = append(g.ids, id)
	if !seen[accountID] {
		seen[accountID] = true
		g.accountIDs = append(g.accountIDs, accountID)
	}
}

// registerLinks makes links one group.
func registerLinks(ctx context.Context, links []*linkapi.Link) {
	b, _ := ctx.Value(batchesKey{}).(*batches)
	if b == nil || len(links) == 0 {
		return
	}
	g, seen := newGroup(len(links)), map[int64]bool{}
	for _, l := range links {
		g.add(l.ID, l.AccountID, seen)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range links {
		b.links[l.ID] = g
	}
}

// registerTags makes tags one group.
func registerTags(ctx context.Context, tags []*linkapi.Tag) {
	b, _ := ctx.Value(batchesKey{}).(*batches)
	if b == nil || len(tags) == 0 {
		return
	}
	g, seen := newGroup(len(tags)), map[int64]bool{}
	for _, t := range tags {
		g.add(t.ID, t.AccountID, seen)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range tags {
		b.tags[t.ID] = g
	}
}

// groupOf returns the group of a link or a tag, or a group of that object alone.
func groupOf(ctx context.Context, byTags bool, id, accountID int64) *group {
	if b, _ := ctx.Value(batchesKey{}).(*batches); b != nil {
		b.mu.Lock()
		g := b.links[id]
		if byTags {
			g = b.tags[id]
		}
		b.mu.Unlock()
		if g != nil {
			return g
		}
	}
	return &group{ids: []int64{id}, accountIDs: []int64{accountID}}
}

// tagsOfLink returns the tags on a link, fetched for its whole group.
func (r *Resolver) tagsOfLink(ctx context.Context, link *linkapi.Link) ([]*linkapi.Tag, error) {
	g := groupOf(ctx, false, link.ID, link.AccountID)
	g.tagsOnce.Do(func() {
		g.tags, g.tagsErr = r.TagService.FindTagsByLinkIDs(ctx, g.ids)
	})
	if g.tagsErr != nil {
		return nil, g.tagsErr
	}
	if tags := g.tags[link.ID]; tags != nil {
		return tags, nil
	}
	return []*linkapi.Tag{}, nil
}

// accountOf returns the account of a link or a tag, fetched for its whole group;
// one the caller may not see is NOT_FOUND.
func (r *Resolver) accountOf(ctx context.Context, byTags bool, id, accountID int64) (*linkapi.Account, error) {
	g := groupOf(ctx, byTags, id, accountID)
	g.accountsOnce.Do(func() {
		g.accounts, g.accountsErr = r.AccountService.FindAccountsByIDs(ctx, g.accountIDs)
	})
	if g.accountsErr != nil {
		return nil, g.accountsErr
	}
	if a := g.accounts[accountID]; a != nil {
		return a, nil
	}
	return nil, linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
}

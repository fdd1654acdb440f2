package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"linkapi/internal/linkapi"
)

// Link.tags, Link.account and Tag.account are gqlgen batch resolvers
// (`batch: true` in gqlgen.yml): gqlgen hands each one all the sibling objects of a
// list at once, so each costs one statement per list however long the list, and
// every fetch goes through the same tenant-confined services as everything else.
//
// A field under one of them that is itself resolved per object would undo that:
// Tag.links { totalCount } under Link.tags would count once per tag of every link.
// So Link.tags looks ahead and, when its tags are asked for links { totalCount },
// counts the links of all of them at once (countTagLinks), and Tag.links answers
// from that count, as it does for a page of tags.

// accounts returns the account of each id, in order, with one query; an account
// the caller may not see is NOT_FOUND at its place.
func (r *Resolver) accounts(ctx context.Context, ids []int64) ([]*linkapi.Account, error) {
	distinct := slices.Clone(ids)
	slices.Sort(distinct)
	byID, err := r.AccountService.FindAccountsByIDs(ctx, slices.Compact(distinct))
	if err != nil {
		return nil, err
	}
	out := make([]*linkapi.Account, len(ids))
	var errs graphql.BatchErrorList
	for i, id := range ids {
		if out[i] = byID[id]; out[i] == nil {
			if errs == nil {
				errs = make(graphql.BatchErrorList, len(ids))
			}
			errs[i] = linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
		}
	}
	if errs != nil {
		return out, errs
	}
	return out, nil
}

// selectsLinkCount reports whether the tags being resolved are asked for
// links { totalCount }, under any alias.
func selectsLinkCount(ctx context.Context) bool {
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name != "links" {
			continue
		}
		for _, g := range graphql.CollectFields(oc, f.Selections, nil) {
			if g.Name == "totalCount" {
				return true
			}
		}
	}
	return false
}

// countTagLinks sets the LinkCount of every tag in byLink with one query.
func (r *Resolver) countTagLinks(ctx context.Context, byLink map[int64][]*linkapi.Tag) error {
	var ids []int64
	for _, tags := range byLink {
		for _, t := range tags {
			ids = append(ids, t.ID)
		}
	}
	slices.Sort(ids)
	counts, err := r.TagService.CountLinksByTagIDs(ctx, slices.Compact(ids))
	if err != nil {
		return err
	}
	for _, tags := range byLink {
		for _, t := range tags {
			n := counts[t.ID]
			t.LinkCount = &n
		}
	}
	return nil
}

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

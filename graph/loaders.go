package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"linkapi/internal/linkapi"
)

// loaderWait is how long a loader gathers keys before it fetches; sibling fields
// resolve concurrently, so a short wait catches a whole list.
const loaderWait = 2 * time.Millisecond

// loaders batch the per-object lookups of one operation into one query each. They go
// through the same tenant-confined services as everything else, with the caller of
// the first key's context, which is the caller of the whole operation. They keep no
// cache, so a mutation never reads back what an earlier field of the same request
// saw.
type loaders struct {
	tagsOnce     sync.Once
	tagsByLink   *dataloadgen.Loader[int64, []*linkapi.Tag]
	accountsOnce sync.Once
	accounts     *dataloadgen.Loader[int64, *linkapi.Account]
}

type loadersKey struct{}

// withLoaders gives each operation its own loaders.
func withLoaders(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, loadersKey{}, &loaders{}))
}

func loadersFrom(ctx context.Context) *loaders {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l
	}
	return &loaders{}
}

// tagsOfLink loads the tags on a link, batched with the other links of the operation.
func (r *Resolver) tagsOfLink(ctx context.Context, linkID int64) ([]*linkapi.Tag, error) {
	l := loadersFrom(ctx)
	l.tagsOnce.Do(func() {
		l.tagsByLink = dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]*linkapi.Tag, []error) {
			byLink, err := r.TagService.FindTagsByLinkIDs(ctx, ids)
			out := make([][]*linkapi.Tag, len(ids))
			errs := make([]error, len(ids))
			for i, id := range ids {
				out[i], errs[i] = byLink[id], err
				if out[i] == nil {
					out[i] = []*linkapi.Tag{}
				}
			}
			return out, errs
		}, dataloadgen.WithWait(loaderWait), dataloadgen.WithoutCache())
	})
	return l.tagsByLink.Load(ctx, linkID)
}

// account loads an account, batched; one the caller may not see is NOT_FOUND.
func (r *Resolver) account(ctx context.Context, id int64) (*linkapi.Account, error) {
	l := loadersFrom(ctx)
	l.accountsOnce.Do(func() {
		l.accounts = dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]*linkapi.Account, []error) {
			byID, err := r.AccountService.FindAccountsByIDs(ctx, ids)
			out := make([]*linkapi.Account, len(ids))
			errs := make([]error, len(ids))
			for i, id := range ids {
				out[i], errs[i] = byID[id], err
				if err == nil && out[i] == nil {
					errs[i] = linkapi.Errorf(linkapi.ENOTFOUND, "account not found")
				}
			}
			return out, errs
		}, dataloadgen.WithWait(loaderWait), dataloadgen.WithoutCache())
	})
	return l.accounts.Load(ctx, id)
}

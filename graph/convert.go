package graph

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"linkapi/graph/model"
	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// parseID reads a GraphQL ID. An ID that is not one of ours names nothing, so it
// is NOT_FOUND, like an ID that is.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, linkapi.Errorf(linkapi.ENOTFOUND, "no object has id %q", s)
	}
	return id, nil
}

func parseOptionalID(s *string) (*int64, error) {
	if s == nil {
		return nil, nil
	}
	id, err := parseID(*s)
	return &id, err
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// cursorPrefix versions the cursor format; cursors are opaque to clients.
const cursorPrefix = "v1:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + formatID(id)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && strings.HasPrefix(string(b), cursorPrefix) {
		if id, err := strconv.ParseInt(strings.TrimPrefix(string(b), cursorPrefix), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, linkapi.Errorf(linkapi.EINVALID, "after is not a valid cursor")
}

// page reads first and after: first defaults to 20 and must be 0 to 100.
func page(first *int, after *string) (linkapi.Page, error) {
	p := linkapi.Page{First: linkapi.DefaultPageSize}
	if first != nil {
		if *first < 0 || *first > linkapi.MaxPageSize {
			return p, linkapi.Errorf(linkapi.EINVALID, "first must be between 0 and %d", linkapi.MaxPageSize)
		}
		p.First = *first
	}
	if after != nil {
		id, err := decodeCursor(*after)
		if err != nil {
			return p, err
		}
		p.After = id
	}
	return p, nil
}

// edges builds the edges and pageInfo of one page of items, whatever their type.
func edges[T, E any](items []T, id func(T) int64, edge func(cursor string, node T) E, hasNext bool) ([]E, *model.PageInfo) {
	out := make([]E, len(items))
	info := &model.PageInfo{HasNextPage: hasNext}
	for i, item := range items {
		c := encodeCursor(id(item))
		out[i] = edge(c, item)
		info.EndCursor = &c
	}
	return out, info
}

func linkConnection(list *linkapi.LinkList, count model.Counter) *model.LinkConnection {
	e, info := edges(list.Links, func(l *linkapi.Link) int64 { return l.ID },
		func(c string, l *linkapi.Link) *model.LinkEdge { return &model.LinkEdge{Cursor: c, Node: l} }, list.HasNextPage)
	return &model.LinkConnection{Nodes: list.Links, Edges: e, PageInfo: info, Count: count}
}

func tagConnection(list *linkapi.TagList, count model.Counter) *model.TagConnection {
	e, info := edges(list.Tags, func(t *linkapi.Tag) int64 { return t.ID },
		func(c string, t *linkapi.Tag) *model.TagEdge { return &model.TagEdge{Cursor: c, Node: t} }, list.HasNextPage)
	return &model.TagConnection{Nodes: list.Tags, Edges: e, PageInfo: info, Count: count}
}

func accountConnection(list *linkapi.AccountList, count model.Counter) *model.AccountConnection {
	e, info := edges(list.Accounts, func(a *linkapi.Account) int64 { return a.ID },
		func(c string, a *linkapi.Account) *model.AccountEdge { return &model.AccountEdge{Cursor: c, Node: a} }, list.HasNextPage)
	return &model.AccountConnection{Nodes: list.Accounts, Edges: e, PageInfo: info, Count: count}
}

// selectsPage reports whether the connection being resolved asks for any of its
// items, as opposed to totalCount alone.
func selectsPage(ctx context.Context) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "edges" || f.Name == "nodes" || f.Name == "pageInfo" {
			return true
		}
	}
	return false
}

// findLinks runs one links list at the root of a query. It reads the page only
// when the query asks for items (or names an account, so that naming another one
// is refused whatever is selected), and counts only when it asks for totalCount.
func (r *Resolver) findLinks(ctx context.Context, filter linkapi.LinkFilter, first *int, after *string) (*model.LinkConnection, error) {
	p, err := page(first, after)
	if err != nil {
		return nil, err
	}
	filter.Page = p
	list := &linkapi.LinkList{}
	if selectsPage(ctx) || filter.AccountID != nil {
		if list, err = r.LinkService.FindLinks(ctx, filter); err != nil {
			return nil, err
		}
		r.prefetchLinks(ctx, list.Links, connectionItems(ctx, "Link"))
	}
	return linkConnection(list, func(ctx context.Context) (int, error) { return r.LinkService.CountLinks(ctx, filter) }), nil
}

// findTags runs one tags list at the root of a query.
func (r *Resolver) findTags(ctx context.Context, filter linkapi.TagFilter, first *int, after *string) (*model.TagConnection, error) {
	p, err := page(first, after)
	if err != nil {
		return nil, err
	}
	filter.Page = p
	list := &linkapi.TagList{}
	if selectsPage(ctx) || filter.AccountID != nil {
		if list, err = r.TagService.FindTags(ctx, filter); err != nil {
			return nil, err
		}
		r.prefetchTags(ctx, list.Tags, connectionItems(ctx, "Tag"))
	}
	return tagConnection(list, func(ctx context.Context) (int, error) { return r.TagService.CountTags(ctx, filter) }), nil
}

// batchPages reads one page for each of many parents, through load.
type batchPages[L any] func(ctx context.Context, parents []int64, p linkapi.Page) (map[int64]*L, bool, error)

// batchCounter counts for each of many parents, through load.
type batchCounter func(ctx context.Context, parents []int64) (map[int64]int, bool, error)

// nestedLinks runs the links list of one parent object (a tag, an account): it
// reads the page with pages when the query asks for items, and counts with count
// when it asks for totalCount, both through load, so that the same list of many
// parents costs one statement.
func (r *Resolver) nestedLinks(ctx context.Context, parent int64, first *int, after *string, pages batchPages[linkapi.LinkList], count batchCounter) (*model.LinkConnection, error) {
	list, err := nestedPage(ctx, parent, first, after, pages, &linkapi.LinkList{Links: []*linkapi.Link{}},
		func(l *linkapi.LinkList) { r.prefetchLinks(ctx, l.Links, connectionItems(ctx, "Link")) })
	if err != nil {
		return nil, err
	}
	return linkConnection(list, parentCounter(parent, count)), nil
}

// nestedTags is nestedLinks for tags.
func (r *Resolver) nestedTags(ctx context.Context, parent int64, first *int, after *string, pages batchPages[linkapi.TagList], count batchCounter) (*model.TagConnection, error) {
	list, err := nestedPage(ctx, parent, first, after, pages, &linkapi.TagList{Tags: []*linkapi.Tag{}},
		func(l *linkapi.TagList) { r.prefetchTags(ctx, l.Tags, connectionItems(ctx, "Tag")) })
	if err != nil {
		return nil, err
	}
	return tagConnection(list, parentCounter(parent, count)), nil
}

// nestedPage reads parent's page for nestedLinks and nestedTags: empty when the
// query asks for no items or the parent has none. When it read the page itself,
// rather than finding it read, it looks ahead at its items with prefetch.
func nestedPage[L any](ctx context.Context, parent int64, first *int, after *string, pages batchPages[L], empty *L, prefetch func(*L)) (*L, error) {
	p, err := page(first, after)
	if err != nil || !selectsPage(ctx) {
		return empty, err
	}
	lists, fresh, err := pages(ctx, []int64{parent}, p)
	if err != nil {
		return nil, err
	}
	list := lists[parent]
	if list == nil {
		return empty, nil
	}
	if fresh {
		prefetch(list)
	}
	return list, nil
}

func parentCounter(parent int64, count batchCounter) model.Counter {
	return func(ctx context.Context) (int, error) {
		n, _, err := count(ctx, []int64{parent})
		return n[parent], err
	}
}

// connectionItems returns the fields that the connection being resolved selects
// on its items of type typ.
func connectionItems(ctx context.Context, typ string) []graphql.CollectedField {
	return itemFields(graphql.GetOperationContext(ctx), graphql.GetFieldContext(ctx).Field.Selections, typ)
}

// nullIfNotFound turns NOT_FOUND into a null result, for the nullable lookups.
func nullIfNotFound[T any](v *T, err error) (*T, error) {
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		return nil, nil
	}
	return v, err
}

// authPayload converts what a login or a refresh issued.
func authPayload(issued *auth.Issued, err error) (*model.AuthPayload, error) {
	if err != nil {
		return nil, err
	}
	return &model.AuthPayload{
		AccessToken:      issued.AccessToken,
		TokenType:        issued.TokenType,
		ExpiresAt:        issued.ExpiresAt,
		Scopes:           issued.Scopes,
		Account:          issued.Account,
		RefreshToken:     issued.RefreshToken,
		RefreshExpiresAt: issued.RefreshExpiresAt,
	}, nil
}

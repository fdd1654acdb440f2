package graph

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"linkapi/graph/model"
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

// findLinks runs one links list; every list of links in the schema goes through it.
// It reads the page only when the query asks for items (or names an account, so
// that naming another one is refused whatever is selected), and counts only when
// it asks for totalCount; known, when set, is a count already read with the parent.
func (r *Resolver) findLinks(ctx context.Context, filter linkapi.LinkFilter, first *int, after *string, known *int) (*model.LinkConnection, error) {
	p, err := page(first, after)
	if err != nil {
		return nil, err
	}
	filter.Page = p
	count := func(ctx context.Context) (int, error) { return r.LinkService.CountLinks(ctx, filter) }
	if known != nil {
		n := *known
		count = func(context.Context) (int, error) { return n, nil }
	}
	list := &linkapi.LinkList{}
	if selectsPage(ctx) || filter.AccountID != nil {
		if list, err = r.LinkService.FindLinks(ctx, filter); err != nil {
			return nil, err
		}
	}
	return linkConnection(list, count), nil
}

// findTags runs one tags list.
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
	}
	return tagConnection(list, func(ctx context.Context) (int, error) { return r.TagService.CountTags(ctx, filter) }), nil
}

// nullIfNotFound turns NOT_FOUND into a null result, for the nullable lookups.
func nullIfNotFound[T any](v *T, err error) (*T, error) {
	if linkapi.ErrorCode(err) == linkapi.ENOTFOUND {
		return nil, nil
	}
	return v, err
}

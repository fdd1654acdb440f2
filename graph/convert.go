package graph

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

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

// isTrue reads an optional Boolean argument that defaults to false.
func isTrue(b *bool) bool { return b != nil && *b }

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

// linkCursorPrefix versions the format of cursors of links, which carry their
// order and sort key: "l1:ORDER:ID:KEY", KEY being the time in Unix
// microseconds, or for TITLE_ASC "-" for no title and "=" and the title.
const linkCursorPrefix = "l1:"

func encodeLinkCursor(c linkapi.LinkCursor) string {
	key := strconv.FormatInt(c.At.UnixMicro(), 10)
	if c.Order == linkapi.OrderTitleAsc {
		key = "=" + c.Title
		if c.NoTitle {
			key = "-"
		}
	}
	return base64.RawURLEncoding.EncodeToString([]byte(linkCursorPrefix + string(c.Order.Or()) + ":" + formatID(c.ID) + ":" + key))
}

// decodeLinkCursor reads a cursor of links; BAD_USER_INPUT for anything else,
// a cursor of another list included.
func decodeLinkCursor(s string) (linkapi.LinkCursor, error) {
	bad := linkapi.Errorf(linkapi.EINVALID, "after is not a valid cursor of links")
	b, err := base64.RawURLEncoding.DecodeString(s)
	rest, ok := strings.CutPrefix(string(b), linkCursorPrefix)
	parts := strings.SplitN(rest, ":", 3)
	if err != nil || !ok || len(parts) != 3 {
		return linkapi.LinkCursor{}, bad
	}
	c := linkapi.LinkCursor{Order: linkapi.LinkOrder(parts[0])}
	if c.ID, err = strconv.ParseInt(parts[1], 10, 64); err != nil || c.ID <= 0 {
		return linkapi.LinkCursor{}, bad
	}
	switch key := parts[2]; {
	case c.Order == linkapi.OrderTitleAsc && key == "-":
		c.NoTitle = true
	case c.Order == linkapi.OrderTitleAsc && strings.HasPrefix(key, "="):
		c.Title = key[1:]
	case c.Order == linkapi.OrderCreatedDesc || c.Order == linkapi.OrderCreatedAsc || c.Order == linkapi.OrderUpdatedDesc:
		us, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			return linkapi.LinkCursor{}, bad
		}
		c.At = time.UnixMicro(us).UTC()
	default:
		return linkapi.LinkCursor{}, bad
	}
	return c, nil
}

// pageSize reads first: it defaults to 20 and must be 0 to 100.
func pageSize(first *int) (int, error) {
	if first == nil {
		return linkapi.DefaultPageSize, nil
	}
	if *first < 0 || *first > linkapi.MaxPageSize {
		return 0, linkapi.Errorf(linkapi.EINVALID, "first must be between 0 and %d", linkapi.MaxPageSize)
	}
	return *first, nil
}

// linkPage reads first and after for a list of links in order: a cursor made
// under another order is BAD_USER_INPUT.
func linkPage(first *int, after *string, order linkapi.LinkOrder) (linkapi.LinkPage, error) {
	n, err := pageSize(first)
	p := linkapi.LinkPage{First: n}
	if err != nil || after == nil {
		return p, err
	}
	if p.After, err = decodeLinkCursor(*after); err != nil {
		return p, err
	}
	if p.After.Order != order.Or() {
		return p, linkapi.Errorf(linkapi.EINVALID, "after is a cursor of links in %s order, not %s", p.After.Order, order.Or())
	}
	return p, nil
}

// nestedLinkPage is linkPage for the nested lists of links, CREATED_DESC.
func nestedLinkPage(first *int, after *string) (linkapi.LinkPage, error) {
	return linkPage(first, after, linkapi.OrderCreatedDesc)
}

// page reads first and after of a list of tags or accounts.
func page(first *int, after *string) (linkapi.Page, error) {
	n, err := pageSize(first)
	p := linkapi.Page{First: n}
	if err != nil {
		return p, err
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
func edges[T, E any](items []T, cursor func(T) string, edge func(cursor string, node T) E, hasNext bool) ([]E, *model.PageInfo) {
	out := make([]E, len(items))
	info := &model.PageInfo{HasNextPage: hasNext}
	for i, item := range items {
		c := cursor(item)
		out[i] = edge(c, item)
		info.EndCursor = &c
	}
	return out, info
}

// cursorsOf says which cursors of a page of links its query takes.
type cursorsOf int

const (
	cursorsNone cursorsOf = iota // neither edges nor pageInfo
	cursorsLast                  // pageInfo's endCursor, no edges
	cursorsEach                  // each edge's
)

// linkConnection builds a connection of links listed in order, with the cursors
// cursors names: for cursorsLast it leaves Edges nil and encodes only the last
// cursor, for pageInfo; for cursorsNone it encodes none (the page may not hold
// what its order sorts by).
func linkConnection(list *linkapi.LinkList, order linkapi.LinkOrder, count model.Counter, cursors cursorsOf) *model.LinkConnection {
	cursor := func(l *linkapi.Link) string { return encodeLinkCursor(linkapi.CursorOf(l, order)) }
	if cursors != cursorsEach {
		info := &model.PageInfo{HasNextPage: list.HasNextPage}
		if n := len(list.Links); n > 0 && cursors == cursorsLast {
			c := cursor(list.Links[n-1])
			info.EndCursor = &c
		}
		return &model.LinkConnection{Nodes: list.Links, PageInfo: info, Count: count}
	}
	e, info := edges(list.Links, cursor,
		func(c string, l *linkapi.Link) *model.LinkEdge { return &model.LinkEdge{Cursor: c, Node: l} }, list.HasNextPage)
	return &model.LinkConnection{Nodes: list.Links, Edges: e, PageInfo: info, Count: count}
}

func tagConnection(list *linkapi.TagList, count model.Counter) *model.TagConnection {
	e, info := edges(list.Tags, func(t *linkapi.Tag) string { return encodeCursor(t.ID) },
		func(c string, t *linkapi.Tag) *model.TagEdge { return &model.TagEdge{Cursor: c, Node: t} }, list.HasNextPage)
	return &model.TagConnection{Nodes: list.Tags, Edges: e, PageInfo: info, Count: count}
}

func accountConnection(list *linkapi.AccountList, count model.Counter) *model.AccountConnection {
	e, info := edges(list.Accounts, func(a *linkapi.Account) string { return encodeCursor(a.ID) },
		func(c string, a *linkapi.Account) *model.AccountEdge { return &model.AccountEdge{Cursor: c, Node: a} }, list.HasNextPage)
	return &model.AccountConnection{Nodes: list.Accounts, Edges: e, PageInfo: info, Count: count}
}

// selectsPage reports whether the connection being resolved asks for any of its
// items, as opposed to totalCount alone.
func selectsPage(ctx context.Context) bool {
	return selects(ctx, "edges", "nodes", "pageInfo")
}

// selects reports whether the field being resolved selects any of names.
func selects(ctx context.Context, names ...string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if slices.Contains(names, f.Name) {
			return true
		}
	}
	return false
}

// findLinks runs one links list at the root of a query. It reads the page only
// when the query asks for items (or names an account, so that naming another one
// is refused whatever is selected), and counts only when it asks for totalCount.
func (r *Resolver) findLinks(ctx context.Context, filter linkapi.LinkFilter, first *int, after *string) (*model.LinkConnection, error) {
	p, err := linkPage(first, after, filter.Order)
	if err != nil {
		return nil, err
	}
	filter.LinkPage = p
	list := &linkapi.LinkList{}
	// A page whose query takes no cursor (no edges, no pageInfo) does not read
	// what its order sorts by unless it selects that field: on SQLite the
	// text of created_at was a fifth of the page's statement.
	// One walk of the selection finds both whether the query asks for items
	// (selectsPage) and which cursors it takes.
	cursors, page := cursorsNone, false
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "edges":
			cursors, page = cursorsEach, true
		case "pageInfo":
			cursors, page = max(cursors, cursorsLast), true
		case "nodes":
			page = true
		}
	}
	if page || filter.AccountID != nil {
		items := connectionItems(ctx, "Link")
		filter.Fields, filter.NoCursors = linkFieldsOf(items), cursors == cursorsNone
		if list, err = r.LinkService.FindLinks(ctx, filter); err != nil {
			return nil, err
		}
		r.prefetchLinks(ctx, list.Links, items)
	}
	return linkConnection(list, filter.Order, func(ctx context.Context) (int, error) { return r.LinkService.CountLinks(ctx, filter) },
		cursors), nil
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

// linkFieldsOf returns the fields of a Link that the selections of items read;
// every field for a selection it does not know.
func linkFieldsOf(items []graphql.CollectedField) linkapi.LinkFields {
	var fields linkapi.LinkFields
	for _, f := range items {
		field, ok := linkFieldOf[f.Name]
		if !ok {
			return linkapi.AllLinkFields
		}
		fields |= field
	}
	return fields
}

// linkFieldOf is, by the name of a field of Link in the schema, the field of a
// linkapi.Link it reads (none for those read by their own resolvers).
var linkFieldOf = map[string]linkapi.LinkFields{
	"__typename": 0, "id": 0, "tags": 0, "account": 0,
	"url": linkapi.LinkURL, "title": linkapi.LinkTitle, "description": linkapi.LinkDescription, "notes": linkapi.LinkNotes,
	"unread": linkapi.LinkFlags, "archived": linkapi.LinkFlags, "favorite": linkapi.LinkFlags,
	"faviconUrl": linkapi.LinkFaviconURL, "previewImageUrl": linkapi.LinkPreviewImageURL,
	"createdAt": linkapi.LinkCreatedAt, "updatedAt": linkapi.LinkUpdatedAt,
}

// batchPages reads one page (a P) for each of many parents, through load.
type batchPages[L, P any] func(ctx context.Context, parents []int64, p P) (map[int64]*L, bool, error)

// batchCounter counts for each of many parents, through load.
type batchCounter func(ctx context.Context, parents []int64) (map[int64]int, bool, error)

// nestedLinks runs the links list of one parent object (a tag, an account): it
// reads the page with pages when the query asks for items, and counts with count
// when it asks for totalCount, both through load, so that the same list of many
// parents costs one statement.
func (r *Resolver) nestedLinks(ctx context.Context, parent int64, first *int, after *string, pages batchPages[linkapi.LinkList, linkapi.LinkPage], count batchCounter) (*model.LinkConnection, error) {
	list, err := nestedPage(ctx, parent, first, after, nestedLinkPage, pages, &linkapi.LinkList{Links: []*linkapi.Link{}},
		func(l *linkapi.LinkList) { r.prefetchLinks(ctx, l.Links, connectionItems(ctx, "Link")) })
	if err != nil {
		return nil, err
	}
	return linkConnection(list, linkapi.OrderCreatedDesc, parentCounter(parent, count), cursorsEach), nil
}

// nestedTags is nestedLinks for tags.
func (r *Resolver) nestedTags(ctx context.Context, parent int64, first *int, after *string, pages batchPages[linkapi.TagList, linkapi.Page], count batchCounter) (*model.TagConnection, error) {
	list, err := nestedPage(ctx, parent, first, after, page, pages, &linkapi.TagList{Tags: []*linkapi.Tag{}},
		func(l *linkapi.TagList) { r.prefetchTags(ctx, l.Tags, connectionItems(ctx, "Tag")) })
	if err != nil {
		return nil, err
	}
	return tagConnection(list, parentCounter(parent, count)), nil
}

// nestedPage reads parent's page, as parse reads it, for nestedLinks and
// nestedTags: empty when the query asks for no items or the parent has none.
// When it read the page itself, rather than finding it read, it looks ahead at
// its items with prefetch.
func nestedPage[L, P any](ctx context.Context, parent int64, first *int, after *string, parse func(*int, *string) (P, error), pages batchPages[L, P], empty *L, prefetch func(*L)) (*L, error) {
	p, err := parse(first, after)
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

// linkCreate is what createLink and each item of createLinks ask the store for.
func linkCreate(in *model.CreateLinkInput, accountID *int64) linkapi.LinkCreate {
	return linkapi.LinkCreate{
		URL:         in.URL,
		Title:       in.Title,
		Description: in.Description,
		Notes:       in.Notes,
		Unread:      isTrue(in.Unread),
		Archived:    isTrue(in.Archived),
		Favorite:    isTrue(in.Favorite),
		Tags:        in.Tags,
		AccountID:   accountID,
	}
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

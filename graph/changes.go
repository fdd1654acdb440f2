package graph

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"linkapi/graph/model"
	"linkapi/internal/linkapi"
)

// changeCursorPrefix versions the change feed's cursors, which name a feed (an
// account, or 0 for an administrator's feed of every account) and a place in it.
const changeCursorPrefix = "c1:"

func encodeChangeCursor(p linkapi.ChangePosition) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s%d:%d", changeCursorPrefix, p.Account, p.Seq))
}

func decodeChangeCursor(s string) (*linkapi.ChangePosition, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var p linkapi.ChangePosition
	if err == nil {
		var rest string
		n, _ := fmt.Sscanf(string(b), changeCursorPrefix+"%d:%d%s", &p.Account, &p.Seq, &rest)
		if n == 2 && p.Account >= 0 && p.Seq >= 0 && encodeChangeCursor(p) == s {
			return &p, nil
		}
	}
	return nil, linkapi.Errorf(linkapi.EINVALID, "after is not a valid cursor of changes")
}

// findChanges runs the changes query: a page of the feed, with the links and
// tags its changes name read for all of them at once when the query asks.
func (r *Resolver) findChanges(ctx context.Context, after *string, first *int, accountID *string) (*model.ChangeConnection, error) {
	owner, err := parseOptionalID(accountID)
	if err != nil {
		return nil, err
	}
	p, err := page(first, nil)
	if err != nil {
		return nil, err
	}
	filter := linkapi.ChangeFilter{First: p.First, AccountID: owner}
	if after != nil {
		if filter.After, err = decodeChangeCursor(*after); err != nil {
			return nil, err
		}
	}
	list, err := r.ChangeService.FindChanges(ctx, filter)
	if err != nil {
		return nil, err
	}
	conn := &model.ChangeConnection{
		Nodes:    list.Changes,
		Edges:    make([]*model.ChangeEdge, len(list.Changes)),
		PageInfo: &model.PageInfo{HasNextPage: list.HasNextPage},
		Latest: func(ctx context.Context) (string, error) {
			pos, err := r.ChangeService.LatestChange(ctx, owner)
			return encodeChangeCursor(pos), err
		},
	}
	for i, c := range list.Changes {
		conn.Edges[i] = &model.ChangeEdge{Cursor: encodeChangeCursor(c.Position), Node: c}
	}
	end := encodeChangeCursor(list.End)
	conn.PageInfo.EndCursor = &end
	r.prefetchChanges(ctx, list.Changes, connectionItems(ctx, "Change"))
	return conn, nil
}

// objectIDs returns the ids of the objects of type typ that changes name.
func objectIDs(changes []*linkapi.Change, typ string) []int64 {
	var ids []int64
	for _, c := range changes {
		if c.ObjectType == typ {
			ids = append(ids, c.ObjectID)
		}
	}
	return ids
}

// prefetchChanges reads, for all of changes at once, the links and tags that
// fields select, and looks ahead at what they select in turn.
func (r *Resolver) prefetchChanges(ctx context.Context, changes []*linkapi.Change, fields []graphql.CollectedField) {
	oc := graphql.GetOperationContext(ctx)
	for _, f := range fields {
		if !allowed(ctx, f) {
			continue
		}
		switch f.Name {
		case "link":
			if ids := objectIDs(changes, linkapi.ObjectLink); len(ids) > 0 {
				if byID, _, err := r.linksOfIDs(ctx, ids); err == nil {
					r.prefetchLinks(ctx, values(byID), graphql.CollectFields(oc, f.Selections, []string{"Link"}))
				}
			}
		case "tag":
			if ids := objectIDs(changes, linkapi.ObjectTag); len(ids) > 0 {
				if byID, _, err := r.tagsOfIDs(ctx, ids); err == nil {
					r.prefetchTags(ctx, values(byID), graphql.CollectFields(oc, f.Selections, []string{"Tag"}))
				}
			}
		}
	}
}

func (r *Resolver) linksOfIDs(ctx context.Context, ids []int64) (map[int64]*linkapi.Link, bool, error) {
	return load(ctx, linkOfID, linkapi.Page{}, ids, func(ids []int64) (map[int64]*linkapi.Link, error) {
		return r.ChangeService.FindLinksByIDs(ctx, ids)
	})
}

func (r *Resolver) tagsOfIDs(ctx context.Context, ids []int64) (map[int64]*linkapi.Tag, bool, error) {
	return load(ctx, tagOfID, linkapi.Page{}, ids, func(ids []int64) (map[int64]*linkapi.Tag, error) {
		return r.ChangeService.FindTagsByIDs(ctx, ids)
	})
}

// changedObject returns the object a change names as it is now, nil when it is
// gone or of another type; byID reads it through load, which finds it read
// when prefetchChanges read the page's.
func changedObject[T any](ctx context.Context, c *linkapi.Change, typ string, byID func(context.Context, []int64) (map[int64]*T, bool, error)) (*T, error) {
	if c.ObjectType != typ {
		return nil, nil
	}
	found, _, err := byID(ctx, []int64{c.ObjectID})
	if err != nil {
		return nil, err
	}
	return found[c.ObjectID], nil
}

// bulkPayload converts the answer of a bulk write, looking ahead at what the
// query selects on its links.
func (r *Resolver) bulkPayload(ctx context.Context, res *linkapi.BulkResult, err error) (*model.BulkLinkPayload, error) {
	if err != nil {
		return nil, err
	}
	out := &model.BulkLinkPayload{Links: res.Links, Errors: make([]*model.BulkError, len(res.Errors))}
	for i, e := range res.Errors {
		out.Errors[i] = &model.BulkError{Index: e.Index, Code: codes[e.Err.Code], Message: e.Err.Message}
	}
	var links []*linkapi.Link
	for _, l := range res.Links {
		if l != nil {
			links = append(links, l)
		}
	}
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "links" {
			r.prefetchLinks(ctx, links, graphql.CollectFields(oc, f.Selections, []string{"Link"}))
		}
	}
	return out, nil
}

// bulkIDs reads the ids of a bulk write; one that is not an id of ours is 0,
// which fails its item alone with NOT_FOUND.
func bulkIDs(ids []string) []int64 {
	out := make([]int64, len(ids))
	for i, s := range ids {
		out[i], _ = parseID(s)
	}
	return out
}

// bulkCost prices a bulk mutation for the complexity limit: each of its items
// costs what the payload selects for one item, and a write of its own.
func bulkCost(child, items int) int {
	const perItem = 10
	return 1 + max(items, 1)*(child+perItem)
}

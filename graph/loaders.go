package graph

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// Every field that reads something for a parent object (Link.tags, Link.account,
// Tag.links, Tag.account, Account.links, Account.tags) reads it through load, for
// many parents at once, so that a request costs a number of statements that grows
// with its document but not with its lists, however deeply they nest. Two things
// make that so:
//
//   - Reads are kept for the root field they serve (withReads), keyed by what they
//     read, for which parent, at which page: a parent whose value another field
//     has read, or is reading, is not read again. 100 links of one account asking
//     account { links { totalCount } } count once.
//   - Whoever reads a list looks ahead (prefetchLinks, prefetchTags,
//     prefetchAccounts) at what the query selects on its items, and reads it for
//     all of them at once, recursively, before their own resolvers run; those then
//     find it read. links { nodes { tags { links { nodes { id } } } } } reads the
//     links of every tag of every link in one statement.
//
// A root field's reads are not shared with the next: the root fields of a
// mutation run one after another, and each must see what the one before wrote.
// Everything is read through the same tenant-confined services as everything
// else, and each resolver still reads whatever it does not find read, so looking
// ahead only ever saves statements: when it cannot read a field's arguments, it
// leaves the field to its resolver. It skips a field whose @hasScope the caller
// does not pass, which its resolver would refuse.

// readKind names what a read reads, for one parent.
type readKind uint8

const (
	tagsOfLink readKind = iota
	accountOfID
	linksOfTag
	linkCountOfTag
	linksOfAccount
	linkCountOfAccount
	tagsOfAccount
	tagCountOfAccount
	linkOfID
	tagOfID
)

// readKey names a read of one kind at one page, whose parents each have a
// readBatch.
type readKey struct {
	kind readKind
	page any // a linkapi.Page or linkapi.LinkPage
}

// readBatch is what one call of fetch read for its n parents (a map[int64]V by
// parent), ready when done is closed; every parent of the call shares it.
type readBatch struct {
	done   chan struct{}
	values any
	err    error
	n      int
}

// reads holds the reads of one root field.
type reads struct {
	mu sync.Mutex
	m  map[readKey]map[int64]*readBatch
}

type readsContextKey struct{}

// withReads gives each root field its own reads; NewHandler installs it.
func withReads(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	return next(context.WithValue(ctx, readsContextKey{}, &reads{m: map[readKey]map[int64]*readBatch{}}))
}

// errUnfinished is the answer of a read whose fetch panicked.
var errUnfinished = linkapi.Errorf(linkapi.EINTERNAL, "a read did not finish")

// load returns, keyed by parent, the value of kind at page p of each of parents
// that has one. It reads with one call of fetch the parents that no other call has
// read or is reading, and waits for the others; fresh reports whether it read any
// itself (the caller that did looks ahead for the parents it read). Without reads
// in ctx (outside NewHandler) it reads them all. The map it returns may be the
// one fetch returned, which other loads of the same parents return too: callers
// read it and never change it.
func load[V any](ctx context.Context, kind readKind, p any, parents []int64, fetch func([]int64) (map[int64]V, error)) (out map[int64]V, fresh bool, err error) {
	rs, _ := ctx.Value(readsContextKey{}).(*reads)
	if rs == nil {
		out, err := fetch(distinct(parents))
		return out, true, err
	}
	batches := make(map[int64]*readBatch, len(parents))
	mine := make([]int64, 0, len(parents))
	var b *readBatch
	shared := true // every parent's value is in one batch read for them alone
	rs.mu.Lock()
	read := rs.m[readKey{kind, p}]
	if read == nil {
		read = make(map[int64]*readBatch, len(parents))
		rs.m[readKey{kind, p}] = read
	}
	for _, id := range parents {
		if batches[id] != nil {
			continue
		}
		e := read[id]
		if e == nil {
			if b == nil {
				b = &readBatch{done: make(chan struct{})}
			}
			e = b
			read[id] = e
			mine = append(mine, id)
		}
		if len(batches) > 0 && e != batches[parents[0]] {
			shared = false
		}
		batches[id] = e
	}
	rs.mu.Unlock()
	if b != nil {
		b.n = len(mine)
		func() {
			var got map[int64]V
			var err error = errUnfinished
			defer func() {
				b.values, b.err = got, err
				close(b.done)
			}()
			got, err = fetch(mine)
		}()
	}
	for _, e := range batches {
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if e.err != nil {
			return nil, false, e.err
		}
		if shared && e.n == len(batches) {
			// The batch holds these parents and no others: its map is the answer.
			vals, _ := e.values.(map[int64]V)
			return vals, b != nil, nil
		}
	}
	out = make(map[int64]V, len(batches))
	for id, e := range batches {
		if v, ok := e.values.(map[int64]V)[id]; ok {
			out[id] = v
		}
	}
	return out, b != nil, nil
}

func distinct(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// tagsOfLinks reads the tags of the links of ids, filled for selections (what
// the query selects on them): reads for selections that differ in the fields
// they need are batched apart.
func (r *Resolver) tagsOfLinks(ctx context.Context, ids []int64, selections []graphql.CollectedField) (map[int64][]*linkapi.Tag, bool, error) {
	fields := tagFieldsOf(selections)
	return load(ctx, tagsOfLink, fields, ids, func(ids []int64) (map[int64][]*linkapi.Tag, error) {
		return r.TagService.FindTagsByLinkIDs(ctx, ids, fields)
	})
}

// tagFieldsOf returns the fields of a Tag beyond ID, AccountID and Name that
// selections read; every field for a selection it does not know.
func tagFieldsOf(selections []graphql.CollectedField) linkapi.TagFields {
	var fields linkapi.TagFields
	for _, f := range selections {
		switch f.Name {
		case "__typename", "id", "name", "links", "account":
		case "createdAt":
			fields |= linkapi.TagCreatedAt
		default:
			return linkapi.AllTagFields
		}
	}
	return fields
}

// accountsOfIDs reads the accounts of ids. In a query, the caller's own account,
// the only one a caller who is not an administrator sees, comes from what the
// request's authentication read (as me's does) rather than from a statement of
// its own.
func (r *Resolver) accountsOfIDs(ctx context.Context, ids []int64) (map[int64]*linkapi.Account, bool, error) {
	return load(ctx, accountOfID, linkapi.Page{}, ids, func(ids []int64) (map[int64]*linkapi.Account, error) {
		if own := callerAccount(ctx); own != nil && !slices.ContainsFunc(ids, func(id int64) bool { return id != own.ID }) {
			return map[int64]*linkapi.Account{own.ID: own}, nil
		}
		return r.AccountService.FindAccountsByIDs(ctx, ids)
	})
}

// callerAccount is the caller's account as the request's authentication read
// it, in a query; nil in a mutation, which may have changed it since, and
// when the request read none.
func callerAccount(ctx context.Context) *linkapi.Account {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Query {
		return nil
	}
	if c := auth.FromContext(ctx); c != nil && c.Account != nil && c.Account.ID == c.AccountID {
		return c.Account
	}
	return nil
}

func (r *Resolver) linksOfTags(ctx context.Context, ids []int64, p linkapi.LinkPage) (map[int64]*linkapi.LinkList, bool, error) {
	return load(ctx, linksOfTag, p, ids, func(ids []int64) (map[int64]*linkapi.LinkList, error) {
		return r.LinkService.FindLinksByTagIDs(ctx, ids, p)
	})
}

func (r *Resolver) linkCountsOfTags(ctx context.Context, ids []int64) (map[int64]int, bool, error) {
	return load(ctx, linkCountOfTag, linkapi.Page{}, ids, func(ids []int64) (map[int64]int, error) {
		return r.TagService.CountLinksByTagIDs(ctx, ids)
	})
}

func (r *Resolver) linksOfAccounts(ctx context.Context, ids []int64, p linkapi.LinkPage) (map[int64]*linkapi.LinkList, bool, error) {
	return load(ctx, linksOfAccount, p, ids, func(ids []int64) (map[int64]*linkapi.LinkList, error) {
		return r.LinkService.FindLinksByAccountIDs(ctx, ids, p)
	})
}

func (r *Resolver) linkCountsOfAccounts(ctx context.Context, ids []int64) (map[int64]int, bool, error) {
	return load(ctx, linkCountOfAccount, linkapi.Page{}, ids, func(ids []int64) (map[int64]int, error) {
		return r.LinkService.CountLinksByAccountIDs(ctx, ids)
	})
}

func (r *Resolver) tagsOfAccounts(ctx context.Context, ids []int64, p linkapi.Page) (map[int64]*linkapi.TagList, bool, error) {
	return load(ctx, tagsOfAccount, p, ids, func(ids []int64) (map[int64]*linkapi.TagList, error) {
		return r.TagService.FindTagsByAccountIDs(ctx, ids, p)
	})
}

func (r *Resolver) tagCountsOfAccounts(ctx context.Context, ids []int64) (map[int64]int, bool, error) {
	return load(ctx, tagCountOfAccount, linkapi.Page{}, ids, func(ids []int64) (map[int64]int, error) {
		return r.TagService.CountTagsByAccountIDs(ctx, ids)
	})
}

// tagsOfEach returns the tags of each of the links of ids, in order. When it read
// them, it looks ahead at what the query selects on them.
func (r *Resolver) tagsOfEach(ctx context.Context, ids []int64) ([][]*linkapi.Tag, error) {
	fields := graphql.CollectFieldsCtx(ctx, []string{"Tag"})
	byLink, fresh, err := r.tagsOfLinks(ctx, ids, fields)
	if err != nil {
		return nil, err
	}
	out := make([][]*linkapi.Tag, len(ids))
	for i, id := range ids {
		if out[i] = byLink[id]; out[i] == nil {
			out[i] = []*linkapi.Tag{}
		}
	}
	if fresh && prefetchesFromTags(fields) {
		r.prefetchTags(ctx, slices.Concat(out...), fields)
	}
	return out, nil
}

// tagLinkCounter counts the links of tag: its LinkCount when it was read with
// one, else through load.
func (r *Resolver) tagLinkCounter(tag *linkapi.Tag) batchCounter {
	if tag.LinkCount == nil {
		return r.linkCountsOfTags
	}
	n := *tag.LinkCount
	return func(context.Context, []int64) (map[int64]int, bool, error) {
		return map[int64]int{tag.ID: n}, false, nil
	}
}

// accounts returns the account of each id, in order; an account the caller may
// not see is NOT_FOUND at its place. When it read them, it looks ahead at what
// the query selects on them.
func (r *Resolver) accounts(ctx context.Context, ids []int64) ([]*linkapi.Account, error) {
	byID, fresh, err := r.accountsOfIDs(ctx, ids)
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
	if fresh {
		r.prefetchAccounts(ctx, values(byID), graphql.CollectFieldsCtx(ctx, []string{"Account"}))
	}
	if errs != nil {
		return out, errs
	}
	return out, nil
}

// prefetchLinks reads, for all of links at once, what fields (selected on each
// of them) will read, and so on down. A read that fails is left for the
// resolvers, which find its error.
func (r *Resolver) prefetchLinks(ctx context.Context, links []*linkapi.Link, fields []graphql.CollectedField) {
	links = uniq(links, func(l *linkapi.Link) int64 { return l.ID })
	if len(links) == 0 {
		return
	}
	oc := graphql.GetOperationContext(ctx)
	for _, f := range fields {
		if !allowed(ctx, f) {
			continue
		}
		switch f.Name {
		case "tags":
			ids := make([]int64, len(links))
			for i, l := range links {
				ids[i] = l.ID
			}
			sub := graphql.CollectFields(oc, f.Selections, []string{"Tag"})
			if byLink, _, err := r.tagsOfLinks(ctx, ids, sub); err == nil {
				if prefetchesFromTags(sub) {
					var tags []*linkapi.Tag
					for _, l := range links {
						tags = append(tags, byLink[l.ID]...)
					}
					r.prefetchTags(ctx, tags, sub)
				}
			}
		case "account":
			prefetchAccountsOf(ctx, r, links, func(l *linkapi.Link) int64 { return l.AccountID }, f)
		}
	}
}

// prefetchesFromTags reports whether prefetchTags reads anything for fields.
func prefetchesFromTags(fields []graphql.CollectedField) bool {
	return slices.ContainsFunc(fields, func(f graphql.CollectedField) bool { return f.Name == "links" || f.Name == "account" })
}

// prefetchTags is prefetchLinks for tags.
func (r *Resolver) prefetchTags(ctx context.Context, tags []*linkapi.Tag, fields []graphql.CollectedField) {
	if !prefetchesFromTags(fields) {
		return
	}
	tags = uniq(tags, func(t *linkapi.Tag) int64 { return t.ID })
	if len(tags) == 0 {
		return
	}
	oc := graphql.GetOperationContext(ctx)
	ids := make([]int64, 0, len(tags))
	var uncounted []int64
	for _, t := range tags {
		ids = append(ids, t.ID)
		if t.LinkCount == nil {
			uncounted = append(uncounted, t.ID)
		}
	}
	for _, f := range fields {
		if !allowed(ctx, f) {
			continue
		}
		switch f.Name {
		case "links":
			p, items, count, ok := nested(oc, f, nestedLinkPage)
			if !ok {
				continue
			}
			if count && len(uncounted) > 0 {
				_, _, _ = r.linkCountsOfTags(ctx, uncounted)
			}
			if items {
				if lists, _, err := r.linksOfTags(ctx, ids, p); err == nil {
					r.prefetchLinks(ctx, linksOf(lists), itemFields(oc, f.Selections, "Link"))
				}
			}
		case "account":
			prefetchAccountsOf(ctx, r, tags, func(t *linkapi.Tag) int64 { return t.AccountID }, f)
		}
	}
}

// prefetchAccountsOf reads the accounts of items for the field f that selects
// them, and looks ahead at them.
func prefetchAccountsOf[T any](ctx context.Context, r *Resolver, items []T, account func(T) int64, f graphql.CollectedField) {
	ids := make([]int64, len(items))
	for i, item := range items {
		ids[i] = account(item)
	}
	if byID, _, err := r.accountsOfIDs(ctx, ids); err == nil {
		r.prefetchAccounts(ctx, values(byID), graphql.CollectFields(graphql.GetOperationContext(ctx), f.Selections, []string{"Account"}))
	}
}

// prefetchAccounts is prefetchLinks for accounts.
func (r *Resolver) prefetchAccounts(ctx context.Context, accounts []*linkapi.Account, fields []graphql.CollectedField) {
	if len(accounts) == 0 {
		return
	}
	oc := graphql.GetOperationContext(ctx)
	ids := make([]int64, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	for _, f := range fields {
		if f.Name != "links" && f.Name != "tags" || !allowed(ctx, f) {
			continue
		}
		switch f.Name {
		case "links":
			p, items, count, ok := nested(oc, f, nestedLinkPage)
			if !ok {
				continue
			}
			if count {
				_, _, _ = r.linkCountsOfAccounts(ctx, ids)
			}
			if items {
				if lists, _, err := r.linksOfAccounts(ctx, ids, p); err == nil {
					r.prefetchLinks(ctx, linksOf(lists), itemFields(oc, f.Selections, "Link"))
				}
			}
		case "tags":
			p, items, count, ok := nested(oc, f, page)
			if !ok {
				continue
			}
			if count {
				_, _, _ = r.tagCountsOfAccounts(ctx, ids)
			}
			if items {
				if lists, _, err := r.tagsOfAccounts(ctx, ids, p); err == nil {
					var tags []*linkapi.Tag
					for _, l := range lists {
						tags = append(tags, l.Tags...)
					}
					r.prefetchTags(ctx, tags, itemFields(oc, f.Selections, "Tag"))
				}
			}
		}
	}
}

// allowed reports whether the caller holds the scopes that f's @hasScope asks
// for, so that looking ahead reads nothing for a field its resolver will refuse.
func allowed(ctx context.Context, f graphql.CollectedField) bool {
	if f.Definition == nil {
		return false
	}
	for _, d := range f.Definition.Directives.ForNames("hasScope") {
		arg := d.Arguments.ForName("scopes")
		if arg == nil || arg.Value == nil {
			return false
		}
		scopes := make([]string, len(arg.Value.Children))
		for i, c := range arg.Value.Children {
			scopes[i] = c.Value.Raw
		}
		if checkScopes(ctx, scopes) != nil {
			return false
		}
	}
	return true
}

func linksOf(lists map[int64]*linkapi.LinkList) []*linkapi.Link {
	var out []*linkapi.Link
	for _, l := range lists {
		out = append(out, l.Links...)
	}
	return out
}

// uniq returns items without repeats of an id, in order.
func uniq[T any](items []T, id func(T) int64) []T {
	seen := make(map[int64]bool, len(items))
	out := items[:0:0]
	for _, item := range items {
		if !seen[id(item)] {
			seen[id(item)] = true
			out = append(out, item)
		}
	}
	return out
}

func values[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// nested reads, with parse, the page a connection field f asks for and whether it
// selects items (edges, nodes or pageInfo) and totalCount; ok is false when its
// arguments are not a page, which its resolver will then refuse.
func nested[P any](oc *graphql.OperationContext, f graphql.CollectedField, parse func(first *int, after *string) (P, error)) (p P, items, count, ok bool) {
	var first *int
	var after *string
	for _, a := range f.Arguments {
		v, err := a.Value.Value(oc.Variables)
		if err != nil {
			return p, false, false, false
		}
		switch a.Name {
		case "first":
			if v != nil {
				n, isInt := asInt(v)
				if !isInt {
					return p, false, false, false
				}
				first = &n
			}
		case "after":
			if v != nil {
				s, isString := v.(string)
				if !isString {
					return p, false, false, false
				}
				after = &s
			}
		}
	}
	p, err := parse(first, after)
	if err != nil {
		return p, false, false, false
	}
	for _, g := range graphql.CollectFields(oc, f.Selections, nil) {
		switch g.Name {
		case "edges", "nodes", "pageInfo":
			items = true
		case "totalCount":
			count = true
		}
	}
	return p, items, count, true
}

// asInt reads an Int argument: int64 from a literal or a coerced variable, the
// others for whatever else a variable may hold.
func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		return int(n), int64(int(n)) == n
	case int:
		return n, true
	case float64:
		return int(n), float64(int(n)) == n
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil && int64(int(i)) == i
	}
	return 0, false
}

// itemFields returns the fields that a connection's selection sel selects on its
// items of type typ, under nodes and under edges { node }.
func itemFields(oc *graphql.OperationContext, sel ast.SelectionSet, typ string) []graphql.CollectedField {
	var out []graphql.CollectedField
	for _, g := range graphql.CollectFields(oc, sel, nil) {
		switch g.Name {
		case "nodes":
			out = append(out, graphql.CollectFields(oc, g.Selections, []string{typ})...)
		case "edges":
			for _, h := range graphql.CollectFields(oc, g.Selections, nil) {
				if h.Name == "node" {
					out = append(out, graphql.CollectFields(oc, h.Selections, []string{typ})...)
				}
			}
		}
	}
	return out
}

package graph

import (
	"context"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"linkapi/graph/model"
	"linkapi/internal/linkapi"
)

// The root links list answered without gqlgen's per-object machinery.
//
// gqlgen resolves and marshals every field of every object on its own: a
// goroutine per list element and per resolver field, a FieldContext and a path
// per field, the selection collected again for each object. On a page of links
// that was most of the server's CPU. fastLists answers `links` at the root of a
// query itself when everything the query selects below it is a field whose value
// is already in hand once the page and the batch reads are done (the scalars of
// Link, Tag and Account, Link.tags and Link.account through the same loaders,
// totalCount, edges and pageInfo): it collects each selection once per list,
// checks each @hasScope of the fields selected once for the whole list with the
// directive's own check, reads what the list needs once, and writes the JSON
// sequentially into one pooled buffer.
//
// Anything else it does not answer, and gqlgen runs the field as always: a
// selection it does not know (a nested connection, Tag.account, @defer), a
// scope the caller lacks, arguments that do not coerce, any error or null
// where the schema says non-null, a panic. So every error, with its path and the
// nulls it propagates, is gqlgen's own, and what fastLists answers is what
// gqlgen would have answered (fastlist_test.go compares the two).
type fastLists struct {
	es *executableSchema
	// scopes are the scopes @hasScope asks for on each field, by "Type.field".
	scopes map[string][]string
}

var _ interface {
	graphql.HandlerExtension
	graphql.RootFieldInterceptor
} = fastLists{}

func (fastLists) ExtensionName() string                          { return "FastLists" }
func (fastLists) Validate(schema graphql.ExecutableSchema) error { return nil }

// newFastLists returns the extension for es, or false when es is not this
// package's executor.
func newFastLists(es graphql.ExecutableSchema) (fastLists, bool) {
	e, ok := es.(*executableSchema)
	if !ok {
		return fastLists{}, false
	}
	return fastLists{es: e, scopes: fieldScopes(es.Schema())}, true
}

// fieldScopes returns the scopes of every @hasScope on a field of schema, by
// "Type.field".
func fieldScopes(schema *ast.Schema) map[string][]string {
	out := map[string][]string{}
	for _, def := range schema.Types {
		for _, f := range def.Fields {
			for _, d := range f.Directives.ForNames("hasScope") {
				if arg := d.Arguments.ForName("scopes"); arg != nil && arg.Value != nil {
					for _, c := range arg.Value.Children {
						out[def.Name+"."+f.Name] = append(out[def.Name+"."+f.Name], c.Value.Raw)
					}
				}
			}
		}
	}
	return out
}

// fastTypes are the fields fastLists answers, by type: the type of an object
// field's value, or "" for a scalar one.
var fastTypes = map[string]map[string]string{
	"LinkConnection": {"nodes": "Link", "edges": "LinkEdge", "pageInfo": "PageInfo", "totalCount": ""},
	"LinkEdge":       {"cursor": "", "node": "Link"},
	"PageInfo":       {"hasNextPage": "", "endCursor": ""},
	"Link": {"id": "", "url": "", "title": "", "description": "", "notes": "", "unread": "", "archived": "",
		"favorite": "", "faviconUrl": "", "previewImageUrl": "", "createdAt": "", "updatedAt": "",
		"tags": "Tag", "account": "Account"},
	"Tag":     {"id": "", "name": "", "createdAt": ""},
	"Account": {"id": "", "email": "", "scopes": "", "createdAt": ""},
}

// fastPlan is a selection set collected once for every object of its type.
type fastPlan struct {
	fields []graphql.CollectedField
	subs   []*fastPlan // the plan of each object field, nil for scalars
}

// planner collects the plans of one query and what they need.
type planner struct {
	oc     *graphql.OperationContext
	scoped map[string]bool // "Type.field" of every field selected
	tags   *graphql.CollectedField
	acct   *graphql.CollectedField
	count  bool
}

// plan collects sel on typ, or reports that fastLists does not answer it.
func (p *planner) plan(typ string, sel ast.SelectionSet) (*fastPlan, bool) {
	known := fastTypes[typ]
	out := &fastPlan{fields: graphql.CollectFields(p.oc, sel, []string{typ})}
	out.subs = make([]*fastPlan, len(out.fields))
	for i := range out.fields {
		f := &out.fields[i]
		if len(f.Deferrables) > 0 || len(f.Arguments) > 0 {
			return nil, false
		}
		if f.Name == "__typename" {
			continue
		}
		child, ok := known[f.Name]
		if !ok {
			return nil, false
		}
		p.scoped[typ+"."+f.Name] = true
		switch typ + "." + f.Name {
		case "Link.tags":
			p.tags = f
		case "Link.account":
			p.acct = f
		case "LinkConnection.totalCount":
			p.count = true
		}
		if child != "" {
			sub, ok := p.plan(child, f.Selections)
			if !ok {
				return nil, false
			}
			out.subs[i] = sub
		}
	}
	return out, true
}

// InterceptRootField answers a links field at the root of a query when it can,
// and lets gqlgen run it otherwise.
func (fl fastLists) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rf := graphql.GetRootFieldContext(ctx)
	// gqlgen names the field, not its type, in RootFieldContext.Object.
	if rf == nil || rf.Field.Field == nil || rf.Field.ObjectDefinition == nil || rf.Field.ObjectDefinition.Name != "Query" {
		return next(ctx)
	}
	if m, ok := fl.root(ctx, rf.Field); ok {
		return m
	}
	return next(ctx)
}

// root answers the root field of a query it knows, or reports that it does not.
func (fl fastLists) root(ctx context.Context, field graphql.CollectedField) (m graphql.Marshaler, ok bool) {
	defer func() {
		// gqlgen reports the panic, with its path, when it runs the field again.
		if r := recover(); r != nil {
			m, ok = nil, false
		}
	}()
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil, false
	}
	switch field.Name {
	case "links":
		return fl.links(ctx, oc, field)
	case "me":
		return fl.me(ctx, oc, field)
	}
	return nil, false
}

// plan collects the selection of the root field on typ, and checks the scopes
// of every field it selects.
func (fl fastLists) plan(ctx context.Context, oc *graphql.OperationContext, field graphql.CollectedField, typ string) (*planner, *fastPlan, bool) {
	p := &planner{oc: oc, scoped: map[string]bool{"Query." + field.Name: true}}
	plan, ok := p.plan(typ, field.Selections)
	if !ok || !fl.allowed(ctx, p.scoped) {
		return nil, nil, false
	}
	return p, plan, true
}

// answer is w, unless it found something gqlgen answers with an error; n
// counts the answers.
func answer(w *fastWriter, n *atomic.Int64) (graphql.Marshaler, bool) {
	if w.bad {
		putFastBuffer(w.buf)
		return nil, false
	}
	n.Add(1)
	return w, true
}

// allowed reports whether the caller holds the scopes of @hasScope on every
// field of scoped, by "Type.field".
func (fl fastLists) allowed(ctx context.Context, scoped map[string]bool) bool {
	for key := range scoped {
		if scopes := fl.scopes[key]; scopes != nil && checkScopes(ctx, scopes) != nil {
			return false
		}
	}
	return true
}

// me answers `me` at the root of a query when it selects only the scalars of
// Account, as links answers its lists.
func (fl fastLists) me(ctx context.Context, oc *graphql.OperationContext, field graphql.CollectedField) (graphql.Marshaler, bool) {
	_, plan, ok := fl.plan(ctx, oc, field, "Account")
	if !ok || len(field.Arguments) > 0 {
		return nil, false
	}
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query", Field: field, IsMethod: true, IsResolver: true})
	acc, err := fl.es.Resolvers.Query().Me(ctx)
	if err != nil || acc == nil {
		return nil, false
	}
	w := &fastWriter{buf: getFastBuffer()}
	w.account(plan, acc)
	return answer(w, &fastMeAnswers)
}

// fastData is what a links page answers with, read once for all its links.
type fastData struct {
	conn     *model.LinkConnection
	tags     map[int64][]*linkapi.Tag
	accounts map[int64]*linkapi.Account
	count    int
}

func (fl fastLists) links(ctx context.Context, oc *graphql.OperationContext, field graphql.CollectedField) (graphql.Marshaler, bool) {
	p, plan, ok := fl.plan(ctx, oc, field, "LinkConnection")
	if !ok {
		return nil, false
	}
	ec := newExecutionContext(oc, fl.es, nil)
	args, err := ec.field_Query_links_args(ctx, field.ArgumentMap(oc.Variables))
	if err != nil {
		return nil, false
	}
	fc := &graphql.FieldContext{Object: "Query", Field: field, Args: args, IsMethod: true, IsResolver: true}
	ctx = graphql.WithFieldContext(ctx, fc)
	d := fastData{}
	d.conn, err = ec.Resolvers.Query().Links(ctx, args["first"].(*int), args["after"].(*string), args["tag"].(*string),
		args["search"].(*string), args["accountId"].(*string), args["unread"].(*bool), args["archived"].(*bool),
		args["favorite"].(*bool), args["tags"].([]string), args["anyTags"].([]string), args["excludeTags"].([]string),
		args["updatedSince"].(*time.Time), args["orderBy"].(*model.LinkOrder))
	if err != nil || d.conn == nil {
		return nil, false
	}
	r, _ := ec.Resolvers.(*Resolver)
	if r == nil {
		return nil, false
	}
	links := d.conn.Nodes
	if len(links) > 0 && (p.tags != nil || p.acct != nil) {
		ids, owners := make([]int64, len(links)), make([]int64, len(links))
		for i, l := range links {
			if l == nil {
				return nil, false
			}
			ids[i], owners[i] = l.ID, l.AccountID
		}
		// Each read runs under the field context of its field, as the batch
		// resolvers do, so that what they look ahead at is the same.
		if p.tags != nil {
			tctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Parent: fc, Object: "Link", Field: *p.tags, IsMethod: true, IsResolver: true})
			each, err := r.tagsOfEach(tctx, ids)
			if err != nil {
				return nil, false
			}
			d.tags = make(map[int64][]*linkapi.Tag, len(ids))
			for i, id := range ids {
				d.tags[id] = each[i]
			}
		}
		if p.acct != nil {
			actx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Parent: fc, Object: "Link", Field: *p.acct, IsMethod: true, IsResolver: true})
			each, err := r.accounts(actx, owners)
			if err != nil {
				return nil, false
			}
			d.accounts = make(map[int64]*linkapi.Account, 1)
			for i, id := range owners {
				d.accounts[id] = each[i]
			}
		}
	}
	if p.count {
		if d.count, err = d.conn.Count(ctx); err != nil {
			return nil, false
		}
	}
	w := &fastWriter{buf: getFastBuffer()}
	w.connection(plan, &d)
	return answer(w, &fastAnswers)
}

var fastAnswers, fastMeAnswers atomic.Int64

// FastListAnswers returns how many root links lists this process answered
// without gqlgen's per-object executor, for tests and diagnostics.
func FastListAnswers() int64 { return fastAnswers.Load() }

// FastMeAnswers returns how many root me fields this process answered without
// gqlgen's executor, for tests and diagnostics.
func FastMeAnswers() int64 { return fastMeAnswers.Load() }

// fastBuffers holds the buffers answers are written into.
var fastBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getFastBuffer() []byte { return (*fastBuffers.Get().(*[]byte))[:0] }

func putFastBuffer(b []byte) {
	if cap(b) <= 1<<20 {
		fastBuffers.Put(&b)
	}
}

// fastWriter writes an answer as gqlgen would, and is the Marshaler that writes
// it out. bad is set on anything gqlgen would answer with an error.
type fastWriter struct {
	buf []byte
	bad bool
}

func (w *fastWriter) MarshalGQL(out io.Writer) {
	out.Write(w.buf)
	putFastBuffer(w.buf)
	w.buf = nil
}

// object writes the fields of plan on one object of typ, value writing each.
func (w *fastWriter) object(plan *fastPlan, typ string, value func(f *graphql.CollectedField, sub *fastPlan)) {
	w.buf = append(w.buf, '{')
	for i := range plan.fields {
		f := &plan.fields[i]
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.str(f.Alias)
		w.buf = append(w.buf, ':')
		if f.Name == "__typename" {
			w.str(typ)
			continue
		}
		value(f, plan.subs[i])
	}
	w.buf = append(w.buf, '}')
}

func (w *fastWriter) connection(plan *fastPlan, d *fastData) {
	c := d.conn
	w.object(plan, "LinkConnection", func(f *graphql.CollectedField, sub *fastPlan) {
		switch f.Name {
		case "nodes":
			writeList(w, c.Nodes, func(l *linkapi.Link) { w.link(sub, l, d) })
		case "edges":
			writeList(w, c.Edges, func(e *model.LinkEdge) {
				w.object(sub, "LinkEdge", func(f *graphql.CollectedField, sub *fastPlan) {
					switch f.Name {
					case "cursor":
						w.str(e.Cursor)
					case "node":
						w.link(sub, e.Node, d)
					}
				})
			})
		case "pageInfo":
			if c.PageInfo == nil {
				w.bad = true
				return
			}
			w.object(sub, "PageInfo", func(f *graphql.CollectedField, _ *fastPlan) {
				switch f.Name {
				case "hasNextPage":
					w.bool(c.PageInfo.HasNextPage)
				case "endCursor":
					w.optStr(c.PageInfo.EndCursor)
				}
			})
		case "totalCount":
			w.buf = strconv.AppendInt(w.buf, int64(d.count), 10)
		}
	})
}

func (w *fastWriter) link(plan *fastPlan, l *linkapi.Link, d *fastData) {
	if l == nil {
		w.bad = true
		return
	}
	w.object(plan, "Link", func(f *graphql.CollectedField, sub *fastPlan) {
		switch f.Name {
		case "id":
			w.id(l.ID)
		case "url":
			w.str(l.URL)
		case "title":
			w.optStr(l.Title)
		case "description":
			w.optStr(l.Description)
		case "notes":
			w.optStr(l.Notes)
		case "unread":
			w.bool(l.Unread)
		case "archived":
			w.bool(l.Archived)
		case "favorite":
			w.bool(l.Favorite)
		case "faviconUrl":
			w.optStr(l.FaviconURL)
		case "previewImageUrl":
			w.optStr(l.PreviewImageURL)
		case "createdAt":
			w.time(l.CreatedAt)
		case "updatedAt":
			w.time(l.UpdatedAt)
		case "tags":
			writeList(w, d.tags[l.ID], func(t *linkapi.Tag) { w.tag(sub, t) })
		case "account":
			w.account(sub, d.accounts[l.AccountID])
		}
	})
}

func (w *fastWriter) tag(plan *fastPlan, t *linkapi.Tag) {
	if t == nil {
		w.bad = true
		return
	}
	w.object(plan, "Tag", func(f *graphql.CollectedField, _ *fastPlan) {
		switch f.Name {
		case "id":
			w.id(t.ID)
		case "name":
			w.str(t.Name)
		case "createdAt":
			w.time(t.CreatedAt)
		}
	})
}

func (w *fastWriter) account(plan *fastPlan, a *linkapi.Account) {
	if a == nil {
		// gqlgen answers NOT_FOUND for it.
		w.bad = true
		return
	}
	w.object(plan, "Account", func(f *graphql.CollectedField, _ *fastPlan) {
		switch f.Name {
		case "id":
			w.id(a.ID)
		case "email":
			w.str(a.Email)
		case "scopes":
			if a.Scopes == nil {
				w.bad = true
				return
			}
			writeList(w, a.Scopes, w.str)
		case "createdAt":
			w.time(a.CreatedAt)
		}
	})
}

// writeList writes items as a JSON array, each with item.
func writeList[T any](w *fastWriter, items []T, item func(T)) {
	w.buf = append(w.buf, '[')
	for i, v := range items {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		item(v)
	}
	w.buf = append(w.buf, ']')
}

func (w *fastWriter) id(id int64) {
	w.buf = append(w.buf, '"')
	w.buf = strconv.AppendInt(w.buf, id, 10)
	w.buf = append(w.buf, '"')
}

func (w *fastWriter) bool(b bool) { w.buf = strconv.AppendBool(w.buf, b) }

func (w *fastWriter) optStr(s *string) {
	if s == nil {
		w.buf = append(w.buf, "null"...)
		return
	}
	w.str(*s)
}

// time writes t as graphql.MarshalTime does; a zero time, which gqlgen writes
// as null and then refuses on a non-null field, is left to gqlgen.
func (w *fastWriter) time(t time.Time) {
	if t.IsZero() {
		w.bad = true
		return
	}
	w.buf = append(w.buf, '"')
	w.buf = t.AppendFormat(w.buf, time.RFC3339Nano)
	w.buf = append(w.buf, '"')
}

const hexDigits = "0123456789abcdef"

// str writes s quoted as graphql.MarshalString does.
func (w *fastWriter) str(s string) {
	w.buf = append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		w.buf = append(w.buf, s[start:i]...)
		switch c {
		case '\t':
			w.buf = append(w.buf, `\t`...)
		case '\r':
			w.buf = append(w.buf, `\r`...)
		case '\n':
			w.buf = append(w.buf, `\n`...)
		case '\\':
			w.buf = append(w.buf, `\\`...)
		case '"':
			w.buf = append(w.buf, `\"`...)
		default:
			w.buf = append(w.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
}

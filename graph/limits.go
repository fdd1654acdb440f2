package graph

import (
	"context"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"linkapi/graph/model"
	"linkapi/internal/linkapi"
)

// Query limits. A depth of 8 admits links { edges { node { tags { links { nodes {
// id } } } } } } and refuses anything nine or more levels deep; complexity counts each field
// once, times the page size of every list above it.
const (
	MaxDepth      = 8
	MaxComplexity = 25000
	// MaxAliases bounds the aliased fields of one operation, so that one request
	// cannot ask for the same expensive field hundreds of times under other names.
	MaxAliases = 30
)

// listCost is the cost of a paged list: its children times the page it asks for.
func listCost(child int, first *int) int {
	n := linkapi.DefaultPageSize
	if first != nil && *first > 0 {
		n = *first
	}
	return 1 + child*n
}

// complexity prices every list in the schema for the complexity limit, each at
// the most items it can hold: a paged list at its page, and the lists that are
// not paged at the bound the store keeps them to when they are written.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Links = func(child int, first *int, _, _, _, _ *string, _, _, _ *bool, _, _, _ []string, _ *time.Time, _ *model.LinkOrder) int {
		return listCost(child, first)
	}
	c.Query.Tags = func(child int, first *int, _, _ *string) int { return listCost(child, first) }
	c.Query.Accounts = func(child int, first *int, _ *string) int { return listCost(child, first) }
	c.Account.Links = func(child int, first *int, _ *string) int { return listCost(child, first) }
	c.Account.Tags = func(child int, first *int, _ *string) int { return listCost(child, first) }
	c.Tag.Links = func(child int, first *int, _ *string) int { return listCost(child, first) }
	c.Link.Tags = func(child int) int { return 1 + child*linkapi.MaxTagsPerLink }
	c.Query.APITokens = func(child int) int { return 1 + child*linkapi.MaxAPITokens }
	c.Query.Changes = func(child int, _ *string, first *int, _ *string) int { return listCost(child, first) }
	c.Mutation.CreateLinks = func(child int, inputs []*model.CreateLinkInput) int { return bulkCost(child, len(inputs)) }
	c.Mutation.UpdateLinks = func(child int, ids []string, _ model.LinkPatch) int { return bulkCost(child, len(ids)) }
	c.Mutation.DeleteLinks = func(child int, ids []string) int { return bulkCost(child, len(ids)) }
	return c
}

// complexityLimit is gqlgen's FixedComplexityLimit, which prices the whole
// document on every request, remembering the price of each operation that
// declares no variables: it depends on the document and the list prices
// alone, and the document is the same query text. An operation with variables
// is priced anew each time, as its page sizes may come from them.
type complexityLimit struct {
	*extension.ComplexityLimit
	known graphql.Cache[int]
}

func newComplexityLimit(limit int) complexityLimit {
	return complexityLimit{extension.FixedComplexityLimit(limit), lru.New[int](1000)}
}

// MutateOperationContext implements graphql.OperationContextMutator: the same
// stats and the same error as gqlgen's.
func (c complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil || len(op.VariableDefinitions) > 0 {
		return c.ComplexityLimit.MutateOperationContext(ctx, oc)
	}
	key := oc.RawQuery
	if oc.OperationName != "" {
		key = oc.OperationName + "\x00" + oc.RawQuery
	}
	n, ok := c.known.Get(ctx, key)
	if !ok {
		err := c.ComplexityLimit.MutateOperationContext(ctx, oc)
		if s, _ := oc.Stats.GetExtension(c.ExtensionName()).(*extension.ComplexityStats); s != nil {
			c.known.Add(ctx, key, s.Complexity)
		}
		return err
	}
	limit := c.Func(ctx, oc)
	oc.Stats.SetExtension(c.ExtensionName(), &extension.ComplexityStats{Complexity: n, ComplexityLimit: limit})
	if n > limit {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", n, limit)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

// DepthLimit refuses, before execution, an operation whose selections nest deeper
// than Max, or that holds more than MaxAliases aliased fields. Introspection
// fields are not counted: GraphiQL's own schema query is deep by nature and
// bounded by the schema.
type DepthLimit struct{ Max, MaxAliases int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = DepthLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (DepthLimit) ExtensionName() string { return "DepthLimit" }

// Validate implements graphql.HandlerExtension.
func (DepthLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (d DepthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil
	}
	depth, aliases := 0, 0
	walkFields(op.SelectionSet, oc.Doc.Fragments, func(f *ast.Field, level int, introspection bool) {
		if f.Alias != "" && f.Alias != f.Name {
			aliases++
		}
		if !introspection && level > depth {
			depth = level
		}
	})
	if depth > d.Max {
		err := gqlerror.Errorf("operation has depth %d, which exceeds the limit of %d", depth, d.Max)
		errcode.Set(err, "DEPTH_LIMIT_EXCEEDED")
		return err
	}
	if d.MaxAliases > 0 && aliases > d.MaxAliases {
		err := gqlerror.Errorf("operation has %d aliased fields, which exceeds the limit of %d", aliases, d.MaxAliases)
		errcode.Set(err, "ALIAS_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

// walkFields calls visit for every field an operation selects, with its depth (1
// for the operation's own fields) and whether it is or lies under an
// introspection field (__schema, __type, __typename). Fragment spreads are
// followed where they are spread; validation has already refused fragment
// cycles, and the guard keeps this safe on its own.
func walkFields(set ast.SelectionSet, frags ast.FragmentDefinitionList, visit func(f *ast.Field, depth int, introspection bool)) {
	var walk func(set ast.SelectionSet, depth int, introspection bool, visiting map[string]bool)
	walk = func(set ast.SelectionSet, depth int, introspection bool, visiting map[string]bool) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				in := introspection || strings.HasPrefix(s.Name, "__")
				visit(s, depth, in)
				walk(s.SelectionSet, depth+1, in, visiting)
			case *ast.InlineFragment:
				walk(s.SelectionSet, depth, introspection, visiting)
			case *ast.FragmentSpread:
				if f := frags.ForName(s.Name); f != nil && !visiting[s.Name] {
					visiting[s.Name] = true
					walk(f.SelectionSet, depth, introspection, visiting)
					delete(visiting, s.Name)
				}
			}
		}
	}
	walk(set, 1, false, map[string]bool{})
}

// noIntrospection refuses, before execution, an operation that asks for __schema
// or __type, with the code INTROSPECTION_DISABLED; without it gqlgen would fail
// those fields at run time with an uncoded, internal-looking error. __typename
// stays allowed: clients such as Apollo add it to every selection.
type noIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noIntrospection{}

// ExtensionName implements graphql.HandlerExtension.
func (noIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (noIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil
	}
	asks := false
	walkFields(op.SelectionSet, oc.Doc.Fragments, func(f *ast.Field, _ int, _ bool) {
		asks = asks || f.Name == "__schema" || f.Name == "__type"
	})
	if asks {
		err := gqlerror.Errorf("introspection is disabled on this server")
		errcode.Set(err, "INTROSPECTION_DISABLED")
		return err
	}
	return nil
}

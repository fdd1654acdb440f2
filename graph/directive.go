package graph

import (
	"context"
	"fmt"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// HasScope implements @hasScope: every listed scope must be among the caller's
// effective scopes. Anonymous callers get UNAUTHENTICATED, others FORBIDDEN.
//
// On a field it is checked before the field resolves. On an argument (gqlgen
// passes the field's raw arguments as obj) it is checked once the argument is
// read, and only when the argument is given and not null: an argument left out
// asks for nothing, so links(tag: $tag) with $tag null needs no more than links.
func HasScope(ctx context.Context, obj any, next graphql.Resolver, scopes []string) (any, error) {
	if _, onArgument := obj.(map[string]any); onArgument {
		v, err := next(ctx)
		if err != nil || isNull(v) {
			return v, err
		}
		if err := checkScopes(ctx, scopes); err != nil {
			return nil, err
		}
		return v, nil
	}
	if err := checkScopes(ctx, scopes); err != nil {
		return nil, err
	}
	return next(ctx)
}

// checkScopes returns UNAUTHENTICATED for an anonymous caller and FORBIDDEN for
// one that lacks any of scopes.
func checkScopes(ctx context.Context, scopes []string) error {
	c := auth.FromContext(ctx)
	if c == nil {
		return linkapi.Errorf(linkapi.EUNAUTHENTICATED, "authentication required")
	}
	for _, s := range scopes {
		if !c.Has(s) {
			return linkapi.Errorf(linkapi.EFORBIDDEN, "missing scope %s", s)
		}
	}
	return nil
}

// isNull reports whether an argument's value, as gqlgen read it, is null.
func isNull(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// CheckSchemaScopes returns an error when a @hasScope in the schema names an unknown
// scope or none at all, so that a typo stops the server instead of locking a field
// for everyone or, worse, for no one.
func CheckSchemaScopes(schema *ast.Schema) error {
	for _, def := range schema.Types {
		for _, field := range def.Fields {
			if err := checkScopeDirectives(def.Name+"."+field.Name, field.Directives); err != nil {
				return err
			}
			for _, a := range field.Arguments {
				if err := checkScopeDirectives(def.Name+"."+field.Name+"("+a.Name+":)", a.Directives); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkScopeDirectives checks the @hasScope directives of the field or argument
// called where.
func checkScopeDirectives(where string, directives ast.DirectiveList) error {
	for _, d := range directives.ForNames("hasScope") {
		arg := d.Arguments.ForName("scopes")
		if arg == nil || arg.Value == nil || len(arg.Value.Children) == 0 {
			return fmt.Errorf("schema: @hasScope on %s lists no scopes", where)
		}
		for _, child := range arg.Value.Children {
			if name := child.Value.Raw; !auth.Known(name) {
				return fmt.Errorf("schema: @hasScope on %s names unknown scope %q", where, name)
			}
		}
	}
	return nil
}

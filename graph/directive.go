package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// HasScope implements @hasScope: every listed scope must be among the caller's
// effective scopes. Anonymous callers get UNAUTHENTICATED, others FORBIDDEN.
func HasScope(ctx context.Context, _ any, next graphql.Resolver, scopes []string) (any, error) {
	c := auth.FromContext(ctx)
	if c == nil {
		return nil, linkapi.Errorf(linkapi.EUNAUTHENTICATED, "authentication required")
	}
	for _, s := range scopes {
		if !c.Has(s) {
			return nil, linkapi.Errorf(linkapi.EFORBIDDEN, "missing scope %s", s)
		}
	}
	return next(ctx)
}

// CheckSchemaScopes returns an error when a @hasScope in the schema names an unknown
// scope or none at all, so that a typo stops the server instead of locking a field
// for everyone or, worse, for no one.
func CheckSchemaScopes(schema *ast.Schema) error {
	for _, def := range schema.Types {
		for _, field := range def.Fields {
			for _, d := range field.Directives.ForNames("hasScope") {
				arg := d.Arguments.ForName("scopes")
				if arg == nil || arg.Value == nil || len(arg.Value.Children) == 0 {
					return fmt.Errorf("schema: @hasScope on %s.%s lists no scopes", def.Name, field.Name)
				}
				for _, child := range arg.Value.Children {
					if name := child.Value.Raw; !auth.Known(name) {
						return fmt.Errorf("schema: @hasScope on %s.%s names unknown scope %q", def.Name, field.Name, name)
					}
				}
			}
		}
	}
	return nil
}

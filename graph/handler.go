package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
)

// NewSchema wires the resolvers, the @hasScope directive and the list
// prices into gqlgen's executor.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers:  r,
		Directives: DirectiveRoot{HasScope: HasScope},
		Complexity: complexity(),
	})
}

// NewHandler returns the GraphQL endpoint for es: POST for anything, GET for
// queries only, with depth and complexity limits, the error presenter and panic
// recovery. It refuses a schema whose @hasScope names an unknown scope.
func NewHandler(es graphql.ExecutableSchema, logger *slog.Logger) (*handler.Server, error) {
	if err := CheckSchemaScopes(es.Schema()); err != nil {
		return nil, err
	}
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(DepthLimit{Max: MaxDepth})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.AroundOperations(withBatches)
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.SetRecoverFunc(RecoverFunc(logger))
	return srv, nil
}

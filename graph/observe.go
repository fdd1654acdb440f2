package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// Observer is told what the GraphQL layer does, for metrics and the request log.
// Its methods must be safe for concurrent use.
type Observer interface {
	// Operation reports a finished operation: its name ("" when anonymous), its
	// outcome ("ok" or the code of its first error), its error codes and how long
	// it took.
	Operation(ctx context.Context, name, outcome string, codes []string, elapsed time.Duration)
	// Login reports a login attempt: "ok" or the code it failed with.
	Login(ctx context.Context, outcome string)
}

// observeResponses reports every response of an operation to o.
func observeResponses(o Observer) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		start := time.Now()
		resp := next(ctx)
		name := ""
		if graphql.HasOperationContext(ctx) {
			oc := graphql.GetOperationContext(ctx)
			name = oc.OperationName
			if name == "" && oc.Operation != nil {
				name = oc.Operation.Name
			}
		}
		outcome, codes := "ok", []string(nil)
		if resp != nil {
			for _, e := range resp.Errors {
				code, _ := e.Extensions["code"].(string)
				if code == "" {
					code = "INTERNAL_SERVER_ERROR"
				}
				codes = append(codes, code)
			}
		}
		if len(codes) > 0 {
			outcome = codes[0]
		}
		o.Operation(ctx, name, outcome, codes, time.Since(start))
		return resp
	}
}

package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Observer is told what the GraphQL layer does, for metrics and the request log.
// Its methods must be safe for concurrent use.
type Observer interface {
	// Operation reports a finished operation: its name ("" when anonymous), its
	// outcome ("ok" or the code of its first error), its error codes and how long
	// it took.
	Operation(ctx context.Context, name, outcome string, codes []string, elapsed time.Duration)
	// Login reports a login attempt (each login field of a mutation): "ok" or
	// the code it failed with.
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
		if graphql.HasOperationContext(ctx) && resp != nil {
			observeLogins(ctx, o, graphql.GetOperationContext(ctx), resp)
		}
		return resp
	}
}

// observeLogins reports each login field of a mutation that ran: the code of
// the error at its path, or "ok" when the response has data. A login of an
// operation refused before it ran has neither and is not reported (nor is a
// successful login whose data a later field's error nulled).
func observeLogins(ctx context.Context, o Observer, oc *graphql.OperationContext, resp *graphql.Response) {
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return
	}
	var walk func(set ast.SelectionSet, seen map[string]bool)
	walk = func(set ast.SelectionSet, seen map[string]bool) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Name != "login" {
					continue
				}
				key := s.Alias
				if key == "" {
					key = s.Name
				}
				outcome := ""
				if resp.Data != nil {
					outcome = "ok"
				}
				for _, e := range resp.Errors {
					if len(e.Path) > 0 && e.Path[0] == ast.PathName(key) {
						outcome, _ = e.Extensions["code"].(string)
						break
					}
				}
				if outcome != "" {
					o.Login(ctx, outcome)
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet, seen)
			case *ast.FragmentSpread:
				if f := oc.Doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
					seen[s.Name] = true
					walk(f.SelectionSet, seen)
				}
			}
		}
	}
	walk(oc.Operation.SelectionSet, map[string]bool{})
}

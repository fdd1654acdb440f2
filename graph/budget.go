package graph

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
)

// Budget bounds what one request may hold. It is counted before the validator runs,
// in passes that are linear in the document: the validator's field merging is
// quadratic in the fields of a selection set, and every walker that follows a
// fragment where it is spread (depth, aliases, complexity, introspection) is
// exponential in a chain of fragments that each spread the next twice. A real
// client never meets these numbers; a document that does is refused with the
// limit's code and nothing of it runs.
type Budget struct {
	// DocumentBytes bounds the length of the document, so that the lexer never
	// reads more; large values belong in variables.
	DocumentBytes int
	// Tokens bounds the lexical tokens of the document (names, punctuation,
	// values), which bounds the parser's work.
	Tokens int
	// Selections bounds the fields, inline fragments and fragment spreads of the
	// document with every spread counted as the fragment it stands for: what the
	// validator and the executor walk. Each fragment's size is counted once.
	Selections int
	// Repeats bounds the fields that answer to one response path (such as
	// me.links.nodes.id) in one operation or fragment, fragments included where
	// they are spread: the validator compares each such field with every other.
	Repeats int
	// Fragments bounds the fragment definitions.
	Fragments int
	// Operations bounds the operation definitions.
	Operations int
	// Directives bounds the directives written anywhere in the document.
	Directives int
	// Variables bounds the variables that the document declares and that the
	// request sends.
	Variables int
	// VariableValues bounds the values inside the request's variables: every
	// scalar, list and object counts one, at any depth.
	VariableValues int
	// Errors bounds the errors of one response; the rest are dropped for one
	// error that says how many there were.
	Errors int
}

// DefaultBudget is the budget of a server that sets none. GraphiQL's schema query
// (testdata/introspection.graphql) holds 184 tokens and 489 selections, with no
// response path answered more than twice; TestRealClientsFitTheBudget keeps it
// within a quarter of this.
var DefaultBudget = Budget{
	DocumentBytes:  64 << 10,
	Tokens:         5000,
	Selections:     2000,
	Repeats:        30,
	Fragments:      100,
	Operations:     20,
	Directives:     100,
	Variables:      100,
	VariableValues: 10000,
	Errors:         20,
}

// orDefault fills the fields of b that are not positive from DefaultBudget.
func (b Budget) orDefault() Budget {
	d := DefaultBudget
	for _, f := range []struct{ dst, def *int }{
		{&b.DocumentBytes, &d.DocumentBytes}, {&b.Tokens, &d.Tokens}, {&b.Selections, &d.Selections}, {&b.Repeats, &d.Repeats}, {&b.Fragments, &d.Fragments},
		{&b.Operations, &d.Operations}, {&b.Directives, &d.Directives}, {&b.Variables, &d.Variables},
		{&b.VariableValues, &d.VariableValues}, {&b.Errors, &d.Errors},
	} {
		if *f.dst <= 0 {
			*f.dst = *f.def
		}
	}
	return b
}

// budgetExtension refuses a request over its Budget before gqlgen parses and
// validates it. A document found in the query cache has been parsed, counted and
// validated before, so only its variables are counted again.
type budgetExtension struct {
	Budget
	cache graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = budgetExtension{}

// ExtensionName implements graphql.HandlerExtension.
func (budgetExtension) ExtensionName() string { return "Budget" }

// Validate implements graphql.HandlerExtension.
func (budgetExtension) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (b budgetExtension) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if err := b.checkVariables(params.Variables); err != nil {
		return err
	}
	if _, ok := b.cache.Get(ctx, params.Query); ok {
		return nil
	}
	if ctx.Err() != nil {
		// The deadline has passed or the client is gone: nothing more is done
		// for this request, the document is neither counted nor validated.
		err := gqlerror.Errorf("the request took longer than the server allows")
		errcode.Set(err, "TIMEOUT")
		return err
	}
	return b.checkDocument(params.Query)
}

// overLimit is the error of a request over one of the budget's limits.
func overLimit(code, what string, limit int) *gqlerror.Error {
	err := gqlerror.Errorf("the request holds more than %d %s, the limit", limit, what)
	errcode.Set(err, code)
	return err
}

// checkDocument counts the tokens of query (comments are not tokens), then
// parses it and counts the rest.
// A document that does not lex or parse is left for gqlgen, which reports it.
func (b budgetExtension) checkDocument(query string) *gqlerror.Error {
	if len(query) > b.DocumentBytes {
		return overLimit("DOCUMENT_LIMIT_EXCEEDED", "bytes of document", b.DocumentBytes)
	}
	lex := lexer.New(&ast.Source{Input: query})
	for n := 0; ; {
		tok, err := lex.ReadToken()
		if err != nil {
			return nil
		}
		if tok.Kind == lexer.EOF {
			break
		}
		if tok.Kind == lexer.Comment {
			continue
		}
		if n == b.Tokens {
			return overLimit("TOKEN_LIMIT_EXCEEDED", "tokens", b.Tokens)
		}
		n++
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil
	}
	if len(doc.Operations) > b.Operations {
		return overLimit("OPERATION_LIMIT_EXCEEDED", "operations", b.Operations)
	}
	if len(doc.Fragments) > b.Fragments {
		return overLimit("FRAGMENT_LIMIT_EXCEEDED", "fragments", b.Fragments)
	}
	c := documentCounter{frags: map[string]*fragmentCount{}, doc: doc, limit: b.Selections}
	for _, f := range doc.Fragments {
		c.frags[f.Name] = &fragmentCount{def: f}
	}
	var selections, variables int
	for _, op := range doc.Operations {
		variables += len(op.VariableDefinitions)
		c.directives += len(op.Directives)
		for _, v := range op.VariableDefinitions {
			c.directives += len(v.Directives)
		}
		selections = c.add(selections, c.set(op.SelectionSet))
	}
	for _, f := range doc.Fragments {
		c.directives += len(f.Directives)
		selections = c.add(selections, c.fragment(f.Name))
	}
	switch {
	case selections > b.Selections:
		return overLimit("SELECTION_LIMIT_EXCEEDED", "selections (fragments counted where they are spread)", b.Selections)
	case c.directives > b.Directives:
		return overLimit("DIRECTIVE_LIMIT_EXCEEDED", "directives", b.Directives)
	case variables > b.Variables:
		return overLimit("VARIABLE_LIMIT_EXCEEDED", "variables", b.Variables)
	}
	// The selections are within bounds, so walking every operation and fragment
	// with its spreads expanded is too.
	for _, op := range doc.Operations {
		if !c.repeatsWithin(op.SelectionSet, b.Repeats) {
			return overLimit("FIELD_REPEAT_LIMIT_EXCEEDED", "fields answering to one response path", b.Repeats)
		}
	}
	for _, f := range doc.Fragments {
		if !c.repeatsWithin(f.SelectionSet, b.Repeats) {
			return overLimit("FIELD_REPEAT_LIMIT_EXCEEDED", "fields answering to one response path", b.Repeats)
		}
	}
	return nil
}

// repeatsWithin reports whether no response path under set is answered by more
// than max fields, following fragment spreads where they are spread.
func (c *documentCounter) repeatsWithin(set ast.SelectionSet, max int) bool {
	paths := map[string]int{}
	visiting := map[string]bool{}
	var walk func(set ast.SelectionSet, prefix string) bool
	walk = func(set ast.SelectionSet, prefix string) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				name := s.Alias
				if name == "" {
					name = s.Name
				}
				path := prefix + "." + name
				if paths[path]++; paths[path] > max || !walk(s.SelectionSet, path) {
					return false
				}
			case *ast.InlineFragment:
				if !walk(s.SelectionSet, prefix) {
					return false
				}
			case *ast.FragmentSpread:
				f := c.frags[s.Name]
				if f == nil || visiting[s.Name] {
					continue
				}
				visiting[s.Name] = true
				ok := walk(f.def.SelectionSet, prefix)
				delete(visiting, s.Name)
				if !ok {
					return false
				}
			}
		}
		return true
	}
	return walk(set, "")
}

// documentCounter counts the selections of a document, each fragment once: the
// size of a spread is the memoised size of its fragment. Sizes saturate just past
// the limit, so a chain of fragments that doubles at each step cannot overflow.
type documentCounter struct {
	doc        *ast.QueryDocument
	frags      map[string]*fragmentCount
	limit      int
	directives int
}

type fragmentCount struct {
	def           *ast.FragmentDefinition
	size          int
	done, walking bool
}

func (c *documentCounter) add(a, b int) int {
	if a+b > c.limit {
		return c.limit + 1
	}
	return a + b
}

func (c *documentCounter) set(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		n = c.add(n, 1)
		switch s := sel.(type) {
		case *ast.Field:
			c.directives += len(s.Directives)
			n = c.add(n, c.set(s.SelectionSet))
		case *ast.InlineFragment:
			c.directives += len(s.Directives)
			n = c.add(n, c.set(s.SelectionSet))
		case *ast.FragmentSpread:
			c.directives += len(s.Directives)
			n = c.add(n, c.fragment(s.Name))
		}
	}
	return n
}

// fragment is the size of the named fragment, counted on first use. An unknown
// fragment or one in a cycle counts nothing here; the validator refuses both.
func (c *documentCounter) fragment(name string) int {
	f := c.frags[name]
	if f == nil || f.walking {
		return 0
	}
	if !f.done {
		f.walking = true
		f.size = c.set(f.def.SelectionSet)
		f.walking, f.done = false, true
	}
	return f.size
}

// overJSON refuses, before the transport decodes it, a request whose JSON (a POST
// body, or a GET's variables and extensions) holds more values than its variables
// may, or a document longer than DocumentBytes: decoding it would cost more than
// anything it could ask for. Values are counted as opening brackets, commas and
// colons outside strings, which is at most twice the values of the variables plus
// the request's own few keys, so that it never refuses what checkVariables
// allows. The body is read and put back.
func (b Budget) overJSON(r *http.Request) *gqlerror.Error {
	var shape jsonShape
	switch r.Method {
	case http.MethodPost:
		if r.Body == nil {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return nil // the transport reports it
		}
		shape = scanJSON(body, 2*b.VariableValues+64)
	case http.MethodGet:
		q := r.URL.Query()
		shape = scanJSON([]byte(q.Get("variables")+q.Get("extensions")), 2*b.VariableValues+64)
		shape.query = len(q.Get("query"))
	}
	switch {
	case shape.values > 2*b.VariableValues+64:
		return overLimit("VARIABLE_LIMIT_EXCEEDED", "values in its variables", b.VariableValues)
	case shape.query > b.DocumentBytes:
		return overLimit("DOCUMENT_LIMIT_EXCEEDED", "bytes of document", b.DocumentBytes)
	}
	return nil
}

// jsonShape is what scanJSON learns of JSON text without decoding it.
type jsonShape struct {
	// values counts the opening brackets, commas and colons outside strings, up
	// to one past the most asked for.
	values int
	// query is at most the decoded length of the top-level member "query" when
	// it is a string.
	query int
}

// scanJSON reads b once, and stops counting values past max.
func scanJSON(b []byte, max int) jsonShape {
	var shape jsonShape
	depth := 0
	var prev byte  // the last byte outside strings that is not white space
	var key []byte // the last string at depth 1 that was not a member's value
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			// Skip the string, and bound its decoded length from below: an
			// escape \uXXXX of six bytes decodes to at least one, any other
			// escape of two bytes to one.
			start, shrink := i+1, 0
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					if i+1 < len(b) && b[i+1] == 'u' {
						shrink += 5
					} else {
						shrink++
					}
					i++
				}
			}
			if i >= len(b) {
				return shape
			}
			if depth == 1 {
				if prev == ':' {
					if bytes.EqualFold(key, []byte("query")) { // as encoding/json matches keys
						shape.query = i - start - shrink
					}
				} else {
					key = b[start:i]
				}
			}
			prev = '"'
		case '[', '{', ',', ':':
			if c == '[' || c == '{' {
				depth++
			}
			if shape.values++; shape.values > max {
				return shape
			}
			prev = c
		case ']', '}':
			depth--
			prev = c
		case ' ', '\t', '\n', '\r':
		default:
			prev = c
		}
	}
	return shape
}

// checkVariables counts the variables a request sends and the values inside them.
func (b budgetExtension) checkVariables(vars map[string]any) *gqlerror.Error {
	if len(vars) > b.Variables {
		return overLimit("VARIABLE_LIMIT_EXCEEDED", "variables", b.Variables)
	}
	n := 0
	var count func(v any) bool
	count = func(v any) bool {
		if n++; n > b.VariableValues {
			return false
		}
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if !count(e) {
					return false
				}
			}
		case map[string]any:
			for _, e := range v {
				if !count(e) {
					return false
				}
			}
		}
		return true
	}
	for _, v := range vars {
		if !count(v) {
			return overLimit("VARIABLE_LIMIT_EXCEEDED", "values in its variables", b.VariableValues)
		}
	}
	return nil
}

// capErrors keeps the first max errors of a response and replaces the rest with
// one error, coded TOO_MANY_ERRORS, that says how many were left out.
func capErrors(max int) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil || len(resp.Errors) <= max {
			return resp
		}
		more := gqlerror.Errorf("%d more errors were left out", len(resp.Errors)-max)
		errcode.Set(more, "TOO_MANY_ERRORS")
		resp.Errors = append(resp.Errors[:max:max], more)
		return resp
	}
}

package graph

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// otherSchema is the real executable schema with its Schema() replaced, so that
// NewHandler sees a schema text of the test's choosing.
type otherSchema struct {
	graphql.ExecutableSchema
	schema *ast.Schema
}

func (s otherSchema) Schema() *ast.Schema { return s.schema }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// schemaText returns ../schema.graphqls with each replacement applied once.
func schemaText(t *testing.T, replacements ...string) string {
	t.Helper()
	b, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i+1 < len(replacements); i += 2 {
		old, repl := replacements[i], replacements[i+1]
		if !strings.Contains(text, old) {
			t.Fatalf("schema.graphqls does not contain %q", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	return text
}

func loadSchema(t *testing.T, text string) *ast.Schema {
	t.Helper()
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: text})
	if err != nil {
		t.Fatalf("loading the edited schema: %v", err)
	}
	return schema
}

func TestNewHandlerAcceptsTheRealSchema(t *testing.T) {
	if _, err := NewHandler(NewSchema(&Resolver{}), discardLogger()); err != nil {
		t.Errorf("NewHandler(real schema) = %v, want nil", err)
	}
	// The same text loaded by the test passes too, so the refusals below are
	// about the edit alone.
	es := otherSchema{ExecutableSchema: NewSchema(&Resolver{}), schema: loadSchema(t, schemaText(t))}
	if _, err := NewHandler(es, discardLogger()); err != nil {
		t.Errorf("NewHandler(schema.graphqls as loaded by the test) = %v, want nil", err)
	}
}

func TestNewHandlerRefusesUnknownScope(t *testing.T) {
	for _, c := range []struct {
		name, old, repl, want string
	}{
		{"first occurrence", `["links:read"]`, `["links:raed"]`, "links:raed"},
		{"second of two", `["links:write", "tags:read"]`, `["links:write", "tags:raed"]`, "tags:raed"},
		{"on a type field", `tags: [Tag!]! @hasScope(scopes: ["tags:read"])`, `tags: [Tag!]! @hasScope(scopes: ["tag:read"])`, "tag:read"},
		{"upper case", `["admin:write"]`, `["ADMIN:WRITE"]`, "ADMIN:WRITE"},
		{"on an argument", `tag: String @hasScope(scopes: ["tags:read"])`, `tag: String @hasScope(scopes: ["tags:raed"])`, "tags:raed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := otherSchema{ExecutableSchema: NewSchema(&Resolver{}), schema: loadSchema(t, schemaText(t, c.old, c.repl))}
			h, err := NewHandler(es, discardLogger())
			if err == nil {
				t.Fatalf("NewHandler = %v, nil; want an error naming %q", h, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewHandler error = %q, want it to name %q", err, c.want)
			}
			if h != nil {
				t.Errorf("NewHandler returned a handler with its error")
			}
		})
	}
}

func TestNewHandlerRefusesEmptyScopeList(t *testing.T) {
	for _, edit := range [][2]string{
		{`me: Account! @hasScope(scopes: ["account:read"])`, `me: Account! @hasScope(scopes: [])`},
		{`tag: String @hasScope(scopes: ["tags:read"])`, `tag: String @hasScope(scopes: [])`},
	} {
		es := otherSchema{ExecutableSchema: NewSchema(&Resolver{}), schema: loadSchema(t, schemaText(t, edit[0], edit[1]))}
		if _, err := NewHandler(es, discardLogger()); err == nil {
			t.Errorf("NewHandler(%s) = nil, want an error", edit[1])
		}
	}
}

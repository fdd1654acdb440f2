package graph

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// selections counts a document's selections as the budget does, with no limit.
func selections(t *testing.T, query string) int {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	c := documentCounter{frags: map[string]*fragmentCount{}, limit: 1 << 30}
	for _, f := range doc.Fragments {
		c.frags[f.Name] = &fragmentCount{def: f}
	}
	n := 0
	for _, op := range doc.Operations {
		n = c.add(n, c.set(op.SelectionSet))
	}
	for _, f := range doc.Fragments {
		n = c.add(n, c.fragment(f.Name))
	}
	return n
}

// TestRealClientsFitTheBudget checks that GraphiQL's schema query (graphql-js's
// getIntrospectionQuery with every option on) is far inside the default budget.
func TestRealClientsFitTheBudget(t *testing.T) {
	b, err := os.ReadFile("testdata/introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	q := string(b)
	e := budgetExtension{Budget: DefaultBudget}
	if err := e.checkDocument(q); err != nil {
		t.Fatalf("the introspection query is refused: %v", err)
	}
	half := budgetExtension{Budget: Budget{DocumentBytes: DefaultBudget.DocumentBytes / 4, Tokens: DefaultBudget.Tokens / 4, Selections: DefaultBudget.Selections / 4, Repeats: 2,
		Fragments: 10, Operations: 1, Directives: 1, Variables: 1}}
	if err := half.checkDocument(q); err != nil {
		t.Errorf("the introspection query does not fit a quarter of the budget: %v", err)
	}
	t.Logf("introspection query: %d selections", selections(t, q))
}

// TestSelectionsCountEachFragmentOnce counts documents whose fragments are spread
// many times; a fragment chain that doubles at each step saturates at the limit.
func TestSelectionsCountEachFragmentOnce(t *testing.T) {
	for _, c := range []struct {
		query string
		want  int
	}{
		{"{ a b { c } }", 3},
		{"{ ...F ...F } fragment F on Q { a b }", 2 + 2*2 + 2},
		{"{ ... on Q { a } }", 2},
		{"{ ...A } fragment A on Q { ...B ...B } fragment B on Q { a }", 1 + 4 + 4 + 1},
		{"{ ...A } fragment A on Q { ...A a }", 1 + 2 + 2}, // a cycle counts nothing where it closes
		{"{ ...Missing }", 1},
	} {
		if got := selections(t, c.query); got != c.want {
			t.Errorf("%s: got %d, want %d", c.query, got, c.want)
		}
	}
	var chain strings.Builder
	chain.WriteString("{ ...F0 }")
	for i := range 62 {
		chain.WriteString(" fragment F" + strconv.Itoa(i) + " on Q { ...F" + strconv.Itoa(i+1) + " ...F" + strconv.Itoa(i+1) + " }")
	}
	chain.WriteString(" fragment F62 on Q { a }")
	doc, _ := parser.ParseQuery(&ast.Source{Input: chain.String()})
	c := documentCounter{frags: map[string]*fragmentCount{}, limit: 1000}
	for _, f := range doc.Fragments {
		c.frags[f.Name] = &fragmentCount{def: f}
	}
	if got := c.set(doc.Operations[0].SelectionSet); got != 1001 {
		t.Errorf("a chain of 62 doubling fragments: got %d, want the limit + 1", got)
	}
}

// TestScanJSONCountsValues counts the brackets, commas and colons of JSON text
// outside its strings, escaped quotes included.
func TestScanJSONCountsValues(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want bool
	}{
		{`{"a":1}`, 2, false},
		{`{"a":1}`, 1, true},
		{`{"a":[1,2,3]}`, 5, false},
		{`{"a":[1,2,3]}`, 4, true},
		{`{"a":"x,y:[{"}`, 2, false},
		{`{"a":"x\",":1}`, 3, false},
		{`{"a":"x\",":1}`, 2, true},
		{`{"a":"x\\",":1}`, 2, true},
		{`{"a":"x\\\",":1}`, 3, false},
		{`"unterminated ,,,`, 0, false},
		{``, 0, false},
	} {
		if got := scanJSON([]byte(c.in), c.max).values > c.max; got != c.want {
			t.Errorf("%s over %d: got %v, want %v", c.in, c.max, got, c.want)
		}
	}
}

// TestScanJSONMeasuresTheQuery finds the top-level query string and bounds its
// decoded length from below, whatever else the request holds.
func TestScanJSONMeasuresTheQuery(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{`{"query":"{ me }"}`, 6},
		{` { "operationName" : "query" , "query" : "abc" } `, 3},
		{`{"variables":{"query":"a long one"},"query":"ab"}`, 2},
		{`{"query":"a\"b"}`, 3},
		{`{"query":"\u0041\u0042"}`, 2},
		{`{"query":"\\\n\u00e9"}`, 3},
		{`{"extensions":{"persistedQuery":{"version":1}}}`, 0},
		{`{"query":{"nested":"object"}}`, 0},
		{`{"Query":"abcd"}`, 4},
		{`["query","x"]`, 0},
	} {
		if got := scanJSON([]byte(c.in), 1000).query; got != c.want {
			t.Errorf("%s: got %d, want %d", c.in, got, c.want)
		}
	}
}

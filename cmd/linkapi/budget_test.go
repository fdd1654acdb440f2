package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"linkapi/graph"
	"linkapi/internal/server"
)

// budgetCodes are the codes of the limits counted before validation.
var budgetCodes = map[string]bool{
	"DOCUMENT_LIMIT_EXCEEDED": true, "TOKEN_LIMIT_EXCEEDED": true, "SELECTION_LIMIT_EXCEEDED": true, "FIELD_REPEAT_LIMIT_EXCEEDED": true, "FRAGMENT_LIMIT_EXCEEDED": true,
	"OPERATION_LIMIT_EXCEEDED": true, "DIRECTIVE_LIMIT_EXCEEDED": true, "VARIABLE_LIMIT_EXCEEDED": true,
}

// TestDocumentBudgetEdges sends, for each limit of the default budget, the
// largest request it allows and one more, anonymously and with a token: the first
// is not refused by the budget, the second is refused with the limit's code, no
// data and nothing written (the tokens and variable-values edges create a link).
func TestDocumentBudgetEdges(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/b.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	b := graph.DefaultBudget
	list := func(n int) []any {
		l := make([]any, n)
		for i := range l {
			l[i] = "t"
		}
		return l
	}
	vars := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("v%d", i)] = i
		}
		return m
	}
	for _, c := range []struct {
		limit string
		code  string
		// build returns the request at size n: the largest allowed at n = the
		// limit, one over at n = the limit + 1.
		build func(n int) (string, string, map[string]any)
		n     int
	}{
		{"document bytes", "DOCUMENT_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			// The harness sends the query as it is; the comment fills it to n bytes.
			q := "{ __typename }\n#"
			return q + strings.Repeat("x", n-len(q)), "", nil
		}, b.DocumentBytes},
		{"tokens", "TOKEN_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			// mutation { createLink ( input : { url : "…" tags : [ ] } ) { id } }:
			// 20 tokens and the tags; the comment is not a token.
			return `# a comment
				mutation { createLink(input: {url: "https://example.com/budget" tags: [` + strings.Repeat(`"t" `, n-20) + `]}) { id } }`, "", nil
		}, b.Tokens},
		{"selections", "SELECTION_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			// F holds 30 fields at 30 paths; each aliased me spreads it (32
			// selections), F's definition counts 30, and __typename fills up.
			var q strings.Builder
			q.WriteString("{")
			k := (n - 30) / 32
			for i := range k {
				fmt.Fprintf(&q, "a%d: me { ...F } ", i)
			}
			q.WriteString(strings.Repeat("__typename ", n-30-32*k))
			q.WriteString("} fragment F on Account {")
			for i := range 30 {
				fmt.Fprintf(&q, " t%d: __typename", i)
			}
			return q.String() + " }", "", nil
		}, b.Selections},
		{"repeats", "FIELD_REPEAT_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			return "{ me { " + strings.Repeat("id ", n) + "} }", "", nil
		}, b.Repeats},
		{"repeats through fragments", "FIELD_REPEAT_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			// n-1 spreads of F at me, and F's own definition: me.id n-1 times,
			// and F's own id, which its definition answers alone.
			return "{ me { " + strings.Repeat("...F ", n) + "} } fragment F on Account { id }", "", nil
		}, b.Repeats},
		{"fragments", "FRAGMENT_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			var q strings.Builder
			q.WriteString("{")
			for i := range n {
				fmt.Fprintf(&q, "...F%d ", i)
			}
			q.WriteString("}")
			for i := range n {
				fmt.Fprintf(&q, " fragment F%d on Query { f%d: __typename }", i, i)
			}
			return q.String(), "", nil
		}, b.Fragments},
		{"operations", "OPERATION_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			var q strings.Builder
			for i := range n {
				fmt.Fprintf(&q, "query Q%d { __typename } ", i)
			}
			return q.String(), "Q0", nil
		}, b.Operations},
		{"directives", "DIRECTIVE_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			return "{ me { id " + strings.Repeat("@include(if: true) ", n) + "} }", "", nil
		}, b.Directives},
		{"declared variables", "VARIABLE_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			var q strings.Builder
			q.WriteString("query(")
			for i := range n {
				fmt.Fprintf(&q, "$v%d: Int ", i)
			}
			q.WriteString(") { __typename }")
			return q.String(), "", nil
		}, b.Variables},
		{"sent variables", "VARIABLE_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			return "{ __typename }", "", vars(n)
		}, b.Variables},
		{"variable values", "VARIABLE_LIMIT_EXCEEDED", func(n int) (string, string, map[string]any) {
			// The list counts one and each of its n-1 tags one.
			return `mutation($t: [String!]) { createLink(input: {url: "https://example.com/values", tags: $t}) { id } }`, "",
				map[string]any{"t": list(n - 1)}
		}, b.VariableValues},
	} {
		for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"token", token}} {
			if c.limit == "document bytes" && who.token == "" {
				continue // an anonymous body is bounded below this (TestAnonymousBodyLimit)
			}
			t.Run(c.limit+"/"+who.name, func(t *testing.T) {
				q, op, v := c.build(c.n)
				if r := s.doOp(t, who.token, q, op, v); budgetCodes[r.Code()] {
					t.Errorf("the largest allowed request: got %q (%.300s)", r.Code(), r.Raw)
				}
				before := linkCount(t, s, token)
				q, op, v = c.build(c.n + 1)
				r := s.doOp(t, who.token, q, op, v)
				if r.Code() != c.code || r.Data != nil {
					t.Errorf("one more: got %d %q data %v (%.300s), want %s and no data", r.Status, r.Code(), r.Data, r.Raw, c.code)
				}
				if after := linkCount(t, s, token); after != before {
					t.Errorf("links after a refused request: got %v, want %v", after, before)
				}
			})
		}
	}
}

// doOp is do with an operation name.
func (s *testServer) doOp(t testing.TB, token, query, operationName string, vars map[string]any) *gqlResponse {
	t.Helper()
	if operationName == "" {
		return s.do(t, token, query, vars)
	}
	body := gqlBody(query, operationName, vars)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.send(t, req)
}

// TestBudgetClosesTheClass sends documents that cost the validator and the
// walkers far more than their size without a budget: each is refused with its
// code before validation. The fragment chain stands for 2^40 selections; were
// any walker to follow it spread by spread, this test would not end.
func TestBudgetClosesTheClass(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/c.db")
	s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")
	var chain strings.Builder
	chain.WriteString("{ ...F0 }")
	for i := range 40 {
		fmt.Fprintf(&chain, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	chain.WriteString(" fragment F40 on Query { __typename }")
	for _, c := range []struct {
		name, query, code string
	}{
		{"fragment chain", chain.String(), "SELECTION_LIMIT_EXCEEDED"},
		{"one field many times", "{ me { " + strings.Repeat("id ", 1000) + "} }", "FIELD_REPEAT_LIMIT_EXCEEDED"},
		{"one fragment at one path many times", "{ me { " + strings.Repeat("...F ", 500) + "} } fragment F on Account { id }", "FIELD_REPEAT_LIMIT_EXCEEDED"},
		{"fragment cycle", "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }", "GRAPHQL_VALIDATION_FAILED"},
		{"repeated fields", "{ me { " + strings.Repeat("id ", 20000) + "} }", "TOKEN_LIMIT_EXCEEDED"},
		{"a long string", `{ links(search: "` + strings.Repeat("a", 1<<19) + `") { totalCount } }`, "DOCUMENT_LIMIT_EXCEEDED"},
		{"spreads of one fragment", "{ " + strings.Repeat("...F ", 2000) + "} fragment F on Query { __typename }", "SELECTION_LIMIT_EXCEEDED"},
	} {
		for _, who := range []string{"", token} {
			r := s.do(t, who, c.query, nil)
			want := c.code
			if who == "" && len(c.query) > server.MaxAnonymousBodyBytes {
				want = "BAD_USER_INPUT" // 413 before any GraphQL
			}
			if r.Code() != want || r.Data != nil {
				t.Errorf("%s (token %v): got %d %q (%.200s), want %s", c.name, who != "", r.Status, r.Code(), r.Raw, want)
			}
		}
	}
}

// TestErrorListIsCapped asks for 100 unused variables: the answer holds the
// first errors and one TOO_MANY_ERRORS saying how many were left out.
func TestErrorListIsCapped(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/e.db")
	var q strings.Builder
	q.WriteString("query(")
	for i := range 100 {
		fmt.Fprintf(&q, "$v%d: Int ", i)
	}
	q.WriteString(") { __typename }")
	r := s.do(t, "", q.String(), nil)
	max := graph.DefaultBudget.Errors
	if len(r.Errors) != max+1 {
		t.Fatalf("got %d errors, want %d (%.300s)", len(r.Errors), max+1, r.Raw)
	}
	if code := r.Errors[0].Extensions["code"]; code != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("first error: got %v, want GRAPHQL_VALIDATION_FAILED", code)
	}
	last := r.Errors[max]
	if last.Extensions["code"] != "TOO_MANY_ERRORS" || !strings.Contains(last.Message, "80 more") {
		t.Errorf("last error: got %v %q, want TOO_MANY_ERRORS saying 80 more", last.Extensions["code"], last.Message)
	}
}

// TestJSONIsCountedBeforeDecoding posts a body whose variables hold far more
// values than allowed: it is refused before gqlgen decodes it, with the status
// the Accept header asks for. (TestBudgetSettings does the same with GET.)
func TestJSONIsCountedBeforeDecoding(t *testing.T) {
	s := startServer(t, "sqlite:"+t.TempDir()+"/j.db")
	body := `{"query":"query($t:[Int]){__typename}","variables":{"t":[` + strings.Repeat("1,", 3*graph.DefaultBudget.VariableValues) + `1]}}`
	for _, c := range []struct {
		accept string
		status int
	}{{"application/json", http.StatusOK}, {"application/graphql-response+json", http.StatusBadRequest}} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", c.accept)
		r := s.send(t, req)
		if r.Status != c.status || r.Code() != "VARIABLE_LIMIT_EXCEEDED" || r.Data != nil {
			t.Errorf("Accept %s: got %d %q (%.200s), want %d VARIABLE_LIMIT_EXCEEDED", c.accept, r.Status, r.Code(), r.Raw, c.status)
		}
	}
}

// TestBudgetSettings lowers each limit through its setting and checks that the
// server applies it, and that a bad value stops serve.
func TestBudgetSettings(t *testing.T) {
	s := startServerEnv(t, "sqlite:"+t.TempDir()+"/s.db", nil, map[string]string{
		"LINKAPI_MAX_TOKENS": "40", "LINKAPI_MAX_SELECTIONS": "3", "LINKAPI_MAX_FIELD_REPEATS": "2", "LINKAPI_MAX_FRAGMENTS": "1",
		"LINKAPI_MAX_OPERATIONS": "1", "LINKAPI_MAX_DIRECTIVES": "1", "LINKAPI_MAX_VARIABLES": "1",
		"LINKAPI_MAX_VARIABLE_VALUES": "2", "LINKAPI_MAX_ERRORS": "1",
	})
	for _, c := range []struct {
		query string
		vars  map[string]any
		code  string
	}{
		{"{ __typename __typename }", nil, ""},
		{"{ __typename __typename __typename }", nil, "FIELD_REPEAT_LIMIT_EXCEEDED"},
		{"{ a: __typename b: __typename c: __typename }", nil, ""},
		{"{ a: __typename b: __typename c: __typename d: __typename }", nil, "SELECTION_LIMIT_EXCEEDED"},
		{"{ __typename(a: [" + strings.Repeat("1 ", 31) + "]) }", nil, "GRAPHQL_VALIDATION_FAILED"},
		{"{ __typename(a: [" + strings.Repeat("1 ", 32) + "]) }", nil, "TOKEN_LIMIT_EXCEEDED"},
		{"{ ...A ...B } fragment A on Query { __typename } fragment B on Query { __typename }", nil, "FRAGMENT_LIMIT_EXCEEDED"},
		{"query A { __typename } query B { __typename }", nil, "OPERATION_LIMIT_EXCEEDED"},
		{"{ __typename @skip(if: false) __typename @skip(if: false) }", nil, "DIRECTIVE_LIMIT_EXCEEDED"},
		{"query($a: Int, $b: Int) { __typename }", nil, "VARIABLE_LIMIT_EXCEEDED"},
		{"query($a: [Int]) { __typename }", map[string]any{"a": []any{1, 2}}, "VARIABLE_LIMIT_EXCEEDED"},
		{"query($a: [Int]) { __typename }", map[string]any{"a": []any{1}}, "GRAPHQL_VALIDATION_FAILED"},
	} {
		r := s.do(t, "", c.query, c.vars)
		if r.Code() != c.code {
			t.Errorf("%s %v: got %q (%.200s), want %q", c.query, c.vars, r.Code(), r.Raw, c.code)
		}
	}
	vars := `{"a":[` + strings.Repeat("1,", 100) + `1]}`
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+url.QueryEscape("query($a:[Int]){__typename}")+"&variables="+url.QueryEscape(vars), nil)
	if r := s.send(t, req); r.Code() != "VARIABLE_LIMIT_EXCEEDED" {
		t.Errorf("GET with 101 values: got %d %q (%.200s), want VARIABLE_LIMIT_EXCEEDED", r.Status, r.Code(), r.Raw)
	}
	if r := s.do(t, "", "{ a }", nil); len(r.Errors) != 1 || r.Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("one unknown field with LINKAPI_MAX_ERRORS=1: got %s", r.Raw)
	}
	if r := s.do(t, "", "{ a b }", nil); len(r.Errors) != 2 || r.Errors[1].Extensions["code"] != "TOO_MANY_ERRORS" {
		t.Errorf("two unknown fields with LINKAPI_MAX_ERRORS=1: got %s", r.Raw)
	}
	for _, name := range []string{"LINKAPI_MAX_DOCUMENT_BYTES", "LINKAPI_MAX_TOKENS", "LINKAPI_MAX_SELECTIONS", "LINKAPI_MAX_FIELD_REPEATS", "LINKAPI_MAX_VARIABLE_VALUES", "LINKAPI_MAX_ERRORS"} {
		for _, bad := range []string{"0", "-3", "lots"} {
			vars := map[string]string{"LINKAPI_DATABASE_URL": "sqlite:" + t.TempDir() + "/x.db", "LINKAPI_JWT_SECRET": testSecret, name: bad}
			if _, err := runServeExpectingFailure(t, vars); err == nil {
				t.Errorf("%s=%s: serve started", name, bad)
			}
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"linkapi/graph"
	"linkapi/internal/server"
)

// hostileRequest is one GraphQL request body built to cost the server as much as
// a document within the body limit can.
type hostileRequest struct {
	name string
	body []byte
	mark int // where uniqueMark is in body, or -1
}

func newHostile(name string, body []byte) hostileRequest {
	return hostileRequest{name, body, bytes.LastIndex(body, []byte(uniqueMark))}
}

// uniqueMark ends every hostile query as a comment; post writes a counter over
// it, so that no request finds its document in the server's query cache.
const uniqueMark = "#0000000000"

// gqlBody is the JSON body of a request.
func gqlBody(query, operationName string, vars map[string]any) []byte {
	m := map[string]any{"query": query + "\n" + uniqueMark}
	if operationName != "" {
		m["operationName"] = operationName
	}
	if vars != nil {
		m["variables"] = vars
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// repeat is n copies of unit, each given its index through %d when it has one.
func repeat(unit string, n int) string {
	var b strings.Builder
	for i := range n {
		if strings.Contains(unit, "%d") {
			fmt.Fprintf(&b, unit, i)
		} else {
			b.WriteString(unit)
		}
	}
	return b.String()
}

// fill is the largest n (below the body limit) for which build(n) stays within
// the body limit, found by doubling, then bisecting.
func fill(build func(n int) []byte) []byte {
	const room = server.MaxBodyBytes - 256
	lo, hi := 1, 2
	for len(build(hi)) <= room && hi < server.MaxBodyBytes {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if len(build(mid)) <= room {
			lo = mid
		} else {
			hi = mid
		}
	}
	return build(lo)
}

// hostileRequests are the worst requests we know how to build: each shape once
// filling the body limit and once at the largest size the budget b allows.
func hostileRequests(b graph.Budget) []hostileRequest {
	shapes := []struct {
		name  string
		edge  int // the largest n within b
		build func(n int) []byte
	}{
		{"repeated-fields", b.Repeats, func(n int) []byte {
			return gqlBody("{me{"+repeat("id ", n)+"}}", "", nil)
		}},
		{"root-typename", b.Repeats, func(n int) []byte {
			return gqlBody("{"+repeat("__typename ", n)+"}", "", nil)
		}},
		{"inline-fragments", b.Repeats, func(n int) []byte {
			return gqlBody("{"+repeat("...on Query{__typename}", n)+"}", "", nil)
		}},
		{"distinct-fragments", b.Fragments, func(n int) []byte {
			return gqlBody("{"+repeat("...F%d ", n)+"}"+repeat("fragment F%d on Query{m%d: me{id email}}", n), "", nil)
		}},
		{"same-path-fragments", b.Repeats, func(n int) []byte {
			return gqlBody("{"+repeat("...F%d ", n)+"}"+repeat("fragment F%d on Query{me{id email links{nodes{id url tags{id name}}}}}", n), "", nil)
		}},
		{"nested-repeats", b.Repeats, func(n int) []byte {
			return gqlBody("{"+repeat("me{id email scopes links{totalCount nodes{id url title tags{id name}}}}", n)+"}", "", nil)
		}},
		{"distinct-paths", (b.Selections - 32) / 33, func(n int) []byte {
			return gqlBody("{"+repeat("a%d: me{...F} ", n)+"} fragment F on Account{"+repeat(" t%d: __typename", 30)+"}", "", nil)
		}},
		{"spreads-of-one-fragment", b.Repeats, func(n int) []byte {
			return gqlBody("{me{"+repeat("...F ", n)+"}} fragment F on Account{id}", "", nil)
		}},
		{"fragment-chain", 8, func(n int) []byte {
			var q strings.Builder
			q.WriteString("{...F0}")
			for i := range n {
				fmt.Fprintf(&q, "fragment F%d on Query{...F%d ...F%d}", i, i+1, i+1)
			}
			fmt.Fprintf(&q, "fragment F%d on Query{__typename}", n)
			return gqlBody(q.String(), "", nil)
		}},
		{"operations-with-name", b.Operations, func(n int) []byte {
			return gqlBody(repeat("query Q%d{me{id}}", n), "Q0", nil)
		}},
		{"declared-variables", b.Variables, func(n int) []byte {
			return gqlBody("query("+repeat("$v%d:Int ", n)+"){me{id}}", "", nil)
		}},
		{"sent-variables", b.Variables, func(n int) []byte {
			vars := map[string]any{}
			for i := range n {
				vars[fmt.Sprintf("v%d", i)] = i
			}
			return gqlBody("{me{id}}", "", vars)
		}},
		{"wide-list-variable", b.VariableValues - 1, func(n int) []byte {
			return gqlBody("mutation($s:[String!]){createLink(input:{url:\"https://example.com/\",tags:$s}){id}}", "",
				map[string]any{"s": strings.Split(strings.Repeat("x", n), "")})
		}},
		{"deep-list-variable", b.VariableValues, func(n int) []byte {
			n = min(n, 9000) // encoding/json refuses more than 10,000 levels
			return []byte(`{"query":"query($s:String){links(search:$s){totalCount}}\n` + uniqueMark + `","variables":{"s":` +
				strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
		}},
		{"huge-variable-string", 1, func(n int) []byte {
			return gqlBody("query($s:String){links(search:$s){totalCount}}", "", map[string]any{"s": strings.Repeat("a%", n*1000)})
		}},
		{"directives", b.Repeats, func(n int) []byte {
			return gqlBody("{me{"+repeat("id @include(if:true) @skip(if:false) @include(if:true) ", n)+"}}", "", nil)
		}},
		{"repeated-directive", b.Directives, func(n int) []byte {
			return gqlBody("{me{id "+repeat("@include(if:true)", n)+"}}", "", nil)
		}},
		{"arguments", b.Tokens/4 - 10, func(n int) []byte {
			return gqlBody("{links("+repeat("first:1 ", n)+"){totalCount}}", "", nil)
		}},
		{"argument-list-literal", b.Tokens - 20, func(n int) []byte {
			return gqlBody("mutation{createLink(input:{url:\"https://example.com/\",tags:["+repeat("\"x\" ", n)+"]}){id}}", "", nil)
		}},
		{"deep-object-literal", b.Tokens/4 - 10, func(n int) []byte {
			return gqlBody("{links(search:"+strings.Repeat("{a:", n)+"1"+strings.Repeat("}", n)+"){totalCount}}", "", nil)
		}},
		{"deep-selections", b.Tokens/4 - 10, func(n int) []byte {
			return gqlBody(strings.Repeat("{me", n)+strings.Repeat("}", n), "", nil)
		}},
		{"long-string-literal", 1, func(n int) []byte {
			return gqlBody("{links(search:\""+strings.Repeat("a%", n*1000)+"\"){totalCount}}", "", nil)
		}},
		{"unicode-string-literal", 1, func(n int) []byte {
			return gqlBody("{links(search:\""+strings.Repeat("é漢🙂", n*100)+"\"){totalCount}}", "", nil)
		}},
		{"unicode-block-string", 1, func(n int) []byte {
			return gqlBody("{links(search:\"\"\""+strings.Repeat("é漢🙂\n", n*100)+"\"\"\"){totalCount}}", "", nil)
		}},
		{"unicode-name", 1, func(n int) []byte {
			return gqlBody("{me{id"+strings.Repeat("é", n*1000)+"}}", "", nil)
		}},
		{"comments", 1, func(n int) []byte {
			return gqlBody(strings.Repeat("# "+strings.Repeat("x", 1000)+"\n", n)+"{me{id}}", "", nil)
		}},
		{"unknown-fields", b.Selections - 2, func(n int) []byte {
			return gqlBody("{me{"+repeat("idd%d ", n)+"}}", "", nil)
		}},
	}
	var out []hostileRequest
	for _, s := range shapes {
		out = append(out, newHostile(s.name+"/edge", s.build(s.edge)))
		out = append(out, newHostile(s.name+"/1MiB", fill(s.build)))
	}
	return out
}

// cpuTime is the user and system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sent counts the requests post has made.
var sent int

// post sends a prepared request, the digits of its uniqueMark replaced by a new
// number, and reads the whole answer.
func post(tb testing.TB, hc *http.Client, url, token string, h hostileRequest) int {
	if h.mark >= 0 {
		sent++
		copy(h.body[h.mark+1:h.mark+len(uniqueMark)], fmt.Sprintf("%010d", sent))
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(h.body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		tb.Fatal(err)
	}
	return res.StatusCode
}

// BenchmarkHostileDocuments sends each hostile request to the real server on
// SQLite, anonymously and with a token, and reports the CPU the process spent per
// request (the server's work; the client in the same process only writes the
// prepared body and discards the answer) in milliseconds and as a multiple of
// `{me{id}}` with a token. Run it with
//
//	go test -run '^$' -bench HostileDocuments -benchtime 20x ./cmd/linkapi/
func BenchmarkHostileDocuments(b *testing.B) {
	s := startServer(b, "sqlite:"+b.TempDir()+"/h.db")
	s.createAccount(b, "ann@example.com", "ann-password", "links:write", "tags:write", "account:write")
	token := s.login(b, "ann@example.com", "ann-password")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	url := s.URL + "/graphql"
	me := newHostile("me", gqlBody("{me{id}}", "", nil))
	hostile := hostileRequests(graph.DefaultBudget)
	runtime.GC() // so that building the bodies leaves no garbage for the runs below
	const baseRuns = 500
	for range 50 {
		post(b, hc, url, token, me)
	}
	start := cpuTime()
	for range baseRuns {
		post(b, hc, url, token, me)
	}
	base := float64(cpuTime()-start) / baseRuns
	b.Logf("{me{id}} with a token: %.3f ms of CPU", base/1e6)
	for _, h := range hostile {
		for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"token", token}} {
			b.Run(h.name+"/"+who.name, func(b *testing.B) {
				b.SetBytes(int64(len(h.body)))
				runtime.GC()
				start := cpuTime()
				for b.Loop() {
					post(b, hc, url, who.token, h)
				}
				per := float64(cpuTime()-start) / float64(b.N)
				b.ReportMetric(per/1e6, "cpu-ms/op")
				b.ReportMetric(per/base, "x-me")
			})
		}
	}
}

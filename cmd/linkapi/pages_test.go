package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"

	"linkapi/internal/safehttp"
	"linkapi/internal/store/storetest"
)

// This file tests page metadata through the real server: createLink filling a
// link from its page, checkUrl, refreshLinkMetadata, the fetch budget, the
// limits on fetches in flight and the address guard. The pages are served by
// httptest on loopback, which the production guard refuses: the server is
// given, through Program.FetchGuard, a resolver of made-up names and the one
// loopback endpoint of the test's site that it may reach.

// pageSite is a test web site that counts the requests of each path.
type pageSite struct {
	srv  *httptest.Server
	port uint16
	mux  *http.ServeMux
	mu   sync.Mutex
	hits map[string]int
}

func newPageSite(t *testing.T) *pageSite {
	t.Helper()
	s := &pageSite{mux: http.NewServeMux(), hits: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		s.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.port = netip.MustParseAddrPort(s.srv.Listener.Addr().String()).Port()
	return s
}

// addr is the one endpoint of the site.
func (s *pageSite) addr() netip.AddrPort {
	return netip.MustParseAddrPort(s.srv.Listener.Addr().String())
}

// url is the site's URL for path under the name host.
func (s *pageSite) url(host, path string) string {
	return fmt.Sprintf("http://%s:%d%s", host, s.port, path)
}

func (s *pageSite) hitsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *pageSite) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

// html serves body as the page at path, with contentType.
func (s *pageSite) html(path, contentType, body string) {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, body)
	})
}

// fakeDNS answers the names it holds and no others, as a resolver would.
type fakeDNS map[string][]netip.Addr

func (d fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := d[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func addrs(list ...string) []netip.Addr {
	out := make([]netip.Addr, len(list))
	for i, a := range list {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// startFetchingServer runs serve on dbURL with page fetching on, through guard.
func startFetchingServer(t *testing.T, dbURL string, guard safehttp.Options, vars map[string]string) *testServer {
	t.Helper()
	all := map[string]string{"LINKAPI_FETCH_METADATA": "true"}
	for k, v := range vars {
		all[k] = v
	}
	return startServerOpts(t, dbURL, nil, all, func(p *Program) { p.FetchGuard = &guard })
}

// warnings returns the response's extensions.warnings.
func warnings(t *testing.T, r *gqlResponse) []map[string]any {
	t.Helper()
	raw, _ := r.Extensions["warnings"].([]any)
	out := make([]map[string]any, len(raw))
	for i, w := range raw {
		m, ok := w.(map[string]any)
		if !ok {
			t.Fatalf("warning %d is not an object: %s", i, r.Raw)
		}
		out[i] = m
	}
	return out
}

// wantFetchFailed checks that r succeeded with exactly one FETCH_FAILED warning
// of the given reason at path field.
func wantFetchFailed(t *testing.T, r *gqlResponse, field, reason string) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("got errors, want success with a warning: %s", r.Raw)
	}
	ws := warnings(t, r)
	if len(ws) != 1 {
		t.Fatalf("got %d warnings, want 1: %s", len(ws), r.Raw)
	}
	w := ws[0]
	path, _ := w["path"].([]any)
	if w["code"] != "FETCH_FAILED" || w["reason"] != reason || len(path) != 1 || path[0] != field {
		t.Errorf("got warning %v, want FETCH_FAILED, reason %s, path [%s]", w, reason, field)
	}
	if msg, _ := w["message"].(string); msg == "" || strings.Contains(msg, "127.0.0.1") {
		t.Errorf("warning message %q: want one that does not tell the address", msg)
	}
}

// wantNoWarnings checks that r succeeded with no warning.
func wantNoWarnings(t *testing.T, r *gqlResponse) {
	t.Helper()
	if len(r.Errors) > 0 || r.Extensions["warnings"] != nil {
		t.Fatalf("got %s, want success without warnings", r.Raw)
	}
}

const (
	createPage = `mutation($u: String!) { createLink(input: {url: $u}) { id url title description faviconUrl previewImageUrl } }`
	checkPage  = `query($u: String!) { checkUrl(url: $u) { link { id } title description faviconUrl previewImageUrl } }`
)

// optStr returns the string at path, or "" for null.
func optStr(t *testing.T, v any, path ...any) string {
	t.Helper()
	s, _ := get(t, v, path...).(string)
	return s
}

// TestPageMetadataGuardRefuses runs the server with the production guard, only
// its resolver made up: every name or literal that reaches a loopback, private,
// link-local, CGNAT, multicast, unspecified or unique-local address, or a
// blocked port, is refused at dial time. The link is saved all the same, with a
// FETCH_FAILED warning, and the internal site never sees a request.
func TestPageMetadataGuardRefuses(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		internal := newPageSite(t)
		internal.html("/", "text/html", "<title>internal secret</title>")
		dns := fakeDNS{
			"rebind.test":    addrs("127.0.0.1"), // a public-looking name that resolves to loopback
			"mapped.test":    addrs("::ffff:127.0.0.1"),
			"metadata.test":  addrs("169.254.169.254"),
			"private.test":   addrs("10.1.2.3"),
			"private2.test":  addrs("192.168.1.1"),
			"private3.test":  addrs("172.16.0.1"),
			"cgnat.test":     addrs("100.64.0.1"),
			"multicast.test": addrs("224.0.0.1"),
			"zero.test":      addrs("0.0.0.0"),
			"ula.test":       addrs("fd00:ec2::254"),
			"loop6.test":     addrs("::1"),
			"smtp.test":      addrs("8.8.8.8"), // public, but on a blocked port below
		}
		s := startFetchingServer(t, dbURL, safehttp.Options{Resolver: dns}, nil)
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write")
		ann := s.login(t, "ann@example.com", "ann-password")

		refused := []string{
			internal.url("rebind.test", "/"),
			internal.url("mapped.test", "/"),
			internal.url("127.0.0.1", "/"),
			internal.url("[::ffff:127.0.0.1]", "/"),
			internal.url("[::1]", "/"),
			internal.url("loop6.test", "/"),
			internal.url("zero.test", "/"),
			internal.url("0.0.0.0", "/"),
			"http://metadata.test/latest/meta-data/",
			"http://169.254.169.254/latest/meta-data/",
			"http://private.test/",
			"http://private2.test/",
			"http://private3.test/",
			"http://cgnat.test/",
			"http://multicast.test/",
			"http://ula.test/",
			"http://smtp.test:25/",
		}
		for i, u := range refused {
			t.Run(u, func(t *testing.T) {
				r := s.do(t, ann, checkPage, map[string]any{"u": u})
				wantFetchFailed(t, r, "checkUrl", "refused")
				if title := get(t, r.Data, "checkUrl", "title"); title != nil {
					t.Errorf("checkUrl title: got %v, want null", title)
				}
				// Each createLink saves a URL of its own.
				u := u + fmt.Sprintf("?n=%d", i)
				r = s.do(t, ann, createPage, map[string]any{"u": u})
				wantFetchFailed(t, r, "createLink", "refused")
				if got := str(t, r.Data, "createLink", "url"); got != u {
					t.Errorf("saved URL: got %s, want %s", got, u)
				}
				if title := get(t, r.Data, "createLink", "title"); title != nil {
					t.Errorf("title: got %v, want null", title)
				}
			})
		}
		if n := internal.total(); n != 0 {
			t.Errorf("the internal site got %d requests, want none", n)
		}
		db := openDB(t, dbURL)
		if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links"); n != int64(len(refused)) {
			t.Errorf("got %d links, want %d: each refused fetch still saves its link", n, len(refused))
		}
	})
}

// TestPageMetadata fetches pages of a test site the guard is told to allow.
func TestPageMetadata(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		site := newPageSite(t)
		internal := newPageSite(t) // on loopback too, but not allowed
		internal.html("/secret", "text/html", "<title>internal secret</title>")
		dns := fakeDNS{"pages.test": addrs("127.0.0.1"), "evil.test": addrs("127.0.0.1")}
		// The request deadline is 4s and LINKAPI_FETCH_TIMEOUT 30s: the budget is
		// half the deadline, 2s, or a slow page would time the request out.
		s := startFetchingServer(t, dbURL, safehttp.Options{Resolver: dns, Allow: []netip.AddrPort{site.addr()}},
			map[string]string{"LINKAPI_FETCH_TIMEOUT": "30s", "LINKAPI_REQUEST_TIMEOUT": "4s"})
		s.createAccount(t, "ann@example.com", "ann-password", "links:write", "tags:write")
		s.createAccount(t, "bob@example.com", "bob-password", "links:write", "tags:write")
		s.createAccount(t, "nos@example.com", "nos-password")
		ann := s.login(t, "ann@example.com", "ann-password")
		bob := s.login(t, "bob@example.com", "bob-password")
		nos := s.login(t, "nos@example.com", "nos-password")
		page := func(path string) string { return site.url("pages.test", path) }
		db := openDB(t, dbURL)
		countLinks := func() int64 { return queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links") }

		site.html("/og", "text/html; charset=utf-8", `<!doctype html><html><head>
<title>Plain title</title>
<meta name="description" content="Meta description">
<meta name="twitter:title" content="Twitter title">
<meta name="twitter:description" content="Twitter description">
<meta name="twitter:image" content="/img/twitter.png">
<meta property="og:title" content="OG title">
<meta property="og:description" content="OG description">
<meta property="og:image" content="img/og.png">
<link rel="icon" href="/icon.png">
</head><body><title>not this</title></body></html>`)
		site.html("/twitter", "text/html", `<html><head><title>Plain title</title>
<meta name="description" content="Meta description">
<meta name="twitter:title" content="Twitter title">
<meta name="twitter:description" content="Twitter description">
<meta name="twitter:image:src" content="https://cdn.example/t.png">
<link rel="apple-touch-icon" href="/apple.png"></head></html>`)
		site.html("/plain", "text/html", `<html><head><title> Plain
  title </title><meta name="description" content="Meta description"></head><body>x</body></html>`)
		site.html("/empty", "text/html", `<html><body>nothing here</body></html>`)

		t.Run("precedence", func(t *testing.T) {
			for _, c := range []struct {
				path                          string
				title, desc, favicon, preview string
			}{
				{"/og", "OG title", "OG description", page("/icon.png"), page("/img/og.png")},
				{"/twitter", "Twitter title", "Twitter description", page("/apple.png"), "https://cdn.example/t.png"},
				{"/plain", "Plain title", "Meta description", page("/favicon.ico"), ""},
				{"/empty", "", "", page("/favicon.ico"), ""},
			} {
				r := s.do(t, ann, createPage, map[string]any{"u": page(c.path)})
				wantNoWarnings(t, r)
				l := get(t, r.Data, "createLink")
				got := [4]string{optStr(t, l, "title"), optStr(t, l, "description"), optStr(t, l, "faviconUrl"), optStr(t, l, "previewImageUrl")}
				if want := [4]string{c.title, c.desc, c.favicon, c.preview}; got != want {
					t.Errorf("%s: got %q, want %q", c.path, got, want)
				}
			}
		})

		t.Run("what the client gives is kept", func(t *testing.T) {
			site.html("/counted", "text/html", `<title>Page title</title><meta name="description" content="Page description">`)
			r := s.do(t, ann, `mutation($u: String!) { createLink(input: {url: $u, title: "Mine"}) { title description } }`,
				map[string]any{"u": page("/counted")})
			wantNoWarnings(t, r)
			r = s.do(t, ann, `mutation($u: String!) { createLink(input: {url: $u, fetchMetadata: false}) { title faviconUrl } }`,
				map[string]any{"u": page("/counted?no-fetch")})
			wantNoWarnings(t, r)
			if get(t, r.Data, "createLink", "title") != nil || get(t, r.Data, "createLink", "faviconUrl") != nil {
				t.Errorf("fetchMetadata: false: got %v, want no metadata", r.Data)
			}
			if n := site.hitsOf("/counted"); n != 0 {
				t.Fatalf("with a title or fetchMetadata: false the page got %d requests, want none", n)
			}
			r = s.do(t, ann, `mutation($u: String!) { createLink(input: {url: $u, title: "Mine", fetchMetadata: true}) { title description } }`,
				map[string]any{"u": page("/counted?asked")})
			wantNoWarnings(t, r)
			if got := [2]string{optStr(t, r.Data, "createLink", "title"), optStr(t, r.Data, "createLink", "description")}; got != [2]string{"Mine", "Page description"} {
				t.Errorf("fetchMetadata: true with a title: got %q, want the title kept and the description filled", got)
			}
		})

		t.Run("charsets", func(t *testing.T) {
			cp1252, err := charmap.Windows1252.NewEncoder().String(`<title>Café déjà vu – 5 €</title>`)
			if err != nil {
				t.Fatal(err)
			}
			site.html("/cp1252", "text/html; charset=windows-1252", cp1252)
			sjis, err := japanese.ShiftJIS.NewEncoder().String(`<html><head><meta charset="Shift_JIS"><title>日本語のページ</title></head></html>`)
			if err != nil {
				t.Fatal(err)
			}
			site.html("/sjis", "text/html", sjis)
			for path, want := range map[string]string{"/cp1252": "Café déjà vu – 5 €", "/sjis": "日本語のページ"} {
				r := s.do(t, ann, createPage, map[string]any{"u": page(path)})
				wantNoWarnings(t, r)
				if got := optStr(t, r.Data, "createLink", "title"); got != want {
					t.Errorf("%s: got title %q, want %q", path, got, want)
				}
			}
		})

		t.Run("huge page is cut at 2 MiB", func(t *testing.T) {
			filler := strings.Repeat(`<meta name="x" content="`+strings.Repeat("y", 1000)+`">`+"\n", 3<<10) // about 3 MiB
			site.html("/huge-early", "text/html", "<html><head><title>Early</title>"+filler+"</head></html>")
			site.html("/huge-late", "text/html", "<html><head>"+filler+"<title>Late</title></head></html>")
			r := s.do(t, ann, createPage, map[string]any{"u": page("/huge-early")})
			wantNoWarnings(t, r)
			if got := optStr(t, r.Data, "createLink", "title"); got != "Early" {
				t.Errorf("title before the cap: got %q, want Early", got)
			}
			r = s.do(t, ann, createPage, map[string]any{"u": page("/huge-late")})
			wantNoWarnings(t, r)
			if got := get(t, r.Data, "createLink", "title"); got != nil {
				t.Errorf("title past the 2 MiB cap: got %v, want null (the page is not read that far)", got)
			}
		})

		t.Run("slow page: saved within the budget", func(t *testing.T) {
			cut := make(chan struct{})
			site.mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><head>")
				w.(http.Flusher).Flush()
				<-r.Context().Done() // never finishes by itself
				close(cut)
			})
			r := s.do(t, ann, createPage, map[string]any{"u": page("/slow")})
			wantFetchFailed(t, r, "createLink", "timeout")
			id := str(t, r.Data, "createLink", "id")
			if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links WHERE id = ?", id); n != 1 {
				t.Errorf("the link of the slow page is not saved")
			}
			select {
			case <-cut:
			case <-time.After(30 * time.Second):
				t.Fatal("the slow page's request was never cut off")
			}

			// Two slow pages in one request share one budget: were each given
			// its own, the second would take the request past its deadline.
			site.mux.HandleFunc("/slow2/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			r = s.do(t, ann, `mutation($a: String!, $b: String!) {
				a: createLink(input: {url: $a}) { id title }
				b: createLink(input: {url: $b}) { id title } }`,
				map[string]any{"a": page("/slow2/a"), "b": page("/slow2/b")})
			if len(r.Errors) > 0 || get(t, r.Data, "a", "id") == nil || get(t, r.Data, "b", "id") == nil {
				t.Fatalf("two slow pages in one request: got %s, want both links saved", r.Raw)
			}
			ws := warnings(t, r)
			if len(ws) != 2 || ws[0]["reason"] != "timeout" || ws[1]["reason"] != "timeout" {
				t.Errorf("two slow pages: got warnings %v, want two timeouts", ws)
			}
		})

		t.Run("redirects are checked", func(t *testing.T) {
			redirect := func(path, to string) {
				site.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
			}
			redirect("/to-og", "/og")
			redirect("/to-internal", internal.url("127.0.0.1", "/secret"))
			redirect("/to-evil", internal.url("evil.test", "/secret"))
			redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
			redirect("/to-private", "http://10.0.0.1/")
			redirect("/to-ftp", "ftp://pages.test/file")
			for i := 0; i < 6; i++ {
				redirect(fmt.Sprintf("/hop/%d", i), fmt.Sprintf("/hop/%d", i+1))
			}
			site.html("/hop/6", "text/html", "<title>Six hops away</title>")

			r := s.do(t, ann, createPage, map[string]any{"u": page("/to-og")})
			wantNoWarnings(t, r)
			if got := optStr(t, r.Data, "createLink", "title"); got != "OG title" {
				t.Errorf("a redirect within the allowed site: got title %q, want OG title", got)
			}
			for _, path := range []string{"/to-internal", "/to-evil", "/to-metadata", "/to-private", "/to-ftp", "/hop/0"} {
				r := s.do(t, ann, createPage, map[string]any{"u": page(path)})
				wantFetchFailed(t, r, "createLink", "refused")
				if get(t, r.Data, "createLink", "title") != nil {
					t.Errorf("%s: got a title %v, want none", path, get(t, r.Data, "createLink", "title"))
				}
			}
			// Five redirects are followed, a sixth is refused.
			r = s.do(t, ann, createPage, map[string]any{"u": page("/hop/1")})
			wantNoWarnings(t, r)
			if got := optStr(t, r.Data, "createLink", "title"); got != "Six hops away" {
				t.Errorf("five redirects: got title %q, want the page's", got)
			}
			// A name of the test's that resolves to loopback, but to an endpoint
			// the guard was not told to allow.
			r = s.do(t, ann, checkPage, map[string]any{"u": internal.url("evil.test", "/secret")})
			wantFetchFailed(t, r, "checkUrl", "refused")
			if n := internal.total(); n != 0 {
				t.Errorf("the internal site got %d requests, want none", n)
			}
		})

		t.Run("failures", func(t *testing.T) {
			site.mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) })
			site.html("/pdf", "application/pdf", "%PDF-1.7")
			for path, reason := range map[string]string{"/gone": "http_status", "/pdf": "not_html"} {
				r := s.do(t, ann, createPage, map[string]any{"u": page(path)})
				wantFetchFailed(t, r, "createLink", reason)
			}
			r := s.do(t, ann, createPage, map[string]any{"u": "http://nowhere.test/"})
			wantFetchFailed(t, r, "createLink", "unreachable")
		})

		t.Run("checkUrl", func(t *testing.T) {
			before := site.hitsOf("/og")
			r := s.do(t, ann, checkPage, map[string]any{"u": page("/og?unsaved")})
			wantNoWarnings(t, r)
			c := get(t, r.Data, "checkUrl")
			if get(t, c, "link") != nil || optStr(t, c, "title") != "OG title" || optStr(t, c, "description") != "OG description" ||
				optStr(t, c, "faviconUrl") != page("/icon.png") || optStr(t, c, "previewImageUrl") != page("/img/og.png") {
				t.Errorf("checkUrl of an unsaved page: got %v, want its metadata", c)
			}
			// A saved URL is answered from the database, without a fetch.
			r = s.do(t, ann, checkPage, map[string]any{"u": page("/og")})
			wantNoWarnings(t, r)
			if get(t, r.Data, "checkUrl", "link") == nil {
				t.Errorf("checkUrl of a saved page: got %v, want its link", r.Data)
			}
			if got := site.hitsOf("/og"); got != before+1 {
				t.Errorf("the page got %d requests, want 1: a saved URL is not fetched", got-before)
			}
			if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links WHERE url = ?", page("/og?unsaved")); n != 0 {
				t.Errorf("checkUrl saved the link")
			}
		})

		t.Run("refreshLinkMetadata", func(t *testing.T) {
			var mu sync.Mutex
			title, status := "First", http.StatusOK
			site.mux.HandleFunc("/mutable", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				tt, st := title, status
				mu.Unlock()
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(st)
				fmt.Fprintf(w, `<title>%s</title><meta property="og:image" content="/%s.png">`, tt, tt)
			})
			set := func(t string, s int) { mu.Lock(); title, status = t, s; mu.Unlock() }
			refresh := `mutation($id: ID!) { refreshLinkMetadata(id: $id) { id url title previewImageUrl notes } }`
			r := s.do(t, ann, `mutation($u: String!) { createLink(input: {url: $u, notes: "mine"}) { id title } }`, map[string]any{"u": page("/mutable")})
			wantNoWarnings(t, r)
			id := str(t, r.Data, "createLink", "id")
			if got := optStr(t, r.Data, "createLink", "title"); got != "First" {
				t.Fatalf("created: got title %q, want First", got)
			}

			set("Second", http.StatusOK)
			r = s.do(t, ann, refresh, map[string]any{"id": id})
			wantNoWarnings(t, r)
			l := get(t, r.Data, "refreshLinkMetadata")
			if optStr(t, l, "title") != "Second" || optStr(t, l, "previewImageUrl") != page("/Second.png") || optStr(t, l, "notes") != "mine" {
				t.Errorf("refreshed: got %v, want title Second, its image, notes kept", l)
			}

			hits := site.hitsOf("/mutable")
			for _, c := range []struct {
				name, token, id, want string
			}{
				{"another account's link", bob, id, "NOT_FOUND"},
				{"a missing link", ann, "999999", "NOT_FOUND"},
				{"a bad id", ann, "x", "NOT_FOUND"},
				{"no scope", nos, id, "FORBIDDEN"},
				{"anonymous", "", id, "UNAUTHENTICATED"},
			} {
				if r := s.do(t, c.token, refresh, map[string]any{"id": c.id}); r.Code() != c.want || r.Data["refreshLinkMetadata"] != nil {
					t.Errorf("%s: got %s, want %s", c.name, r.Raw, c.want)
				}
			}
			if got := site.hitsOf("/mutable"); got != hits {
				t.Errorf("refused refreshes fetched the page %d times, want none", got-hits)
			}

			set("Broken", http.StatusInternalServerError)
			r = s.do(t, ann, refresh, map[string]any{"id": id})
			wantFetchFailed(t, r, "refreshLinkMetadata", "http_status")
			if got := optStr(t, r.Data, "refreshLinkMetadata", "title"); got != "Second" {
				t.Errorf("after a failed refresh: got title %q, want Second, unchanged", got)
			}
			if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links WHERE id = ? AND title = 'Second'", id); n != 1 {
				t.Errorf("a failed refresh changed the link")
			}

			// The link's URL changes while its page is read: the refresh is
			// CONFLICT and the new URL stays, with the old metadata.
			moved := page("/moved")
			raceID := str(t, s.ok(t, ann, `mutation($u: String!) { createLink(input: {url: $u, title: "Before"}) { id } }`,
				map[string]any{"u": page("/race")}), "createLink", "id")
			site.mux.HandleFunc("/race", func(w http.ResponseWriter, r *http.Request) {
				if u := s.do(t, ann, `mutation($id: ID!, $u: String!) { updateLink(id: $id, input: {url: $u}) { id } }`,
					map[string]any{"id": raceID, "u": moved}); len(u.Errors) > 0 {
					t.Errorf("updateLink during the fetch: %s", u.Raw)
				}
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<title>Raced</title>")
			})
			r = s.do(t, ann, refresh, map[string]any{"id": raceID})
			if r.Code() != "CONFLICT" {
				t.Errorf("refresh while the URL changed: got %s, want CONFLICT", r.Raw)
			}
			if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links WHERE id = ? AND url = ? AND title = 'Before'", raceID, moved); n != 1 {
				t.Errorf("after the conflict: want the new URL with the old title")
			}
		})

		t.Run("fetches in flight are limited per account", func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{}, 4)
			site.mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
				}
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<title>Blocked</title>")
			})
			site.html("/busy", "text/html", "<title>Busy</title>")
			var wg sync.WaitGroup
			results := make([]*gqlResponse, 2)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = s.do(t, ann, createPage, map[string]any{"u": page(fmt.Sprintf("/block?%d", i))})
				}()
				<-started
			}
			// Ann has two fetches in flight: a third is not made.
			r := s.do(t, ann, createPage, map[string]any{"u": page("/busy?ann")})
			wantFetchFailed(t, r, "createLink", "busy")
			if n := site.hitsOf("/busy"); n != 0 {
				t.Errorf("the third fetch reached the page %d times, want none", n)
			}
			// Bob's fetch is his own.
			r = s.do(t, bob, createPage, map[string]any{"u": page("/busy?bob")})
			wantNoWarnings(t, r)
			if got := optStr(t, r.Data, "createLink", "title"); got != "Busy" {
				t.Errorf("bob's fetch while ann's are in flight: got title %q, want Busy", got)
			}
			close(release)
			wg.Wait()
			for i, r := range results {
				wantNoWarnings(t, r)
				if got := optStr(t, r.Data, "createLink", "title"); got != "Blocked" {
					t.Errorf("blocked fetch %d: got title %q, want Blocked", i, got)
				}
			}
		})

		t.Run("a refused request fetches and writes nothing", func(t *testing.T) {
			site.html("/never", "text/html", "<title>Never</title>")
			s.ok(t, ann, `mutation($u: String!) { createLink(input: {url: $u, title: "Saved"}) { id } }`, map[string]any{"u": page("/never?saved")})
			bobID := queryInt(t, db.SQL(), "SELECT id FROM accounts WHERE email = 'bob@example.com'")
			links := countLinks()
			for _, c := range []struct {
				name, token, query string
				vars               map[string]any
				want               string
			}{
				{"anonymous", "", createPage, map[string]any{"u": page("/never")}, "UNAUTHENTICATED"},
				{"no scope", nos, createPage, map[string]any{"u": page("/never")}, "FORBIDDEN"},
				{"another account's accountId", ann, `mutation($u: String!, $a: ID) { createLink(input: {url: $u, accountId: $a}) { id } }`,
					map[string]any{"u": page("/never"), "a": formatInt(bobID)}, "FORBIDDEN"},
				{"a saved URL", ann, createPage, map[string]any{"u": page("/never?saved#again")}, "CONFLICT"},
				{"a bad tag", ann, `mutation($u: String!) { createLink(input: {url: $u, tags: [" "]}) { id } }`,
					map[string]any{"u": page("/never")}, "BAD_USER_INPUT"},
				{"a long note", ann, `mutation($u: String!, $n: String) { createLink(input: {url: $u, notes: $n}) { id } }`,
					map[string]any{"u": page("/never"), "n": strings.Repeat("n", 100_000)}, "BAD_USER_INPUT"},
				{"checkUrl without a scope", nos, checkPage, map[string]any{"u": page("/never")}, "FORBIDDEN"},
				{"checkUrl of a bad URL", ann, checkPage, map[string]any{"u": "javascript:alert(1)"}, "BAD_USER_INPUT"},
			} {
				r := s.do(t, c.token, c.query, c.vars)
				if r.Code() != c.want {
					t.Errorf("%s: got %s, want %s", c.name, r.Raw, c.want)
				}
				if r.Extensions["warnings"] != nil {
					t.Errorf("%s: got warnings %v, want none: nothing is fetched", c.name, r.Extensions["warnings"])
				}
			}
			if n := site.hitsOf("/never"); n != 0 {
				t.Errorf("refused requests fetched the page %d times, want none", n)
			}
			if n := countLinks(); n != links {
				t.Errorf("refused requests: got %d links, want %d", n, links)
			}
		})
	})
}

// TestPageMetadataTurnedOff: with LINKAPI_FETCH_METADATA=false nothing is
// fetched; a client that asks for a fetch is told so by a warning, and one that
// does not ask is not.
func TestPageMetadataTurnedOff(t *testing.T) {
	forEachServer(t, func(t *testing.T, s *testServer) {
		site := newPageSite(t)
		site.html("/", "text/html", "<title>Off</title>")
		s.createAccount(t, "ann@example.com", "ann-password", "links:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		u := site.url("127.0.0.1", "/")
		wantNoWarnings(t, s.do(t, ann, createPage, map[string]any{"u": u + "?implicit"}))
		wantNoWarnings(t, s.do(t, ann, checkPage, map[string]any{"u": u}))
		r := s.do(t, ann, `mutation($u: String!) { createLink(input: {url: $u, fetchMetadata: true}) { id title } }`, map[string]any{"u": u})
		wantFetchFailed(t, r, "createLink", "disabled")
		r = s.do(t, ann, `mutation($id: ID!) { refreshLinkMetadata(id: $id) { title } }`, map[string]any{"id": str(t, r.Data, "createLink", "id")})
		wantFetchFailed(t, r, "refreshLinkMetadata", "disabled")
		if n := site.total(); n != 0 {
			t.Errorf("the site got %d requests, want none", n)
		}
	})
}

// TestFetchBudget: a fetch takes at most LINKAPI_FETCH_TIMEOUT and at most half
// the request's deadline.
func TestFetchBudget(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		want time.Duration
	}{
		{nil, 5 * time.Second},
		{map[string]string{"LINKAPI_FETCH_TIMEOUT": "2s"}, 2 * time.Second},
		{map[string]string{"LINKAPI_REQUEST_TIMEOUT": "4s"}, 2 * time.Second},
		{map[string]string{"LINKAPI_FETCH_TIMEOUT": "30s", "LINKAPI_REQUEST_TIMEOUT": "1m"}, 30 * time.Second},
	} {
		cfg, err := loadConfig(env(c.vars), flag.NewFlagSet("t", flag.ContinueOnError), nil, "serve")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Pages.Options.Timeout; got != c.want || !cfg.Pages.Enabled {
			t.Errorf("%v: got budget %s (enabled %t), want %s", c.vars, got, cfg.Pages.Enabled, c.want)
		}
	}
	for _, bad := range []map[string]string{{"LINKAPI_FETCH_TIMEOUT": "soon"}, {"LINKAPI_FETCH_METADATA": "perhaps"}} {
		if _, err := loadConfig(env(bad), flag.NewFlagSet("t", flag.ContinueOnError), nil, "serve"); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestPageMetadataPastQuota: a page whose text would take the account past its
// quota does not cost the link: it is saved without the page's text, with a
// FETCH_FAILED warning of reason not_stored. A refresh that would not fit is
// BAD_USER_INPUT and changes nothing.
func TestPageMetadataPastQuota(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, dbURL string) {
		site := newPageSite(t)
		site.html("/long", "text/html", "<title>"+strings.Repeat("long title ", 40)+"</title>")
		var mu sync.Mutex
		short := "Short"
		site.mux.HandleFunc("/short", func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<title>"+short+"</title>")
		})
		s := startFetchingServer(t, dbURL, safehttp.Options{Resolver: fakeDNS{"pages.test": addrs("127.0.0.1")}, Allow: []netip.AddrPort{site.addr()}},
			map[string]string{"LINKAPI_MAX_TEXT_PER_ACCOUNT": "300"})
		s.createAccount(t, "ann@example.com", "ann-password", "links:write")
		ann := s.login(t, "ann@example.com", "ann-password")
		r := s.do(t, ann, createPage, map[string]any{"u": site.url("pages.test", "/long")})
		wantFetchFailed(t, r, "createLink", "not_stored")
		if get(t, r.Data, "createLink", "id") == nil || get(t, r.Data, "createLink", "title") != nil {
			t.Errorf("got %v, want the link saved without the page's title", r.Data)
		}
		r = s.do(t, ann, createPage, map[string]any{"u": site.url("pages.test", "/short")})
		wantNoWarnings(t, r)
		id := str(t, r.Data, "createLink", "id")
		mu.Lock()
		short = strings.Repeat("grown ", 50)
		mu.Unlock()
		db := openDB(t, dbURL)
		r = s.do(t, ann, `mutation($id: ID!) { refreshLinkMetadata(id: $id) { title } }`, map[string]any{"id": id})
		if r.Code() != "BAD_USER_INPUT" {
			t.Errorf("a refresh past the quota: got %s, want BAD_USER_INPUT", r.Raw)
		}
		if n := queryInt(t, db.SQL(), "SELECT COUNT(*) FROM links WHERE id = ? AND title = 'Short'", id); n != 1 {
			t.Errorf("a refused refresh changed the link")
		}
	})
}

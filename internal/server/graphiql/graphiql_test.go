package graphiql

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

// TestPageLoadsOnlyPinnedLocalFiles checks that every script and stylesheet of the
// page is served here, with the content the page's integrity hash pins.
func TestPageLoadsOnlyPinnedLocalFiles(t *testing.T) {
	h := Handler()
	res := get(t, h, "/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	page, _ := io.ReadAll(res.Body)

	refs := regexp.MustCompile(`(?s)<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"([^>]*)>`).FindAllStringSubmatch(string(page), -1)
	files := 0
	for _, ref := range refs {
		url, rest := ref[1], ref[2]
		if strings.HasPrefix(url, "data:") {
			continue // the empty favicon, so that the browser does not ask for one
		}
		files++
		if !strings.HasPrefix(url, "/graphiql/") {
			t.Errorf("page loads %s, not from /graphiql/", url)
			continue
		}
		res := get(t, h, url)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", url, res.StatusCode)
			continue
		}
		wantType := "text/javascript"
		if strings.HasSuffix(url, ".css") {
			wantType = "text/css"
		}
		if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, wantType) {
			t.Errorf("GET %s: Content-Type %q, want %s", url, got, wantType)
		}
		if url == "/graphiql/start.js" {
			continue
		}
		sum := sha256.Sum256(body)
		got := "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
		m := regexp.MustCompile(`integrity="([^"]+)"`).FindStringSubmatch(rest)
		if m == nil || m[1] != got {
			t.Errorf("%s has %s, page pins %v", url, got, m)
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: Cache-Control %q", url, cc)
		}
	}
	if files != 5 {
		t.Errorf("page loads %d files, want 5 (3 bundles, the stylesheet, start.js)", files)
	}
}

func TestNoDirectoryListing(t *testing.T) {
	for _, path := range []string{"/graphiql/", "/graphiql/graphiql-4.1.2/"} {
		if res := get(t, Handler(), path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, res.StatusCode)
		}
	}
}

package pagemeta_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"linkapi/internal/pagemeta"
	"linkapi/internal/safehttp"
)

// serve starts a test server and returns it with a guarded client that may reach
// it (and nothing else on loopback).
func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *http.Client) {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	addr := netip.MustParseAddrPort(s.Listener.Addr().String())
	return s, safehttp.NewClient(safehttp.Options{Allow: []netip.AddrPort{addr}})
}

// page serves body with the given Content-Type (none when empty).
func page(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing by the server
		}
		io.WriteString(w, body)
	}
}

func fetch(t *testing.T, h http.HandlerFunc, path string) (pagemeta.Page, *httptest.Server) {
	t.Helper()
	s, c := serve(t, h)
	p, err := pagemeta.Fetch(context.Background(), c, s.URL+path)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return p, s
}

func TestFetchPrefersOpenGraph(t *testing.T) {
	const doc = `<!doctype html><html><head>
<title>Plain title</title>
<meta name="description" content="plain description">
<meta name="twitter:title" content="Twitter title">
<meta name="twitter:description" content="twitter description">
<meta name="twitter:image" content="/twitter.png">
<meta property="og:title" content="  Open
	Graph &amp; title ">
<meta property="og:description" content="og description">
<meta property="og:image" content="img/og.png#frag">
<link rel="apple-touch-icon" href="/apple.png">
<link rel="shortcut icon" href="//cdn.example.com/fav.ico">
</head><body><p>text</p></body></html>`
	p, s := fetch(t, page("text/html; charset=utf-8", doc), "/articles/one")
	want := pagemeta.Page{
		Title:           "Open Graph & title",
		Description:     "og description",
		PreviewImageURL: s.URL + "/articles/img/og.png",
		FaviconURL:      "http://cdn.example.com/fav.ico",
		FinalURL:        s.URL + "/articles/one",
	}
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
}

func TestFetchFallbacks(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      pagemeta.Page
	}{
		{"twitter", `<head><meta name=twitter:title content="T"><meta property=twitter:description content="D">
			<meta name="twitter:image:src" content="https://img.example.com/t.png"><link rel=apple-touch-icon href=/a.png><title>Plain</title>`,
			pagemeta.Page{Title: "T", Description: "D", PreviewImageURL: "https://img.example.com/t.png", FaviconURL: "/a.png"}},
		{"plain", `<html><head><TITLE>Just a title</TITLE><META NAME="Description" CONTENT="Just a description"></head>`,
			pagemeta.Page{Title: "Just a title", Description: "Just a description", FaviconURL: "/favicon.ico"}},
		{"og in name, icon token", `<meta name="og:title" content="Named"><link rel="ICON foo" href="i.svg"><link rel=icon href=second.ico>`,
			pagemeta.Page{Title: "Named", FaviconURL: "/dir/i.svg"}},
		{"missing everything", `<html><head></head><body>hello</body></html>`,
			pagemeta.Page{FaviconURL: "/favicon.ico"}},
		{"blank og falls back", `<meta property=og:title content="  "><title>Real</title>`,
			pagemeta.Page{Title: "Real", FaviconURL: "/favicon.ico"}},
		{"no scheme but http", `<meta property=og:image content="javascript:alert(1)"><meta name=twitter:image content="data:image/png;base64,AAAA">
			<link rel=icon href="data:image/x-icon;base64,AAAA"><link rel=icon href="ftp://x/y.ico">`,
			pagemeta.Page{FaviconURL: "/favicon.ico"}},
		{"credentials in a URL", `<meta property=og:image content="http://u:p@img.example.com/x.png">`,
			pagemeta.Page{FaviconURL: "/favicon.ico"}},
		{"base href", `<head><base href="https://static.example.com/assets/"><link rel=icon href="fav.png"><meta property=og:image content="og.png">`,
			pagemeta.Page{FaviconURL: "https://static.example.com/assets/fav.png", PreviewImageURL: "https://static.example.com/assets/og.png"}},
		{"stops at the body", `<title>Head</title><body><meta property=og:title content=Late><svg><title>Icon</title></svg>`,
			pagemeta.Page{Title: "Head", FaviconURL: "/favicon.ico"}},
		{"first title only", `<title>One</title><title>Two</title>`,
			pagemeta.Page{Title: "One", FaviconURL: "/favicon.ico"}},
		{"control characters", "<title>a\x01b\u200b\tc\u00a0d</title>",
			pagemeta.Page{Title: "ab\u200b c d", FaviconURL: "/favicon.ico"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, s := fetch(t, page("text/html", c.doc), "/dir/page")
			for _, u := range []*string{&c.want.FaviconURL, &c.want.PreviewImageURL} {
				if strings.HasPrefix(*u, "/") {
					*u = s.URL + *u
				}
			}
			c.want.FinalURL = s.URL + "/dir/page"
			if p != c.want {
				t.Fatalf("got %+v\nwant %+v", p, c.want)
			}
		})
	}
}

// TestFetchCharsets: the encoding comes from a byte-order mark, then the
// Content-Type header, then <meta charset> or <meta http-equiv> in the first
// 1024 bytes, then windows-1252.
func TestFetchCharsets(t *testing.T) {
	sjis, err := japanese.ShiftJIS.NewEncoder().String("日本語のページ")
	if err != nil {
		t.Fatal(err)
	}
	sjisDesc, _ := japanese.ShiftJIS.NewEncoder().String("説明文")
	for _, c := range []struct {
		name, contentType, doc, title, description string
	}{
		{"latin-1 header", "text/html; charset=ISO-8859-1", "<title>Caf\xe9 M\xfcller</title><meta name=description content='na\xefve'>", "Café Müller", "naïve"},
		{"windows-1252 meta", "text/html", "<meta charset=windows-1252><title>\x93Quoted\x94 \x80 5</title>", "“Quoted” € 5", ""},
		{"windows-1252 default", "text/html", "<title>\x93Quoted\x94</title>", "“Quoted”", ""},
		{"shift_jis http-equiv", "text/html", `<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><title>` + sjis + `</title><meta property=og:description content="` + sjisDesc + `">`, "日本語のページ", "説明文"},
		{"shift_jis header", "text/html; charset=shift_jis", "<title>" + sjis + "</title>", "日本語のページ", ""},
		{"utf-8 BOM beats the header", "text/html; charset=iso-8859-1", "\xef\xbb\xbf<title>Ünïcödé</title>", "Ünïcödé", ""},
		{"utf-8 sniffed", "text/html", "<title>Ünïcödé ✓</title>", "Ünïcödé ✓", ""},
		{"invalid utf-8", "text/html; charset=utf-8", "<title>bad \xff\xfe bytes</title>", "bad \ufffd\ufffd bytes", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := fetch(t, page(c.contentType, c.doc), "/")
			if p.Title != c.title || p.Description != c.description {
				t.Fatalf("got title %q, description %q; want %q, %q", p.Title, p.Description, c.title, c.description)
			}
		})
	}
}

func TestFetchCapsLengths(t *testing.T) {
	long := strings.Repeat("word ", 3000)
	p, _ := fetch(t, page("text/html", "<title>"+long+"</title><meta name=description content='"+strings.Repeat("é", 9000)+"'>"), "/")
	if n := len([]rune(p.Title)); n != pagemeta.MaxTitleLength || !strings.HasSuffix(p.Title, "…") {
		t.Fatalf("title of %d characters ending %q; want %d ending in an ellipsis", n, p.Title[len(p.Title)-8:], pagemeta.MaxTitleLength)
	}
	if n := len([]rune(p.Description)); n != pagemeta.MaxDescriptionLength {
		t.Fatalf("description of %d characters; want %d", n, pagemeta.MaxDescriptionLength)
	}
	// An image URL longer than a link's URL may be is dropped, not cut.
	p, _ = fetch(t, page("text/html", "<meta property=og:image content='/"+strings.Repeat("a", 3000)+"'>"), "/")
	if p.PreviewImageURL != "" {
		t.Fatalf("preview image of %d bytes kept; want none", len(p.PreviewImageURL))
	}
}

// filler is a tag of 1 KiB: a page of them is few tokens for its size, so that
// only the byte cap stops reading it.
var filler = "<meta name=filler content=" + strings.Repeat("x", 1024-27) + ">"

// TestFetchReadsAtMostMaxBytes: a page that never ends is read to the cap and
// parsed as far as it goes, without error; what lies past the cap is not seen.
func TestFetchReadsAtMostMaxBytes(t *testing.T) {
	endless := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><head><title>Endless</title>")
		chunk := []byte(strings.Repeat(filler, 64))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	s, c := serve(t, endless)
	p, err := pagemeta.Fetch(context.Background(), c, s.URL+"/")
	if err != nil || p.Title != "Endless" {
		t.Fatalf("got %+v, %v; want the title and no error", p, err)
	}

	big := "<head><title>Big</title>" + strings.Repeat(filler, pagemeta.DefaultMaxBytes/len(filler)) + "<meta property=og:description content=late></head>"
	p, _ = fetch(t, page("text/html", big), "/")
	if p.Title != "Big" || p.Description != "" {
		t.Fatalf("got %+v; want the title, and no description from past the cap", p)
	}
	small := pagemeta.Options{MaxBytes: 30}
	s, c = serve(t, page("text/html", "<title>abcdefghijklmnopqrstuvwxyz0123456789</title>"))
	if p, err = small.Fetch(context.Background(), c, s.URL); err != nil || p.Title != "abcdefghijklmnopqrstuvw" {
		t.Fatalf("got %q, %v; want the title cut at 30 bytes of page", p.Title, err)
	}
}

// TestFetchCapsDecompressedBytes: the cap counts the bytes after gzip, so a
// small compressed body that expands to 64 MiB is cut at 2 MiB like any other.
func TestFetchCapsDecompressedBytes(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	io.WriteString(zw, "<head><title>Bomb</title>")
	for range 64 << 10 {
		zw.Write([]byte(filler))
	}
	io.WriteString(zw, "<meta property=og:description content=late>")
	zw.Close()
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(zipped.Bytes())
	})
	p, err := pagemeta.Fetch(context.Background(), c, s.URL)
	if err != nil || p.Title != "Bomb" || p.Description != "" {
		t.Fatalf("got %+v, %v; want the title only", p, err)
	}
}

// TestFetchDeadline: a page that stalls, before its headers or in its body, ends
// the fetch at the timeout with context.DeadlineExceeded. The handlers block
// until the request's context ends, which the client's giving up causes.
func TestFetchDeadline(t *testing.T) {
	stallHeaders := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	stallBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><head><title>Slow</title>"+strings.Repeat(" ", 2048))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	for name, h := range map[string]http.HandlerFunc{"headers": stallHeaders, "body": stallBody} {
		t.Run(name, func(t *testing.T) {
			s, c := serve(t, h)
			_, err := pagemeta.Options{Timeout: 50 * time.Millisecond}.Fetch(context.Background(), c, s.URL)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v; want context.DeadlineExceeded", err)
			}
			// The caller's own deadline, shorter than the timeout, wins too.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err = pagemeta.Fetch(ctx, c, s.URL); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("caller's deadline: got %v; want context.DeadlineExceeded", err)
			}
		})
	}
	// A caller that gives up ends the fetch at once.
	reached := make(chan struct{})
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) { close(reached); <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-reached; cancel() }()
	if _, err := pagemeta.Fetch(ctx, c, s.URL); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v; want context.Canceled", err)
	}
}

func TestFetchRefusesWhatIsNotHTML(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
	for _, h := range []http.HandlerFunc{
		page("application/json", `{"title":"x"}`),
		page("image/png", png),
		page("", png),
		page("application/xhtml+xml", "<html><head><title>x</title></head></html>"),
		page("text/plain", "<title>x</title>"),
		page("text/html;;;", "<title>x</title>"),
	} {
		s, c := serve(t, h)
		if _, err := pagemeta.Fetch(context.Background(), c, s.URL); !errors.Is(err, pagemeta.ErrNotHTML) {
			t.Errorf("got %v; want ErrNotHTML", err)
		}
	}
	// Without a Content-Type, an HTML page is sniffed as one.
	p, _ := fetch(t, page("", "<!DOCTYPE html><html><head><title>Sniffed</title>"), "/")
	if p.Title != "Sniffed" {
		t.Fatalf("got %+v; want the sniffed page's title", p)
	}
	// An empty page is no error.
	p, s := fetch(t, page("text/html", ""), "/")
	if p.Title != "" || p.FaviconURL != s.URL+"/favicon.ico" {
		t.Fatalf("empty page: got %+v", p)
	}
}

func TestFetchStatus(t *testing.T) {
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<title>Not found</title>")
	})
	_, err := pagemeta.Fetch(context.Background(), c, s.URL)
	var se *pagemeta.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
		t.Fatalf("got %v; want a StatusError 404", err)
	}
}

// TestFetchResolvesAgainstTheFinalURL: after a redirect, relative URLs resolve
// against the page's own URL.
func TestFetchResolvesAgainstTheFinalURL(t *testing.T) {
	p, s := fetch(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/blog/2024/post.html", http.StatusMovedPermanently)
			return
		}
		page("text/html", `<link rel=icon href="../icon.png"><meta property=og:image content="cover.jpg">`)(w, r)
	}, "/start")
	if p.FinalURL != s.URL+"/blog/2024/post.html" || p.FaviconURL != s.URL+"/blog/icon.png" || p.PreviewImageURL != s.URL+"/blog/2024/cover.jpg" {
		t.Fatalf("got %+v", p)
	}
}

// TestFetchIsGuarded: a redirect from the allowed server to the cloud metadata
// address is refused with safehttp's error, and so is the default client's
// request to loopback.
func TestFetchIsGuarded(t *testing.T) {
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	if _, err := pagemeta.Fetch(context.Background(), c, s.URL); !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("redirect to metadata: got %v; want safehttp.ErrRefused", err)
	}
	if _, err := pagemeta.Fetch(context.Background(), nil, s.URL); !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("nil client to loopback: got %v; want safehttp.ErrRefused", err)
	}
	if _, err := pagemeta.Fetch(context.Background(), c, "ftp://example.com/"); !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("ftp: got %v; want safehttp.ErrRefused", err)
	}
}

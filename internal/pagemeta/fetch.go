// Package metadata fetches a web page and reads what it says about itself: its
// title, description, favicon and preview image (Open Graph, Twitter cards,
// <meta name=description>, <title>, <link rel=icon>).
//
// Fetch reads at most Options.MaxBytes (2 MiB) of the page, within
// Options.Timeout (5 s) in all, through the HTTP client it is given, which should
// be safehttp's: the URL is a user's, and only public addresses may be called.
package pagemeta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/html/charset"

	"linkapi/internal/safehttp"
)

// Defaults of Options.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultMaxBytes = 2 << 20
)

// ErrNotHTML is returned for a response whose Content-Type is not text/html.
var ErrNotHTML = errors.New("pagemeta: the page is not text/html")

// StatusError is returned for a response whose status is not 2xx.
type StatusError struct{ StatusCode int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("pagemeta: the page answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Options tune Fetch. A zero field takes its default.
type Options struct {
	// Timeout bounds the whole fetch: connecting, redirects and reading.
	Timeout time.Duration
	// MaxBytes is how much of the body is read. A longer page is cut there and
	// read as far as it goes: the head, where the metadata lives, comes first.
	MaxBytes int64
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return o
}

// Fetch is Options{}.Fetch: 5 s, 2 MiB.
func Fetch(ctx context.Context, client *http.Client, rawURL string) (Page, error) {
	return Options{}.Fetch(ctx, client, rawURL)
}

// Fetch GETs rawURL with client (a safehttp client with default options when
// nil) and parses the page. It returns ErrNotHTML for a page that is not
// text/html (one without a Content-Type is sniffed), a *StatusError for a status
// other than 2xx, safehttp's *RefusedError for an address or URL the guard
// refuses, and context.DeadlineExceeded once the timeout or ctx's deadline has
// passed. An empty page is no error: its Page holds only FaviconURL and FinalURL.
func (o Options) Fetch(ctx context.Context, client *http.Client, rawURL string) (Page, error) {
	o = o.withDefaults()
	if client == nil {
		client = safehttp.NewClient(safehttp.Options{})
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Page{}, fmt.Errorf("pagemeta: %w", err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Page{}, &StatusError{StatusCode: resp.StatusCode}
	}
	body := io.LimitReader(resp.Body, o.MaxBytes)
	contentType := resp.Header.Get("Content-Type")
	if contentType == "" {
		head := make([]byte, 512)
		n, err := io.ReadFull(body, head)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return Page{}, err
		}
		contentType = http.DetectContentType(head[:n])
		body = io.MultiReader(bytes.NewReader(head[:n]), body)
	}
	if mediaType, _, err := mime.ParseMediaType(contentType); err != nil || mediaType != "text/html" {
		return Page{}, ErrNotHTML
	}
	utf8Body, err := charset.NewReader(body, contentType)
	if err == io.EOF {
		return Parse(strings.NewReader(""), resp.Request.URL), nil
	}
	if err != nil {
		return Page{}, readError(ctx, err)
	}
	// Parse stops at the first read error as at the end of the page, so a
	// deadline in the middle of the body is told apart here.
	r := &errReader{r: utf8Body}
	p := Parse(r, resp.Request.URL)
	if r.err != nil {
		return Page{}, readError(ctx, r.err)
	}
	return p, nil
}

// readError prefers the context's error, which says why a read failed.
func readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// errReader remembers the first error other than io.EOF of the reader it wraps.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

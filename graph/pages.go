package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"linkapi/graph/model"
	"linkapi/internal/linkapi"
	"linkapi/internal/pagemeta"
	"linkapi/internal/safehttp"
)

// CodeFetchFailed is the code of the warning a response carries when a page
// could not be fetched; what asked for it went on without the page.
const CodeFetchFailed = "FETCH_FAILED"

// Warning is one entry of a response's extensions.warnings: something that did
// not stop the field at Path but that the client should know of.
type Warning struct {
	Code string `json:"code"`
	// Reason says which rule or failure it was, in one word for programs.
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Path    any    `json:"path,omitempty"`

	detail error // for the log only
}

// The reasons of a FETCH_FAILED warning.
const (
	ReasonRefused     = "refused"     // the guard refused the address, port, scheme or a redirect
	ReasonTimeout     = "timeout"     // the page took longer than the fetch budget
	ReasonBusy        = "busy"        // too many fetches in flight, for the caller or the server
	ReasonHTTPStatus  = "http_status" // the page answered other than 2xx
	ReasonNotHTML     = "not_html"    // the page is not text/html
	ReasonUnreachable = "unreachable" // no answer: the name, the connection or TLS failed
	ReasonDisabled    = "disabled"    // the server does not fetch pages (LINKAPI_FETCH_METADATA=false)
	ReasonNotStored   = "not_stored"  // the page was read, but its text did not fit the account's quota
)

type warningsKey struct{}

// warnings is what the fields of one response share about fetching: the
// warnings they add, and the end of the request's fetch budget, set by its
// first fetch.
type warnings struct {
	mu            sync.Mutex
	list          []Warning
	fetchDeadline time.Time
}

// withFetchBudget returns ctx bounded by the end of the request's fetch budget:
// every fetch of one request, aliased createLinks included, shares one budget,
// which starts with the first of them. Without a budget it returns ctx.
func (r *Resolver) withFetchBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	ws, _ := ctx.Value(warningsKey{}).(*warnings)
	if ws == nil || r.FetchBudget <= 0 {
		return context.WithCancel(ctx)
	}
	ws.mu.Lock()
	if ws.fetchDeadline.IsZero() {
		ws.fetchDeadline = time.Now().Add(r.FetchBudget)
	}
	d := ws.fetchDeadline
	ws.mu.Unlock()
	return context.WithDeadline(ctx, d)
}

// addWarning adds w, at the path of the field being resolved, to the response.
func addWarning(ctx context.Context, w Warning) {
	ws, _ := ctx.Value(warningsKey{}).(*warnings)
	if ws == nil {
		return
	}
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		w.Path = fc.Path()
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.list = append(ws.list, w)
}

// collectWarnings gives each response the warnings its fields added, as
// extensions.warnings, and logs them with what caused them.
func collectWarnings(logger *slog.Logger) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		ws := &warnings{}
		resp := next(context.WithValue(ctx, warningsKey{}, ws))
		ws.mu.Lock()
		defer ws.mu.Unlock()
		if resp == nil || len(ws.list) == 0 {
			return resp
		}
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["warnings"] = ws.list
		for _, w := range ws.list {
			logger.InfoContext(ctx, "page fetch failed", "reason", w.Reason, "path", fmt.Sprint(w.Path), "err", w.detail)
		}
		return resp
	}
}

// fetchPage fetches the page at url through r.Pages. It returns false when there
// is no page to use, having added a FETCH_FAILED warning unless fetching is
// turned off and quiet is set.
func (r *Resolver) fetchPage(ctx context.Context, url string, quiet bool) (pagemeta.Page, bool) {
	if r.Pages == nil {
		if !quiet {
			addWarning(ctx, Warning{Code: CodeFetchFailed, Reason: ReasonDisabled, Message: "this server does not fetch pages"})
		}
		return pagemeta.Page{}, false
	}
	fctx, cancel := r.withFetchBudget(ctx)
	defer cancel()
	p, err := r.Pages.Fetch(fctx, url)
	if err != nil {
		reason, msg := fetchFailure(err)
		addWarning(ctx, Warning{Code: CodeFetchFailed, Reason: reason, Message: msg, detail: err})
		return pagemeta.Page{}, false
	}
	return p, true
}

// fetchFailure names the reason of a failed fetch, with a message that says
// what went wrong without telling which address a name resolved to.
func fetchFailure(err error) (reason, message string) {
	var refused *safehttp.RefusedError
	var status *pagemeta.StatusError
	switch {
	case errors.As(err, &refused):
		switch refused.Reason {
		case safehttp.ReasonAddress, safehttp.ReasonNoAddress:
			return ReasonRefused, "the page's address is not a public one"
		case safehttp.ReasonPort:
			return ReasonRefused, fmt.Sprintf("port %d is not allowed", refused.Addr.Port())
		case safehttp.ReasonRedirects:
			return ReasonRefused, fmt.Sprintf("the page redirected more than %d times", safehttp.MaxRedirects)
		case safehttp.ReasonScheme:
			return ReasonRefused, "the page redirected to a URL that is not http or https"
		case safehttp.ReasonUserinfo:
			return ReasonRefused, "a URL with a user name or password is not fetched"
		}
		return ReasonRefused, "the page's URL is not allowed"
	case errors.Is(err, pagemeta.ErrBusy):
		return ReasonBusy, "too many pages are being fetched at once; refresh the link later"
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout, "the page did not answer within the fetch budget"
	case errors.As(err, &status):
		return ReasonHTTPStatus, fmt.Sprintf("the page answered HTTP %d", status.StatusCode)
	case errors.Is(err, pagemeta.ErrNotHTML):
		return ReasonNotHTML, "the page is not HTML"
	}
	return ReasonUnreachable, "the page could not be reached"
}

// wantsMetadata says whether createLink fetches the page: as fetchMetadata says,
// or, without it, when no title is given.
func wantsMetadata(in *model.CreateLinkInput) bool {
	if in.FetchMetadata != nil {
		return *in.FetchMetadata
	}
	return in.Title == nil || *in.Title == ""
}

// fillFromPage sets the fields of in that the client left out from p.
func fillFromPage(in *linkapi.LinkCreate, p pagemeta.Page) {
	m := pageMetadata(p)
	for _, f := range []struct{ dst, v **string }{
		{&in.Title, &m.Title}, {&in.Description, &m.Description},
		{&in.FaviconURL, &m.FaviconURL}, {&in.PreviewImageURL, &m.PreviewImageURL},
	} {
		if *f.dst == nil || **f.dst == "" {
			*f.dst = *f.v
		}
	}
}

// pageMetadata converts a page, its empty fields to nil.
func pageMetadata(p pagemeta.Page) linkapi.PageMetadata {
	return linkapi.PageMetadata{
		Title: nonEmpty(p.Title), Description: nonEmpty(p.Description),
		FaviconURL: nonEmpty(p.FaviconURL), PreviewImageURL: nonEmpty(p.PreviewImageURL),
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// createLink saves in, first filling it from its page when asked: the checks
// CreateLink makes come before the fetch, so that a refused request never
// reaches the page.
func (r *Resolver) createLink(ctx context.Context, input *model.CreateLinkInput, in linkapi.LinkCreate) (*linkapi.Link, error) {
	if wantsMetadata(input) {
		if r.Pages != nil {
			if err := r.LinkService.CheckLinkCreate(ctx, in); err != nil {
				return nil, err
			}
		}
		if p, ok := r.fetchPage(ctx, in.URL, input.FetchMetadata == nil); ok {
			filled := in
			fillFromPage(&filled, p)
			link, err := r.LinkService.CreateLink(ctx, filled)
			if linkapi.ErrorCode(err) != linkapi.EINVALID {
				return link, err
			}
			// The input passed every check before the fetch: what the page
			// added did not fit (the account's quota). The link is saved
			// without it, as if the fetch had failed.
			link, err2 := r.LinkService.CreateLink(ctx, in)
			if err2 == nil {
				addWarning(ctx, Warning{Code: CodeFetchFailed, Reason: ReasonNotStored, Message: linkapi.ErrorMessage(err), detail: err})
			}
			return link, err2
		}
	}
	return r.LinkService.CreateLink(ctx, in)
}

// checkURL is checkUrl: the caller's link for url, or the page's metadata.
func (r *Resolver) checkURL(ctx context.Context, url string) (*model.URLCheck, error) {
	link, err := nullIfNotFound(r.LinkService.FindLinkByURL(ctx, url))
	if err != nil {
		return nil, err
	}
	if link != nil {
		return &model.URLCheck{Link: link}, nil
	}
	p, ok := r.fetchPage(ctx, url, true)
	if !ok {
		return &model.URLCheck{}, nil
	}
	m := pageMetadata(p)
	return &model.URLCheck{Title: m.Title, Description: m.Description, FaviconURL: m.FaviconURL, PreviewImageURL: m.PreviewImageURL}, nil
}

// refreshLinkMetadata fetches the page of a link the caller may change and
// stores what it says; a failed fetch leaves the link as it was.
func (r *Resolver) refreshLinkMetadata(ctx context.Context, id int64) (*linkapi.Link, error) {
	link, err := r.LinkService.FindLinkToWrite(ctx, id)
	if err != nil {
		return nil, err
	}
	p, ok := r.fetchPage(ctx, link.URL, false)
	if !ok {
		return link, nil
	}
	return r.LinkService.SetLinkMetadata(ctx, link.ID, link.URL, pageMetadata(p))
}

package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// brokenLinks fails the way a broken database or a bug would.
type brokenLinks struct{ linkapi.LinkService }

func (brokenLinks) FindLinks(context.Context, linkapi.LinkFilter) (*linkapi.LinkList, error) {
	return nil, errors.New("dial tcp 10.0.0.7:3306: secret detail")
}

func (brokenLinks) FindLinkByID(context.Context, int64) (*linkapi.Link, error) {
	panic("nil map somewhere")
}

func (brokenLinks) DeleteLink(context.Context, int64) error {
	return linkapi.Errorf(linkapi.ECONFLICT, "already gone")
}

// post runs one query through the real gqlgen handler as a caller holding scopes.
func post(t *testing.T, h http.Handler, query string, scopes ...string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req = req.WithContext(auth.NewContext(req.Context(), &auth.Caller{AccountID: 1, Scopes: auth.Expand(scopes)}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("not JSON: %s", rec.Body)
	}
	return out
}

func firstError(t *testing.T, resp map[string]any) (message, code string) {
	t.Helper()
	errs, _ := resp["errors"].([]any)
	if len(errs) == 0 {
		t.Fatalf("no errors in %v", resp)
	}
	e := errs[0].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	code, _ = ext["code"].(string)
	return e["message"].(string), code
}

func newTestHandler(t *testing.T, log *bytes.Buffer) http.Handler {
	t.Helper()
	h, err := NewHandler(NewSchema(&Resolver{LinkService: brokenLinks{}}), slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestInternalErrorsAreGenericAndLogged(t *testing.T) {
	var log bytes.Buffer
	h := newTestHandler(t, &log)
	msg, code := firstError(t, post(t, h, `{ links { nodes { id } } }`, auth.LinksRead))
	if code != "INTERNAL_SERVER_ERROR" {
		t.Errorf("code = %q, want INTERNAL_SERVER_ERROR", code)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("message %q leaks the cause", msg)
	}
	if !strings.Contains(log.String(), "secret detail") || !strings.Contains(log.String(), "path=links") {
		t.Errorf("log lacks the cause and path: %s", log.String())
	}
}

func TestPanicsAreRecoveredAsInternal(t *testing.T) {
	var log bytes.Buffer
	h := newTestHandler(t, &log)
	msg, code := firstError(t, post(t, h, `{ link(id: "1") { id } }`, auth.LinksRead))
	if code != "INTERNAL_SERVER_ERROR" || strings.Contains(msg, "nil map") {
		t.Errorf("got %q %q, want a generic INTERNAL_SERVER_ERROR", code, msg)
	}
	if !strings.Contains(log.String(), "nil map somewhere") {
		t.Errorf("log lacks the panic: %s", log.String())
	}
}

func TestDomainErrorsKeepTheirCodeAndMessage(t *testing.T) {
	var log bytes.Buffer
	h := newTestHandler(t, &log)
	msg, code := firstError(t, post(t, h, `mutation { deleteLink(id: "1") }`, auth.LinksWrite))
	if code != "CONFLICT" || msg != "already gone" {
		t.Errorf("got %q %q, want CONFLICT %q", code, msg, "already gone")
	}
	if _, code := firstError(t, post(t, h, `mutation { deleteLink(id: "1") }`, auth.LinksRead)); code != "FORBIDDEN" {
		t.Errorf("without links:write got %q, want FORBIDDEN", code)
	}
}

package graph

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// rateLimitedLinks answers every list with RATE_LIMITED and a retry-after, and
// every delete with a RATE_LIMITED that has none.
type rateLimitedLinks struct{ linkapi.LinkService }

func (rateLimitedLinks) FindLinks(context.Context, linkapi.LinkFilter) (*linkapi.LinkList, error) {
	err := linkapi.Errorf(linkapi.ERATELIMITED, "slow down")
	err.RetryAfter = 1500 * time.Millisecond
	return nil, err
}

func (rateLimitedLinks) DeleteLink(context.Context, int64) error {
	return linkapi.Errorf(linkapi.ERATELIMITED, "slow down")
}

// TestRetryAfterExtension checks that the presenter shows a domain error's
// RetryAfter as extensions.retryAfter in whole seconds, rounded up, and adds
// nothing when there is none.
func TestRetryAfterExtension(t *testing.T) {
	var log bytes.Buffer
	h, err := NewHandler(NewSchema(&Resolver{LinkService: rateLimitedLinks{}}), slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, h, `{ links { nodes { id } } }`, auth.LinksRead)
	if _, code := firstError(t, resp); code != "RATE_LIMITED" {
		t.Errorf("code = %q, want RATE_LIMITED", code)
	}
	ext := resp["errors"].([]any)[0].(map[string]any)["extensions"].(map[string]any)
	if got := ext["retryAfter"]; got != float64(2) {
		t.Errorf("extensions.retryAfter = %v (%T), want 2", got, got)
	}

	resp = post(t, h, `mutation { deleteLink(id: "1") }`, auth.LinksWrite)
	ext = resp["errors"].([]any)[0].(map[string]any)["extensions"].(map[string]any)
	if _, ok := ext["retryAfter"]; ok || ext["code"] != "RATE_LIMITED" {
		t.Errorf("extensions = %v, want code RATE_LIMITED and no retryAfter", ext)
	}
}

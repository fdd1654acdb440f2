package pagemeta_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"linkapi/internal/pagemeta"
	"linkapi/internal/safehttp"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	cfg, err := pagemeta.ConfigFromEnv(env(nil))
	if err != nil || !cfg.Enabled || cfg.Options.Timeout != 5*time.Second || cfg.Options.MaxBytes != 2<<20 {
		t.Fatalf("defaults: got %+v, %v; want enabled, 5s, 2 MiB", cfg, err)
	}
	cfg, err = pagemeta.ConfigFromEnv(env(map[string]string{"LINKAPI_FETCH_METADATA": "false", "LINKAPI_FETCH_TIMEOUT": "1500ms"}))
	if err != nil || cfg.Enabled || cfg.Options.Timeout != 1500*time.Millisecond {
		t.Fatalf("got %+v, %v; want disabled, 1.5s", cfg, err)
	}
	for _, bad := range []map[string]string{
		{"LINKAPI_FETCH_METADATA": "no"},
		{"LINKAPI_FETCH_TIMEOUT": "5"},
		{"LINKAPI_FETCH_TIMEOUT": "0s"},
		{"LINKAPI_FETCH_TIMEOUT": "-1s"},
		{"LINKAPI_FETCH_TIMEOUT": "2m"},
	} {
		if _, err := pagemeta.ConfigFromEnv(env(bad)); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestNewFetcher(t *testing.T) {
	var hits atomic.Int64
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-block:
			}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<title>Wired</title>")
	}))
	t.Cleanup(s.Close)
	allow := safehttp.Options{Allow: []netip.AddrPort{netip.MustParseAddrPort(s.Listener.Addr().String())}}
	ctx := context.Background()

	cfg, _ := pagemeta.ConfigFromEnv(env(map[string]string{"LINKAPI_FETCH_METADATA": "false"}))
	cfg.Guard = allow
	if _, err := pagemeta.New(cfg).Fetch(ctx, s.URL); !errors.Is(err, pagemeta.ErrDisabled) || hits.Load() != 0 {
		t.Fatalf("disabled: got %v after %d requests; want ErrDisabled and none", err, hits.Load())
	}

	cfg, _ = pagemeta.ConfigFromEnv(env(map[string]string{"LINKAPI_FETCH_TIMEOUT": "50ms"}))
	if _, err := pagemeta.New(cfg).Fetch(ctx, s.URL); !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("production guard to loopback: got %v; want ErrRefused", err)
	}
	cfg.Guard = allow
	f := pagemeta.New(cfg)
	if p, err := f.Fetch(ctx, s.URL); err != nil || p.Title != "Wired" {
		t.Fatalf("got %+v, %v; want the page's title", p, err)
	}
	if _, err := f.Fetch(ctx, s.URL+"/slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow page: got %v; want the configured timeout", err)
	}
}

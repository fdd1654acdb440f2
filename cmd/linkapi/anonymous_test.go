package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"slices"
	"testing"

	"linkapi/internal/server"
	"linkapi/internal/store"
)

// slowLogins makes the server's database hold every statement that reads the
// account with email until the statement's request ends; entered receives one
// value per statement held, left one per statement whose request ended.
type slowLogins struct {
	email         string
	entered, left chan struct{}
}

func (s *slowLogins) attach(t *testing.T) func(*store.DB) {
	return func(db *store.DB) {
		err := db.OnStatement(func(ctx context.Context, st store.Statement) error {
			if !slices.Contains(st.Vars, any(s.email)) {
				return nil
			}
			s.entered <- struct{}{}
			<-ctx.Done()
			s.left <- struct{}{}
			return ctx.Err()
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// requestFrom is a GraphQL request from the client address from (the test is
// the server's trusted proxy), anonymous unless token is not empty.
func requestFrom(ctx context.Context, s *testServer, from, token, query string, vars map[string]any) *http.Request {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", from)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// TestAnonymousConcurrencyBound holds one anonymous login in flight from one
// address, with one allowed per address: a second anonymous request from that
// address is refused with 429, Retry-After and RATE_LIMITED, while another
// address and an authenticated request from the same address still run. When
// the held login's client hangs up, its work stops and the address may send
// again.
func TestAnonymousConcurrencyBound(t *testing.T) {
	slow := &slowLogins{email: "slow@example.com", entered: make(chan struct{}, 1), left: make(chan struct{}, 1)}
	s := startServerEnv(t, "sqlite:"+t.TempDir()+"/anon.db", slow.attach(t), map[string]string{
		"LINKAPI_TRUSTED_PROXIES":           "127.0.0.1/32",
		"LINKAPI_ANON_CONCURRENCY":          "2",
		"LINKAPI_ANON_CONCURRENCY_PER_ADDR": "1",
	})
	s.createAccount(t, "ann@example.com", "ann-password", "account:write")
	token := s.login(t, "ann@example.com", "ann-password")

	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	held := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(requestFrom(ctx, s, "203.0.113.7", "", loginMut, map[string]any{"e": slow.email, "p": "whatever-password"}))
		if err == nil {
			res.Body.Close()
		}
		held <- err
	}()
	<-slow.entered

	r := s.sendFrom(t, "203.0.113.7", "", `{ __typename }`)
	wantCode(t, r, "RATE_LIMITED")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || len(r.Errors) != 1 ||
		r.Errors[0].Extensions["retryAfter"] != float64(1) || r.Data != nil {
		t.Errorf("past the bound: got %d, Retry-After %q, %s; want 429, 1, retryAfter 1 and no data", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	if r := s.sendFrom(t, "198.51.100.9", "", `{ __typename }`); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Errorf("another address: got %d %s, want 200", r.Status, r.Raw)
	}
	if r := s.sendFrom(t, "203.0.113.7", token, `{ me { email } }`); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Errorf("authenticated from the same address: got %d %s, want 200", r.Status, r.Raw)
	}

	hangUp()
	if err := <-held; !errors.Is(err, context.Canceled) {
		t.Errorf("the held request: got %v, want it cancelled by its client", err)
	}
	<-slow.left // the server saw the client go: the held statement ended
	if r := s.sendFrom(t, "203.0.113.7", "", `{ __typename }`); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Errorf("after the held client hung up: got %d %s, want 200", r.Status, r.Raw)
	}
}

// sendFrom is do from the client address from.
func (s *testServer) sendFrom(t *testing.T, from, token, query string) *gqlResponse {
	t.Helper()
	return s.send(t, requestFrom(context.Background(), s, from, token, query, nil))
}

// TestAnonymousConcurrencySettings: the bounds are whole numbers, 0 for none;
// anything else stops serve before it listens.
func TestAnonymousConcurrencySettings(t *testing.T) {
	wantStartRefused(t,
		map[string]string{"LINKAPI_ANON_CONCURRENCY": "-1"},
		map[string]string{"LINKAPI_ANON_CONCURRENCY": "half"},
		map[string]string{"LINKAPI_ANON_CONCURRENCY_PER_ADDR": "1.5"},
		map[string]string{"LINKAPI_ANON_CONCURRENCY_PER_ADDR": "-2"},
	)
}

// TestAnonymousConcurrencyDefaults: one address defaults to half the total, the
// total to half the CPUs; 0 turns a bound off.
func TestAnonymousConcurrencyDefaults(t *testing.T) {
	def := server.DefaultAnonymousLimits()
	for _, c := range []struct {
		vars           map[string]string
		total, perAddr int
	}{
		{nil, def.Total, def.PerAddr},
		{map[string]string{"LINKAPI_ANON_CONCURRENCY": "8"}, 8, 4},
		{map[string]string{"LINKAPI_ANON_CONCURRENCY": "1"}, 1, 1},
		{map[string]string{"LINKAPI_ANON_CONCURRENCY": "0"}, 0, def.PerAddr},
		{map[string]string{"LINKAPI_ANON_CONCURRENCY": "6", "LINKAPI_ANON_CONCURRENCY_PER_ADDR": "0"}, 6, 0},
	} {
		cfg, err := loadConfig(env(c.vars), flag.NewFlagSet("serve", flag.ContinueOnError), nil, "serve")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Anonymous; got.Total != c.total || got.PerAddr != c.perAddr || got.Wait != def.Wait {
			t.Errorf("%v: got %+v, want total %d, per address %d, wait %v", c.vars, got, c.total, c.perAddr, def.Wait)
		}
	}
}

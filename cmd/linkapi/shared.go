package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"linkapi/graph"
	"linkapi/internal/auth"
	"linkapi/internal/redis"
	"linkapi/internal/server"
	"linkapi/internal/store"
)

// shared is what serve shares with other instances through Redis when
// LINKAPI_REDIS_URL is set; without it each method returns this instance's own.
type shared struct {
	client *redis.Client
	events *redis.Invalidations
}

// openShared connects to the Redis of cfg, if any, and adds its closing to
// closers.
func openShared(ctx context.Context, cfg *config, logger *slog.Logger, closers *[]func()) (*shared, error) {
	if cfg.RedisURL == "" {
		return &shared{}, nil
	}
	rc, err := redis.Open(ctx, cfg.RedisURL, logger)
	if err != nil {
		return nil, err
	}
	*closers = append(*closers, func() { rc.Close() })
	return &shared{client: rc, events: redis.NewInvalidations(rc)}, nil
}

// storeOptions are the store's options for sharing its account cache's
// invalidations.
func (s *shared) storeOptions() []store.Option {
	if s.client == nil {
		return nil
	}
	return []store.Option{store.WithAccountEvents(s.events)}
}

// start receives the invalidations of other instances for st until closers run.
func (s *shared) start(st *store.Store, closers *[]func()) {
	if s.client == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.events.Run(ctx, st.ForgetCachedAccount, st.FlushCachedAccounts) })
	*closers = append(*closers, func() { cancel(); wg.Wait() })
}

// register adds the Redis gauge to metrics.
func (s *shared) register(metrics *server.Metrics) {
	if s.client != nil {
		metrics.Registry.MustRegister(s.client.Collector())
	}
}

// failures returns the failed-login limiter of limits.
func (s *shared) failures(limits auth.FailureLimits) auth.FailureGuard {
	if s.client == nil {
		return auth.NewFailureLimiter(limits)
	}
	return redis.NewFailureLimiter(s.client, limits)
}

// apq returns the persisted-query cache.
func (s *shared) apq() graphql.Cache[string] {
	local := graph.NewAPQCache()
	if s.client == nil {
		return local
	}
	return redis.NewQueryCache(s.client, local)
}

// requests returns the per-caller request limiter of cfg.RateLimit a minute,
// nil when it is 0.
func (s *shared) requests(perMinute int) auth.RateLimiter {
	switch {
	case perMinute <= 0:
		return nil
	case s.client == nil:
		return auth.NewRequestLimiter(perMinute, auth.MaxRateKeys)
	default:
		return redis.NewRequestLimiter(s.client, perMinute)
	}
}

// accountStore is the store through which a command changes accounts: with
// LINKAPI_REDIS_URL it announces each change to the running instances, which
// drop the account from their caches at once, as for a change made through one
// of them. closeStore closes what it opened.
func (p *Program) accountStore(ctx context.Context, cfg *config, db *store.DB) (st *store.Store, closeStore func(), err error) {
	opts := []store.Option{store.WithQuota(cfg.Quota)}
	if cfg.RedisURL == "" {
		return store.New(db, opts...), func() {}, nil
	}
	rc, err := redis.Open(ctx, cfg.RedisURL, p.logger(cfg))
	if err != nil {
		return nil, nil, err
	}
	if !rc.WaitUp(5 * time.Second) {
		fmt.Fprintln(p.Stderr, "linkapi: Redis does not answer: running instances will see this change within LINKAPI_ACCOUNT_CACHE_TTL")
	}
	return store.New(db, append(opts, store.WithAccountEvents(redis.NewInvalidations(rc)))...), func() { rc.Close() }, nil
}

// Package redis shares what several linkapi instances must agree on through
// Redis: the failed-login limits, the request rate limits, the persisted-query
// cache and the invalidation of cached accounts. Each piece stands beside a local
// implementation that it falls back to while Redis does not answer, so that an
// outage never fails a request: the instance then keeps its limits and caches to
// itself, as a single instance does, says so once in the log and in the
// linkapi_redis_fallback gauge, and shares them again once Redis answers.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// Prefix starts every key and channel name linkapi uses, so that a Redis shared
// with other programs keeps them apart.
const Prefix = "linkapi:"

// Timeouts of one command: Redis on the same network answers in well under a
// millisecond, and a command that cannot finish within opTimeout is given up for
// the local fallback rather than left to hold the request.
const (
	opTimeout    = 500 * time.Millisecond
	dialTimeout  = time.Second
	probeEvery   = 250 * time.Millisecond
	probeTimeout = time.Second
)

// Client is a connection to Redis that knows whether Redis answers. While it
// does not, Up is false and the users of the Client take their local path
// without waiting on Redis; a probe runs every probeEvery and brings the
// Client back up when Redis answers again.
type Client struct {
	rdb    *goredis.Client
	logger *slog.Logger
	up     atomic.Bool

	mu      sync.Mutex
	onUp    []func()
	stop    chan struct{}
	stopped sync.WaitGroup
	closed  bool
}

// Open parses rawURL (redis://[:PASS@]HOST:PORT[/DB], rediss:// for TLS) and
// connects. An unparsable URL is an error; an unreachable Redis is not: the
// Client starts down, in fallback, logs it, and comes up once Redis answers.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*Client, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("LINKAPI_REDIS_URL: %v (want redis://[:PASS@]HOST:PORT[/DB] or rediss://...)", err)
	}
	opts.DialTimeout = dialTimeout
	opts.ReadTimeout = opTimeout
	opts.WriteTimeout = opTimeout
	opts.PoolTimeout = opTimeout
	opts.MaxRetries = -1 // a failed command falls back at once
	opts.DisableIdentity = true
	quietOnce.Do(func() { goredis.SetLogger(quiet{}) })
	c := &Client{rdb: goredis.NewClient(opts), logger: logger, stop: make(chan struct{})}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := c.rdb.Ping(pctx).Err(); err != nil {
		c.logger.Warn("redis is not answering; this instance keeps its limits and caches to itself until it does",
			"redis", opts.Addr, "err", err)
	} else {
		c.up.Store(true)
	}
	c.stopped.Add(1)
	go c.probe()
	return c, nil
}

// quiet drops go-redis's own log lines (a failed dial each probe while Redis is
// down); the Client logs the transitions itself.
type quiet struct{}

var quietOnce sync.Once

func (quiet) Printf(context.Context, string, ...any) {}

// Up reports whether Redis answered the last command or probe.
func (c *Client) Up() bool { return c != nil && c.up.Load() }

// WaitUp waits at most d for Redis to answer and reports whether it does, for a
// command that runs once and must not miss it.
func (c *Client) WaitUp(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !c.Up() && time.Now().Before(deadline) {
		time.Sleep(probeEvery / 5)
	}
	return c.Up()
}

// OnUp registers fn to run each time Redis answers again after it did not.
func (c *Client) OnUp(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onUp = append(c.onUp, fn)
}

// Redis returns the go-redis client, for the users of the Client in this
// package.
func (c *Client) redis() *goredis.Client { return c.rdb }

// op returns the context of one command on behalf of ctx: not cancelled with the
// request (a refund must run even when the client has gone), bounded by
// opTimeout.
func op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
}

// fail notes that a command failed with err; every error but a missing key takes
// the Client down until the probe sees Redis answer.
func (c *Client) fail(err error) {
	if err == nil || errors.Is(err, goredis.Nil) {
		return
	}
	if c.up.CompareAndSwap(true, false) {
		c.logger.Warn("redis stopped answering; this instance keeps its limits and caches to itself until it answers again", "err", err)
	}
}

// probe pings Redis while the Client is down and brings it up when it answers.
func (c *Client) probe() {
	defer c.stopped.Done()
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if c.up.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		err := c.rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			continue
		}
		c.mu.Lock()
		fns := append([]func(){}, c.onUp...)
		c.mu.Unlock()
		for _, fn := range fns {
			fn()
		}
		if c.up.CompareAndSwap(false, true) {
			c.logger.Info("redis answers again; limits and caches are shared again")
		}
	}
}

// Collector returns the linkapi_redis_fallback gauge: 1 while this instance keeps
// its limits and caches to itself because Redis does not answer, 0 while they are
// shared.
func (c *Client) Collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "linkapi_redis_fallback",
		Help: "1 while Redis does not answer and this instance uses its local limits and caches, 0 while they are shared through Redis.",
	}, func() float64 {
		if c.Up() {
			return 0
		}
		return 1
	})
}

// Close stops the probe and closes the connections.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	c.mu.Unlock()
	c.stopped.Wait()
	c.up.Store(false)
	return c.rdb.Close()
}

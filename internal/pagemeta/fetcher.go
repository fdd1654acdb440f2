package pagemeta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"linkapi/internal/safehttp"
)

// MaxTimeout bounds LINKAPI_FETCH_TIMEOUT: a fetch runs inside a request.
const MaxTimeout = time.Minute

// ErrDisabled is returned by the Fetcher of a server that does not fetch pages
// (LINKAPI_FETCH_METADATA=false).
var ErrDisabled = errors.New("pagemeta: fetching pages is turned off")

// Fetcher reads a page's metadata; the GraphQL layer holds one.
type Fetcher interface {
	// Fetch returns the page at url, or the errors of Options.Fetch, or
	// ErrDisabled.
	Fetch(ctx context.Context, url string) (Page, error)
}

// Config says whether and how pages are fetched.
type Config struct {
	Enabled bool
	Options Options
	// Guard configures the client; the server leaves it zero (the production
	// guard), tests set Guard.Allow to reach their own pages on loopback.
	Guard safehttp.Options
}

// ConfigFromEnv reads LINKAPI_FETCH_METADATA (a boolean, default true) and
// LINKAPI_FETCH_TIMEOUT (a duration above 0 and at most MaxTimeout, default
// DefaultTimeout) through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{Enabled: true, Options: Options{Timeout: DefaultTimeout, MaxBytes: DefaultMaxBytes}}
	if v := getenv("LINKAPI_FETCH_METADATA"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("LINKAPI_FETCH_METADATA: %q is neither true nor false", v)
		}
		cfg.Enabled = b
	}
	if v := getenv("LINKAPI_FETCH_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxTimeout {
			return Config{}, fmt.Errorf("LINKAPI_FETCH_TIMEOUT: %q is not a duration from 1ms to %s, such as 5s", v, MaxTimeout)
		}
		cfg.Options.Timeout = d
	}
	return cfg, nil
}

// New returns the Fetcher cfg describes: one that fetches through a safehttp
// client, or, when cfg.Enabled is false, one that answers ErrDisabled without a
// request.
func New(cfg Config) Fetcher {
	if !cfg.Enabled {
		return disabled{}
	}
	return &client{http: safehttp.NewClient(cfg.Guard), options: cfg.Options}
}

type client struct {
	http    *http.Client
	options Options
}

func (c *client) Fetch(ctx context.Context, url string) (Page, error) {
	return c.options.Fetch(ctx, c.http, url)
}

type disabled struct{}

func (disabled) Fetch(context.Context, string) (Page, error) { return Page{}, ErrDisabled }

package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"linkapi/graph"
	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/pagemeta"
	"linkapi/internal/server"
	"linkapi/internal/store"
)

// Defaults of the configuration; see the table in docs/configuration.md.
const (
	defaultAddr        = "127.0.0.1:8080"
	defaultDatabaseURL = "sqlite:linkapi.db"
	defaultTokenTTL    = 15 * time.Minute
	defaultGrace       = 20 * time.Second
	// defaultDrainDelay is off: a single instance has no balancer to tell.
	defaultDrainDelay = 0
	// defaultRequestTimeout bounds a GraphQL request; the slowest legitimate one,
	// a 1 MiB import, takes well under a second.
	defaultRequestTimeout = 10 * time.Second
)

// config is the configuration read from the environment, then from flags.
type config struct {
	Addr        string
	DatabaseURL string
	JWTSecret   string
	// PreviousSecrets are older HMAC keys that still verify
	// (LINKAPI_JWT_PREVIOUS_SECRETS), so the signing key can rotate.
	PreviousSecrets [][]byte
	TokenTTL        time.Duration
	// OIDC is the identity provider whose tokens are accepted beside ours;
	// Issuer is empty without one.
	OIDC  oidcConfig
	Grace time.Duration
	// DrainDelay is how long serve fails /readyz after SIGTERM, still serving,
	// before it shuts down (LINKAPI_DRAIN_DELAY).
	DrainDelay time.Duration
	// Production hides the schema (no introspection, no suggestions), turns
	// GraphiQL off unless GraphiQL says otherwise, and logs JSON.
	Production  bool
	GraphiQL    bool
	CORSOrigins []string
	// TrustedProxies may name the client in X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// RequestTimeout bounds each GraphQL request.
	RequestTimeout time.Duration
	// AccountCacheTTL is how long serve reuses the account read for a token.
	AccountCacheTTL time.Duration
	// MaxDepth, MaxComplexity and MaxAliases are the query limits.
	MaxDepth, MaxComplexity, MaxAliases int
	// Budget bounds what a request's document and variables may hold.
	Budget graph.Budget
	// Anonymous bounds the requests without a token that run at once.
	Anonymous server.AnonymousLimits
	// Quota bounds what each account may store.
	Quota linkapi.Quota
	// RefreshTTL and SessionMaxAge are a refresh token's idle lifetime and a
	// session's absolute one.
	RefreshTTL, SessionMaxAge time.Duration
	// RateLimit is the requests a minute each account or API token may make;
	// 0 means no limit.
	RateLimit int
	// RedisURL, when set, is the Redis through which instances share their
	// limits, persisted queries and cache invalidations.
	RedisURL string
	// Pages says whether and how page metadata is fetched; its timeout is the
	// fetch budget (see fetchBudget).
	Pages pagemeta.Config
}

// fetchBudget is how long a fetch of page metadata may take inside a request:
// LINKAPI_FETCH_TIMEOUT, but at most half the request's deadline, so that a slow
// site leaves the request the other half to save the link and answer.
func fetchBudget(fetchTimeout, requestTimeout time.Duration) time.Duration {
	return min(fetchTimeout, requestTimeout/2)
}

// loadConfig reads LINKAPI_* variables through getenv, then lets flags of the same
// name override them: --database-url for every command, and for serve (when
// serving is set) --addr, --token-ttl, --cors-origins and --shutdown-grace too.
// Every command reads and checks LINKAPI_DATABASE_URL, LINKAPI_JWT_SECRET (when
// set) and LINKAPI_ENV; serve and import the storage bounds; the rest only serve.
func loadConfig(getenv func(string) string, fs *flag.FlagSet, args []string, command string) (*config, error) {
	serving := command == "serve"
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dbURL := fs.String("database-url", env("LINKAPI_DATABASE_URL", defaultDatabaseURL), "database `URL`: sqlite:PATH or mysql://USER[:PASS]@HOST:PORT/DB (LINKAPI_DATABASE_URL)")
	addr, ttl, grace := new(string), new(string), new(string)
	origins := new(string)
	*addr, *ttl, *grace = env("LINKAPI_ADDR", defaultAddr), env("LINKAPI_TOKEN_TTL", defaultTokenTTL.String()), env("LINKAPI_SHUTDOWN_GRACE", defaultGrace.String())
	*origins = getenv("LINKAPI_CORS_ORIGINS")
	if serving {
		fs.StringVar(addr, "addr", *addr, "listen address `HOST:PORT` (LINKAPI_ADDR)")
		fs.StringVar(ttl, "token-ttl", *ttl, "access-token `lifetime`, a duration such as 15m (LINKAPI_TOKEN_TTL)")
		fs.StringVar(origins, "cors-origins", *origins, "comma-separated allowed `origins` (LINKAPI_CORS_ORIGINS)")
		fs.StringVar(grace, "shutdown-grace", *grace, "how long requests in flight may finish after SIGTERM, a `duration` (LINKAPI_SHUTDOWN_GRACE)")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := &config{Addr: *addr, DatabaseURL: *dbURL, JWTSecret: getenv("LINKAPI_JWT_SECRET")}
	var err error
	// Every command refuses a secret that is set but too short, not only serve:
	// a typo in the environment shows at once, whichever command meets it.
	if cfg.JWTSecret != "" && len(cfg.JWTSecret) < auth.MinSecretLen {
		return nil, fmt.Errorf("LINKAPI_JWT_SECRET must be at least %d bytes", auth.MinSecretLen)
	}
	if cfg.PreviousSecrets, err = previousSecrets(getenv("LINKAPI_JWT_PREVIOUS_SECRETS")); err != nil {
		return nil, err
	}
	if cfg.OIDC, err = loadOIDC(getenv); err != nil {
		return nil, err
	}
	switch mode := env("LINKAPI_ENV", "development"); mode {
	case "development":
	case "production":
		cfg.Production = true
	default:
		return nil, fmt.Errorf("LINKAPI_ENV: %q is neither development nor production", mode)
	}
	// The storage bounds, which import keeps too.
	for _, l := range []struct {
		name string
		dst  *int
		def  int
	}{
		{linkapi.SettingMaxLinks, &cfg.Quota.Links, linkapi.DefaultQuota.Links},
		{linkapi.SettingMaxText, &cfg.Quota.TextBytes, linkapi.DefaultQuota.TextBytes},
	} {
		if !serving && command != "import" {
			break
		}
		if err := positive(env, l.name, l.def, l.dst); err != nil {
			return nil, err
		}
	}
	// Serve and the commands that change accounts (which tell the running
	// instances) read the Redis URL.
	switch command {
	case "serve", "account set-scopes", "account set-password", "account delete":
		if cfg.RedisURL, err = redisURL(getenv("LINKAPI_REDIS_URL"), cfg.DatabaseURL); err != nil {
			return nil, err
		}
	}
	// The rest is serve's alone: the other commands neither read nor check it.
	if !serving {
		return cfg, nil
	}
	if cfg.TokenTTL, err = time.ParseDuration(*ttl); err != nil || cfg.TokenTTL <= 0 {
		return nil, fmt.Errorf("LINKAPI_TOKEN_TTL: %q is not a positive duration such as 15m", *ttl)
	}
	if cfg.Grace, err = time.ParseDuration(*grace); err != nil || cfg.Grace < 0 {
		return nil, fmt.Errorf("LINKAPI_SHUTDOWN_GRACE: %q is not a duration such as 20s", *grace)
	}
	if cfg.DrainDelay, err = time.ParseDuration(env("LINKAPI_DRAIN_DELAY", time.Duration(defaultDrainDelay).String())); err != nil || cfg.DrainDelay < 0 {
		return nil, fmt.Errorf("LINKAPI_DRAIN_DELAY: %q is not a duration such as 10s", getenv("LINKAPI_DRAIN_DELAY"))
	}
	if cfg.TrustedProxies, err = auth.ParseTrustedProxies(getenv("LINKAPI_TRUSTED_PROXIES")); err != nil {
		return nil, fmt.Errorf("LINKAPI_TRUSTED_PROXIES: %v", err)
	}
	if cfg.RequestTimeout, err = time.ParseDuration(env("LINKAPI_REQUEST_TIMEOUT", defaultRequestTimeout.String())); err != nil || cfg.RequestTimeout <= 0 {
		return nil, fmt.Errorf("LINKAPI_REQUEST_TIMEOUT: %q is not a positive duration such as 10s", getenv("LINKAPI_REQUEST_TIMEOUT"))
	}
	if cfg.AccountCacheTTL, err = time.ParseDuration(env("LINKAPI_ACCOUNT_CACHE_TTL", store.AccountCacheTTL.String())); err != nil || cfg.AccountCacheTTL < 0 || cfg.AccountCacheTTL > time.Minute {
		return nil, fmt.Errorf("LINKAPI_ACCOUNT_CACHE_TTL: %q is not a duration from 0s to 1m", getenv("LINKAPI_ACCOUNT_CACHE_TTL"))
	}
	for _, l := range []struct {
		name string
		dst  *int
		def  int
	}{
		{"LINKAPI_MAX_DEPTH", &cfg.MaxDepth, graph.MaxDepth},
		{"LINKAPI_MAX_COMPLEXITY", &cfg.MaxComplexity, graph.MaxComplexity},
		{"LINKAPI_MAX_ALIASES", &cfg.MaxAliases, graph.MaxAliases},
		{"LINKAPI_MAX_DOCUMENT_BYTES", &cfg.Budget.DocumentBytes, graph.DefaultBudget.DocumentBytes},
		{"LINKAPI_MAX_TOKENS", &cfg.Budget.Tokens, graph.DefaultBudget.Tokens},
		{"LINKAPI_MAX_SELECTIONS", &cfg.Budget.Selections, graph.DefaultBudget.Selections},
		{"LINKAPI_MAX_FIELD_REPEATS", &cfg.Budget.Repeats, graph.DefaultBudget.Repeats},
		{"LINKAPI_MAX_FRAGMENTS", &cfg.Budget.Fragments, graph.DefaultBudget.Fragments},
		{"LINKAPI_MAX_OPERATIONS", &cfg.Budget.Operations, graph.DefaultBudget.Operations},
		{"LINKAPI_MAX_DIRECTIVES", &cfg.Budget.Directives, graph.DefaultBudget.Directives},
		{"LINKAPI_MAX_VARIABLES", &cfg.Budget.Variables, graph.DefaultBudget.Variables},
		{"LINKAPI_MAX_VARIABLE_VALUES", &cfg.Budget.VariableValues, graph.DefaultBudget.VariableValues},
		{"LINKAPI_MAX_ERRORS", &cfg.Budget.Errors, graph.DefaultBudget.Errors},
	} {
		if err := positive(env, l.name, l.def, l.dst); err != nil {
			return nil, err
		}
	}
	for _, l := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"LINKAPI_REFRESH_TTL", &cfg.RefreshTTL, auth.DefaultRefreshTTL},
		{"LINKAPI_SESSION_MAX_AGE", &cfg.SessionMaxAge, auth.DefaultSessionMaxAge},
	} {
		v := env(l.name, l.def.String())
		if *l.dst, err = time.ParseDuration(v); err != nil || *l.dst <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive duration such as %s", l.name, v, l.def)
		}
	}
	if cfg.RefreshTTL > cfg.SessionMaxAge {
		return nil, fmt.Errorf("LINKAPI_REFRESH_TTL (%s) is longer than LINKAPI_SESSION_MAX_AGE (%s)", cfg.RefreshTTL, cfg.SessionMaxAge)
	}
	rate := env("LINKAPI_RATE_LIMIT", "0")
	if cfg.RateLimit, err = strconv.Atoi(rate); err != nil || cfg.RateLimit < 0 {
		return nil, fmt.Errorf("LINKAPI_RATE_LIMIT: %q is not a whole number of requests a minute (0 for no limit)", rate)
	}
	if cfg.Pages, err = pagemeta.ConfigFromEnv(getenv); err != nil {
		return nil, err
	}
	cfg.Pages.Options.Timeout = fetchBudget(cfg.Pages.Options.Timeout, cfg.RequestTimeout)
	if cfg.Anonymous, err = anonymousLimits(env); err != nil {
		return nil, err
	}
	cfg.GraphiQL = !cfg.Production
	if v := getenv("LINKAPI_GRAPHIQL"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("LINKAPI_GRAPHIQL: %q is not true or false", v)
		}
		cfg.GraphiQL = on
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			if err := checkOrigin(o); err != nil {
				return nil, err
			}
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	if len(cfg.CORSOrigins) > 1 && slices.Contains(cfg.CORSOrigins, "*") {
		return nil, errors.New("LINKAPI_CORS_ORIGINS: * stands alone, without other origins")
	}
	return cfg, nil
}

// positive reads the variable name, a whole number above zero (def when unset),
// into dst.
func positive(env func(name, def string) string, name string, def int, dst *int) error {
	v := env(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("%s: %q is not a positive whole number", name, v)
	}
	*dst = n
	return nil
}

// anonymousLimits reads LINKAPI_ANON_CONCURRENCY and
// LINKAPI_ANON_CONCURRENCY_PER_ADDR, whole numbers where 0 means no bound. The
// total defaults to half the CPUs (at least 1), one address to half the total
// (at least 1).
func anonymousLimits(env func(name, def string) string) (server.AnonymousLimits, error) {
	l := server.DefaultAnonymousLimits()
	read := func(name string, def int) (int, error) {
		v := env(name, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: %q is not a whole number (0 for no bound)", name, v)
		}
		return n, nil
	}
	var err error
	if l.Total, err = read("LINKAPI_ANON_CONCURRENCY", l.Total); err != nil {
		return l, err
	}
	if l.Total > 0 {
		l.PerAddr = max(1, l.Total/2)
	}
	if l.PerAddr, err = read("LINKAPI_ANON_CONCURRENCY_PER_ADDR", l.PerAddr); err != nil {
		return l, err
	}
	return l, nil
}

// previousSecrets reads LINKAPI_JWT_PREVIOUS_SECRETS: comma-separated keys, each
// at least auth.MinSecretLen bytes, blanks around them ignored. An error names a
// key by its place in the list, never by its value.
func previousSecrets(v string) ([][]byte, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	keys := make([][]byte, 0, len(parts))
	for i, k := range parts {
		k = strings.TrimSpace(k)
		if len(k) < auth.MinSecretLen {
			return nil, fmt.Errorf("LINKAPI_JWT_PREVIOUS_SECRETS: key %d of %d is shorter than %d bytes", i+1, len(parts), auth.MinSecretLen)
		}
		keys = append(keys, []byte(k))
	}
	return keys, nil
}

// oidcConfig is LINKAPI_OIDC_*.
type oidcConfig struct {
	Issuer, Audience string
	AutoCreate       bool
	DefaultScopes    []string
}

// loadOIDC reads and checks LINKAPI_OIDC_ISSUER (https, or http on a loopback
// address), LINKAPI_OIDC_AUDIENCE (required with an issuer),
// LINKAPI_OIDC_AUTO_CREATE and LINKAPI_OIDC_DEFAULT_SCOPES (known scopes;
// default the scopes of account create). Each needs the issuer.
func loadOIDC(getenv func(string) string) (oidcConfig, error) {
	c := oidcConfig{Issuer: strings.TrimSpace(getenv("LINKAPI_OIDC_ISSUER")), Audience: strings.TrimSpace(getenv("LINKAPI_OIDC_AUDIENCE"))}
	if c.Issuer == "" {
		for _, name := range []string{"LINKAPI_OIDC_AUDIENCE", "LINKAPI_OIDC_AUTO_CREATE", "LINKAPI_OIDC_DEFAULT_SCOPES"} {
			if getenv(name) != "" {
				return c, fmt.Errorf("%s is set but LINKAPI_OIDC_ISSUER is not", name)
			}
		}
		return c, nil
	}
	if err := auth.CheckOIDCURL("LINKAPI_OIDC_ISSUER", c.Issuer); err != nil {
		return c, err
	}
	if c.Audience == "" {
		return c, errors.New("LINKAPI_OIDC_AUDIENCE is required with LINKAPI_OIDC_ISSUER: the aud your provider puts in tokens for linkapi")
	}
	if v := getenv("LINKAPI_OIDC_AUTO_CREATE"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("LINKAPI_OIDC_AUTO_CREATE: %q is not true or false", v)
		}
		c.AutoCreate = on
	}
	c.DefaultScopes = auth.DefaultScopes
	if v := getenv("LINKAPI_OIDC_DEFAULT_SCOPES"); v != "" {
		scopes, err := auth.ParseScopeString(v)
		if err != nil {
			return c, fmt.Errorf("LINKAPI_OIDC_DEFAULT_SCOPES: %s", linkapi.ErrorMessage(err))
		}
		c.DefaultScopes = scopes
	}
	return c, nil
}

// redisURL vets LINKAPI_REDIS_URL: a redis:// or rediss:// URL, and only with a
// MySQL database. Redis shares state between instances, and a SQLite database
// serves one instance on one machine: sharing its limits and caches through
// Redis would suggest a deployment that does not work.
func redisURL(v, databaseURL string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return "", errors.New("LINKAPI_REDIS_URL: want redis://[:PASS@]HOST:PORT[/DB] or rediss://... for TLS")
	}
	if !strings.HasPrefix(databaseURL, "mysql:") {
		return "", errors.New("LINKAPI_REDIS_URL is for several instances on one MySQL or MariaDB database; a SQLite database serves a single instance, which needs no Redis")
	}
	return v, nil
}

// checkSecret refuses, before serve opens the database, a MySQL database without
// a LINKAPI_JWT_SECRET (loadConfig has refused one that is too short).
func checkSecret(cfg *config) error {
	if cfg.JWTSecret == "" && strings.HasPrefix(cfg.DatabaseURL, "mysql:") {
		return errors.New("LINKAPI_JWT_SECRET is required with a MySQL database (at least 32 bytes, e.g. from `openssl rand -hex 32`)")
	}
	return nil
}

// jwtSecret returns the signing key: LINKAPI_JWT_SECRET when set; on SQLite,
// otherwise, a random key kept beside the database file (mode 0600), made on
// first use. keyFile names that file when the key came from it, and made says
// whether it was made just now. MySQL has no such default: a cluster of servers
// must share one key.
func jwtSecret(cfg *config) (secret []byte, keyFile string, made bool, err error) {
	if err := checkSecret(cfg); err != nil {
		return nil, "", false, err
	}
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), "", false, nil
	}
	path := strings.TrimPrefix(cfg.DatabaseURL, "sqlite:")
	path, _, _ = strings.Cut(path, "?")
	path += ".jwt-secret"
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
			return nil, "", false, fmt.Errorf("%s is open to other users (mode %04o); chmod 600 it", path, info.Mode().Perm())
		}
		key := strings.TrimSpace(string(b))
		if len(key) < auth.MinSecretLen {
			return nil, "", false, fmt.Errorf("%s holds a key shorter than %d bytes; delete it to make a new one", path, auth.MinSecretLen)
		}
		return []byte(key), path, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", false, fmt.Errorf("reading the JWT key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", false, err
	}
	key := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return nil, "", false, fmt.Errorf("writing the JWT key: %w", err)
	}
	return []byte(key), path, true, nil
}

// checkOrigin accepts "*" or an origin: http or https, a host, an optional port,
// and nothing else.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("LINKAPI_CORS_ORIGINS: %q is not an origin such as https://app.example.com", o)
	}
	return nil
}

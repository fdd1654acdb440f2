// Command linkapi serves the linkapi GraphQL API and manages its database and
// accounts. With no command it serves.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"linkapi/graph"
	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/pagemeta"
	"linkapi/internal/safehttp"
	"linkapi/internal/server"
	"linkapi/internal/store"
	"linkapi/internal/webhooks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &Program{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := p.Run(ctx, os.Args[1:]); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
		case os.Getenv("LINKAPI_ENV") == "production":
			slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error(err.Error())
		default:
			fmt.Fprintln(os.Stderr, "linkapi:", err)
		}
		os.Exit(2)
	}
}

// Program is one run of the command, with its input, output and environment, so
// that tests run the real thing in-process.
type Program struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Listening, when set, is told the address serve listens on.
	Listening func(addr string)
	// Opened, when set, is given the database serve opened, before it serves.
	Opened func(db *store.DB)
	// Pruned, when set, is told what each pruning of the change feed did.
	Pruned func(deleted int64, err error)
	// FailureLimits, when set, replaces auth.DefaultFailureLimits, for tests.
	FailureLimits *auth.FailureLimits
	// Webhooks, when set, adjusts the webhook worker's configuration (its
	// clock, backoff and guard), for tests.
	Webhooks func(*webhooks.Config)
	// GenericLists has gqlgen's executor answer every field, root links lists
	// included (graph.Options.GenericLists); tests compare the two answers.
	GenericLists bool
	// FetchGuard, when set, configures the outbound client of page fetches in
	// place of the production guard. Only tests set it: its Resolver answers
	// their made-up host names and its Allow lets them reach their own pages on
	// loopback, which the production guard refuses.
	FetchGuard *safehttp.Options

	// draining is set once serve has been told to stop and fails /readyz.
	draining atomic.Bool
}

// Run runs the command named by args. It returns an error with a one-line message
// for any failure; asked for help (help, -h, --help), it prints it and returns nil.
func (p *Program) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		args = append([]string{"serve"}, args...)
	}
	if isHelp(args[0]) || args[0] == "help" {
		if len(args) == 1 {
			printUsage(p.Stdout)
			return nil
		}
		c, rest, err := findCommand(args[1:])
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			return fmt.Errorf("help takes one command, not %q too", strings.Join(rest, " "))
		}
		args = append(strings.Fields(c.name), "--help")
	}
	c, rest, err := findCommand(args)
	if err != nil {
		return err
	}
	if err := c.run(p, ctx, rest); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// flags returns the flag set of a command. A bad flag is reported once, by the
// error Run returns, not also by the flag package with every flag listed; -h
// lists them.
func (p *Program) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("linkapi "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// open reads the configuration and opens and migrates the database. check, when
// set, vets the configuration before the database is touched.
func (p *Program) open(ctx context.Context, name string, args []string, extra func(*flag.FlagSet), check func(*config) error) (*config, *store.DB, error) {
	fs := p.flags(name)
	if extra != nil {
		extra(fs)
	}
	cfg, err := loadConfig(p.Getenv, fs, args, name)
	if errors.Is(err, flag.ErrHelp) {
		for i := range commands {
			if commands[i].name == name {
				printCommandHelp(p.Stdout, &commands[i], fs)
			}
		}
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, unknownFlag(name, fs, err)
	}
	if check != nil {
		if err := check(cfg); err != nil {
			return nil, nil, err
		}
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	return cfg, db, nil
}

func (p *Program) migrate(ctx context.Context, args []string) error {
	_, db, err := p.open(ctx, "migrate", args, nil, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	current, _, err := db.MigrationVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(p.Stdout, "database is at schema version %d\n", current)
	return nil
}

func (p *Program) serve(ctx context.Context, args []string) error {
	cfg, db, err := p.open(ctx, "serve", args, nil, checkSecret)
	if err != nil {
		return err
	}
	defer db.Close()
	if p.Opened != nil {
		p.Opened(db)
	}
	handler, closeHandler, err := p.handler(ctx, cfg, db)
	if err != nil {
		return err
	}
	defer closeHandler()
	return p.listenAndServe(ctx, cfg, handler)
}

// handler builds what serve serves on db: the GraphQL endpoint and the routes
// around it, as configured by cfg, and what closes what it opened once serving
// is over. It creates the first administrator on an empty database.
func (p *Program) handler(ctx context.Context, cfg *config, db *store.DB) (http.Handler, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	h, err := p.buildHandler(ctx, cfg, db, &closers)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return h, closeAll, nil
}

func (p *Program) buildHandler(ctx context.Context, cfg *config, db *store.DB, closers *[]func()) (http.Handler, error) {
	secret, keyFile, made, err := jwtSecret(cfg)
	if err != nil {
		return nil, err
	}
	if made {
		p.say(cfg, "LINKAPI_JWT_SECRET is not set; made a signing key and kept it in "+keyFile+" (mode 0600)", "key_file", keyFile)
	}
	if sqlite := !strings.HasPrefix(cfg.DatabaseURL, "mysql:"); cfg.Production && (sqlite || keyFile != "") {
		p.logger(cfg).Warn("production wants MySQL or MariaDB and a LINKAPI_JWT_SECRET of its own; see docs/production.md",
			"sqlite", sqlite, "key_file", keyFile)
	}
	tokens, err := auth.NewTokens(secret, cfg.TokenTTL, cfg.PreviousSecrets...)
	if err != nil {
		return nil, err
	}
	logger := p.logger(cfg)
	sh, err := openShared(ctx, cfg, logger, closers)
	if err != nil {
		return nil, err
	}
	st := store.NewWithAccountCache(db, cfg.AccountCacheTTL, append(sh.storeOptions(), store.WithQuota(cfg.Quota), store.WithLogger(logger))...)
	sh.start(st, closers)
	if err := p.bootstrapAdmin(ctx, cfg, st); err != nil {
		return nil, err
	}
	go p.pruneChanges(ctx, logger, st)
	hooks := p.startWebhooks(ctx, logger, st, closers)
	metrics := server.NewMetrics(db.SQL())
	metrics.Registry.MustRegister(db.Collector())
	sh.register(metrics)
	failureLimits := auth.DefaultFailureLimits()
	if p.FailureLimits != nil {
		failureLimits = *p.FailureLimits
	}
	authn := &auth.Authenticator{Store: st, Tokens: tokens, Hashing: auth.DefaultHashing(), APITokens: st,
		Sessions: st, SessionLimits: linkapi.SessionLimits{Refresh: cfg.RefreshTTL, MaxAge: cfg.SessionMaxAge},
		Failures: sh.failures(failureLimits)}
	if cfg.OIDC.Issuer != "" {
		oidc, err := auth.NewOIDC(ctx, auth.OIDCConfig{
			Issuer: cfg.OIDC.Issuer, Audience: cfg.OIDC.Audience, Logger: logger,
			FetchTimeout: min(auth.DefaultOIDCFetchTimeout, cfg.RequestTimeout/2),
		})
		if err != nil {
			return nil, err
		}
		authn.External, authn.ExternalAccounts = oidc, st
		authn.AutoCreate, authn.AutoCreateScopes = cfg.OIDC.AutoCreate, cfg.OIDC.DefaultScopes
	}
	es := graph.NewSchema(&graph.Resolver{
		LinkService: st, TagService: st, AccountService: st, APITokenService: st, ImportService: st,
		ChangeService: st, BulkService: st, SessionService: st, Auth: authn, Pages: p.pages(cfg),
		FetchBudget:    cfg.Pages.Options.Timeout,
		WebhookService: &webhooks.Service{Store: st, Net: hooks.Net},
	})
	gql, err := graph.NewHandler(es, logger, graph.Options{
		Production: cfg.Production, Observer: metrics, RequestID: server.RequestID,
		MaxDepth: cfg.MaxDepth, MaxComplexity: cfg.MaxComplexity, MaxAliases: cfg.MaxAliases,
		Budget: cfg.Budget, APQCache: sh.apq(), GenericLists: p.GenericLists,
	})
	if err != nil {
		return nil, err
	}
	return server.New(server.Config{
		GraphQL:        gql,
		Authenticator:  authn,
		Ready:          p.ready(db),
		CORSOrigins:    cfg.CORSOrigins,
		Logger:         logger,
		GraphiQL:       cfg.GraphiQL,
		Metrics:        metrics,
		ProtectMetrics: cfg.Production,
		TrustedProxies: cfg.TrustedProxies,
		RequestTimeout: cfg.RequestTimeout,
		Anonymous:      cfg.Anonymous,
		RateLimiter:    sh.requests(cfg.RateLimit),
	}), nil
}

// startWebhooks starts the webhook worker on st and returns its configuration.
// It stops with the server: ctx's end, or the closer it adds, cancels its
// attempts under way, which go back to the outbox, and the closer waits until it
// has stopped.
func (p *Program) startWebhooks(ctx context.Context, logger *slog.Logger, st *store.Store, closers *[]func()) webhooks.Config {
	cfg := webhooks.Config{Logger: logger}
	if p.Webhooks != nil {
		p.Webhooks(&cfg)
	}
	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = webhooks.NewWorker(st, cfg).Run(ctx)
	}()
	*closers = append(*closers, func() { cancel(); <-stopped })
	return cfg
}

// pages returns the fetcher of page metadata, at most pagemeta.DefaultPerCaller
// fetches at once per account and pagemeta.DefaultTotal in all; nil when
// LINKAPI_FETCH_METADATA=false.
func (p *Program) pages(cfg *config) pagemeta.Fetcher {
	if !cfg.Pages.Enabled {
		return nil
	}
	pc := cfg.Pages
	if p.FetchGuard != nil {
		pc.Guard = *p.FetchGuard
	}
	return pagemeta.Limit(pagemeta.New(pc), pagemeta.Limits{}, func(ctx context.Context) string {
		if c := auth.FromContext(ctx); c != nil {
			return strconv.FormatInt(c.AccountID, 10)
		}
		return ""
	})
}

// errDraining is /readyz's answer while serve drains.
var errDraining = &notReady{"draining: this instance is shutting down"}

type notReady struct{ reason string }

func (e *notReady) Error() string       { return e.reason }
func (e *notReady) ReadyReason() string { return e.reason }

// ready is /readyz's check: the database's, and not draining.
func (p *Program) ready(db *store.DB) func(context.Context) error {
	return func(ctx context.Context) error {
		if p.draining.Load() {
			return errDraining
		}
		return db.Ready(ctx)
	}
}

// newHTTPServer bounds every phase of a connection, so that a slow or idle client
// (slowloris) cannot hold the server's connections and memory.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// listenAndServe serves until ctx ends (SIGTERM or SIGINT), then drains: for
// cfg.DrainDelay /readyz fails, so that a balancer that follows it stops sending
// requests here, while every request is still served (on connections closed
// after their answer); a second SIGTERM or SIGINT ends the drain early. Then it
// stops accepting and lets requests in flight finish within the grace period.
func (p *Program) listenAndServe(ctx context.Context, cfg *config, h http.Handler) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr, err)
	}
	srv := newHTTPServer(p.closeWhileDraining(h))
	graphqlURL := fmt.Sprintf("http://%s/graphql", ln.Addr())
	if cfg.GraphiQL {
		p.say(cfg, fmt.Sprintf("serving GraphQL on %s and GraphiQL on http://%s/", graphqlURL, ln.Addr()),
			"graphql", graphqlURL, "graphiql", fmt.Sprintf("http://%s/", ln.Addr()))
	} else {
		p.say(cfg, "serving GraphQL on "+graphqlURL, "graphql", graphqlURL)
	}
	if p.Listening != nil {
		p.Listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if cfg.DrainDelay > 0 {
		p.drain(cfg)
	}
	p.say(cfg, fmt.Sprintf("shutting down; requests in flight have %s to finish", cfg.Grace), "grace", cfg.Grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: requests still in flight after %s were cut off", cfg.Grace)
	}
	p.say(cfg, "stopped")
	return nil
}

// drain fails /readyz and keeps serving for cfg.DrainDelay, or until another
// SIGTERM or SIGINT.
func (p *Program) drain(cfg *config) {
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	p.draining.Store(true)
	p.say(cfg, fmt.Sprintf("draining: /readyz fails for %s before shutting down (signal again to stop sooner)", cfg.DrainDelay),
		"drain_delay", cfg.DrainDelay.String())
	t := time.NewTimer(cfg.DrainDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-again:
	}
}

// closeWhileDraining has every response given while serve drains close its
// connection (Connection: close), so that a client, a balancer's pool among
// them, sends its next request on a new connection, to an instance the balancer
// still finds ready. A connection idle when the drain begins stays open until
// the shutdown: closing it then, as http.Server.SetKeepAlivesEnabled(false)
// does, races with a request the balancer is sending on it, which gets a reset
// and no answer.
func (p *Program) closeWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// logger is serve's log: JSON in production, text in development.
func (p *Program) logger(cfg *config) *slog.Logger {
	if cfg.Production {
		return slog.New(slog.NewJSONHandler(p.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(p.Stderr, nil))
}

// say writes one of serve's own lines: "linkapi: text" for a person in
// development, a JSON record with msg and attrs in production, where every line
// the server writes is JSON.
func (p *Program) say(cfg *config, text string, attrs ...any) {
	if cfg.Production {
		p.logger(cfg).Info(text, attrs...)
		return
	}
	fmt.Fprintln(p.Stderr, "linkapi: "+text)
}

// AdminEmail is the account serve creates on a fresh, empty database.
const AdminEmail = "admin@localhost"

// bootstrapAdmin creates AdminEmail with admin:write and a random password,
// printed once, when the database has no account at all. Of instances that start
// at once on an empty database, each may find no account, but the unique email
// lets one create it: the others are refused with CONFLICT and go on.
func (p *Program) bootstrapAdmin(ctx context.Context, cfg *config, st *store.Store) error {
	n, err := st.CountAllAccounts(ctx)
	if err != nil || n > 0 {
		return err
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	password := base64.RawURLEncoding.EncodeToString(raw)
	_, err = st.CreateAccount(auth.NewContext(ctx, auth.System()), linkapi.AccountCreate{
		Email: AdminEmail, Password: password, Scopes: []string{auth.AdminWrite},
	})
	if linkapi.ErrorCode(err) == linkapi.ECONFLICT {
		p.say(cfg, fmt.Sprintf("fresh database: %s was just created by another instance", AdminEmail), "email", AdminEmail)
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating the first administrator: %w", err)
	}
	p.say(cfg, fmt.Sprintf("fresh database: created %s with scope admin:write and password %s (shown only this once)", AdminEmail, password),
		"email", AdminEmail, "password", password)
	return nil
}

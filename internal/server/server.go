// Package server is the HTTP side of linkapi: routes, bearer authentication, CORS,
// request limits, logging and the health endpoints around the GraphQL handler.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/rs/cors"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/server/graphiql"
)

// MaxBodyBytes bounds a request body; a GraphQL document has no business being
// larger. MaxAnonymousBodyBytes bounds the body of a request without a token,
// which can only log in or read the schema.
const (
	MaxBodyBytes          = 1 << 20
	MaxAnonymousBodyBytes = 64 << 10
)

// Config is what the handler needs from the rest of the program.
type Config struct {
	GraphQL       http.Handler
	Authenticator *auth.Authenticator
	// Ready reports whether the instance should get traffic, for /readyz. An
	// error with a ReadyReason() string method says why in /readyz's answer;
	// any other is logged only.
	Ready       func(ctx context.Context) error
	CORSOrigins []string
	Logger      *slog.Logger
	// GraphiQL serves the GraphiQL page on /.
	GraphiQL bool
	// Metrics, when set, is served on /metrics and counts requests.
	Metrics *Metrics
	// ProtectMetrics asks /metrics callers for a bearer token with admin:read.
	ProtectMetrics bool
	// TrustedProxies are the peers whose X-Forwarded-For names the client; with
	// none, the client is the socket's peer.
	TrustedProxies []netip.Prefix
	// RequestTimeout, when positive, is the deadline of each GraphQL request; the
	// database work of a request past it is cancelled.
	RequestTimeout time.Duration
	// Anonymous bounds the GraphQL requests without a token that run at once; the
	// zero value bounds nothing.
	Anonymous AnonymousLimits
	// RateLimiter, when set, limits the GraphQL requests of each account or API
	// token (LINKAPI_RATE_LIMIT).
	RateLimiter auth.RateLimiter
}

// New returns the root handler: /graphql, the OAuth 2.0 token endpoint and its
// metadata, GraphiQL on / when enabled (its files under /graphiql/, served from
// the binary), /healthz, /readyz and /metrics.
func New(cfg Config) http.Handler {
	mux := http.NewServeMux()
	// An anonymous request takes its slot only once its body is read, so that a
	// slow upload holds no slot; a request with a bad token is refused before.
	mux.Handle("/graphql", deadline(cfg.RequestTimeout,
		clientAddr(cfg.TrustedProxies, authenticate(cfg.Authenticator, cfg.Logger,
			limitRate(cfg.RateLimiter, limitBody(limitAnonymous(newAnonLimiter(cfg.Anonymous), cfg.GraphQL)))))))
	mux.Handle(TokenPath, deadline(cfg.RequestTimeout,
		clientAddr(cfg.TrustedProxies, tokenEndpoint(cfg.Authenticator, cfg.Metrics, cfg.Logger))))
	mux.HandleFunc("GET "+MetadataPath, metadata)
	if cfg.GraphiQL {
		gi := graphiql.Handler()
		mux.Handle("GET /{$}", gi)
		mux.Handle("GET /graphiql/", gi)
	}
	if cfg.Metrics != nil {
		var metrics http.Handler = cfg.Metrics.Handler()
		if cfg.ProtectMetrics {
			metrics = authenticate(cfg.Authenticator, cfg.Logger, requireScope(auth.AdminRead, metrics))
		}
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Ready(ctx); err != nil {
			cfg.Logger.WarnContext(ctx, "not ready", "err", err)
			body := map[string]string{"status": "unavailable"}
			var r interface{ ReadyReason() string }
			if errors.As(err, &r) {
				body["reason"] = r.ReadyReason()
			}
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	var h http.Handler = mux
	if len(cfg.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: cfg.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type", "Accept"},
			MaxAge:         600,
		}).Handler(h)
	}
	return logRequests(cfg.Logger, cfg.Metrics, h)
}

// limitBody reads the request body up front, at most MaxBodyBytes of it
// (MaxAnonymousBodyBytes without a caller), so that a larger one is answered 413
// here instead of failing inside the GraphQL handler.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(MaxBodyBytes)
		if auth.FromContext(r.Context()) == nil {
			limit = MaxAnonymousBodyBytes
		}
		if r.ContentLength > limit {
			tooLarge(w, r, limit)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var maxErr *http.MaxBytesError
		switch {
		case errors.As(err, &maxErr):
			tooLarge(w, r, limit)
			return
		case err != nil:
			writeGraphQLError(w, r, http.StatusBadRequest, "could not read the request body", "BAD_REQUEST")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	w.Header().Set("Connection", "close")
	writeGraphQLError(w, r, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("request body is larger than %d bytes", limit), "BAD_USER_INPUT")
}

// deadline bounds the time a request may take, database work included.
func deadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireScope lets through only a caller (set by authenticate) holding scope:
// 401 without a token, 403 with one that lacks it.
func requireScope(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth.FromContext(r.Context())
		switch {
		case c == nil:
			w.Header().Set("WWW-Authenticate", `Bearer`)
			writeGraphQLError(w, r, http.StatusUnauthorized, "a bearer token is required", "UNAUTHENTICATED")
		case !c.Has(scope):
			writeGraphQLError(w, r, http.StatusForbidden, "missing scope "+scope, "FORBIDDEN")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// clientAddr puts the client's address in the request context, for the limits on
// failed logins and on anonymous requests, and its User-Agent, which sessions
// record.
func clientAddr(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithClientAddr(r.Context(), auth.RequestClientAddr(r, trusted))
		next.ServeHTTP(w, r.WithContext(auth.WithUserAgent(ctx, r.UserAgent())))
	})
}

// authenticate puts the caller of a valid bearer token in the request context. No
// Authorization header means an anonymous caller; a header that is present but bad
// is refused with 401 before any GraphQL runs.
func authenticate(a *auth.Authenticator, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			refuse(w, r, "authorization header must be Bearer <token>")
			return
		}
		caller, err := a.Authenticate(r.Context(), strings.TrimSpace(token))
		switch linkapi.ErrorCode(err) {
		case "":
			if rec := recordFrom(r.Context()); rec != nil {
				rec.set(func(l *record) { l.accountID = caller.AccountID })
			}
			next.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), caller)))
		case linkapi.EUNAUTHENTICATED:
			refuse(w, r, linkapi.ErrorMessage(err))
		default:
			if errors.Is(err, context.DeadlineExceeded) {
				writeGraphQLError(w, r, http.StatusServiceUnavailable, "the request took longer than the server allows", "TIMEOUT")
				return
			}
			logger.ErrorContext(r.Context(), "authenticating a request", "err", err)
			writeGraphQLError(w, r, http.StatusInternalServerError, "internal server error", "INTERNAL_SERVER_ERROR")
		}
	})
}

func refuse(w http.ResponseWriter, r *http.Request, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeGraphQLError(w, r, http.StatusUnauthorized, message, "UNAUTHENTICATED")
}

// writeGraphQLError answers with a GraphQL response holding one error, so that
// clients read it like any other.
func writeGraphQLError(w http.ResponseWriter, r *http.Request, status int, message, code string) {
	writeGraphQLErrorWith(w, r, status, message, map[string]any{"code": code})
}

// writeGraphQLErrorWith is writeGraphQLError with more extensions than the code.
func writeGraphQLErrorWith(w http.ResponseWriter, r *http.Request, status int, message string, extensions map[string]any) {
	if rec := recordFrom(r.Context()); rec != nil {
		code, _ := extensions["code"].(string)
		rec.set(func(l *record) { l.refused = code })
	}
	writeJSON(w, status, map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": extensions}},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

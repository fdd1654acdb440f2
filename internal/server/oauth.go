package server

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
)

// Paths of the OAuth 2.0 token endpoint (RFC 6749 3.2) and of its metadata
// (RFC 8414 3).
const (
	TokenPath    = "/oauth/token"
	MetadataPath = "/.well-known/oauth-authorization-server"
)

// oauthError is an error answer of the token endpoint (RFC 6749 5.2).
type oauthError struct {
	status int
	code   string // invalid_request, invalid_grant, ...
	desc   string
	// refused is the linkapi code the request is logged and counted under.
	refused    string
	retryAfter time.Duration
}

func badRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: desc, refused: "BAD_REQUEST"}
}

// tokenEndpoint serves POST /oauth/token: the password grant (RFC 6749 4.3) and
// the refresh_token grant (6), through the same Authenticator as login and
// refreshSession, with the same failure limits. Answers carry Cache-Control:
// no-store and Pragma: no-cache (5.1).
func tokenEndpoint(a *auth.Authenticator, m *Metrics, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		issued, oerr := token(a, m, r)
		if oerr == nil {
			writeJSON(w, http.StatusOK, map[string]any{
				"access_token":  issued.AccessToken,
				"token_type":    issued.TokenType,
				"expires_in":    int64(math.Round(issued.ExpiresAt.Sub(issued.IssuedAt).Seconds())),
				"refresh_token": issued.RefreshToken,
				"scope":         strings.Join(issued.Scopes, " "),
			})
			return
		}
		if oerr.code == "server_error" {
			logger.ErrorContext(r.Context(), "token endpoint", "err", oerr.desc)
			oerr.desc = "internal server error"
		}
		if rec := recordFrom(r.Context()); rec != nil {
			rec.set(func(l *record) { l.refused = oerr.refused })
		}
		if oerr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="linkapi"`)
		}
		if oerr.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(oerr.retryAfter.Seconds())), 10))
		}
		writeJSON(w, oerr.status, map[string]string{"error": oerr.code, "error_description": oerr.desc})
	})
}

// token reads a token request and runs its grant.
func token(a *auth.Authenticator, m *Metrics, r *http.Request) (*auth.Issued, *oauthError) {
	if r.Method != http.MethodPost {
		return nil, badRequest("the token endpoint takes POST")
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, badRequest("the body must be application/x-www-form-urlencoded")
	}
	if _, _, ok := r.BasicAuth(); ok {
		// No confidential client is registered, so none can authenticate.
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client",
			desc: "no client is registered; send client_id alone, or nothing", refused: "UNAUTHENTICATED"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxAnonymousBodyBytes)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("the body is not a form of at most 64 KiB")
	}
	form := r.PostForm
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, badRequest("parameter " + name + " is given more than once")
		}
	}
	var scopes []string
	if form.Has("scope") {
		scopes = auth.SplitScopes(form.Get("scope"))
		if len(scopes) == 0 {
			return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: "scope is empty", refused: "BAD_USER_INPUT"}
		}
	}
	ctx := r.Context()
	switch grant := form.Get("grant_type"); grant {
	case "":
		return nil, badRequest("grant_type is required")
	case "password":
		username, password := form.Get("username"), form.Get("password")
		if username == "" || password == "" {
			return nil, badRequest("username and password are required")
		}
		issued, err := a.Login(ctx, username, password, scopes)
		if m != nil {
			outcome := "ok"
			if err != nil {
				outcome = linkapi.ErrorCode(err)
			}
			m.Login(ctx, outcome)
		}
		return issued, grantError(err)
	case "refresh_token":
		refresh := form.Get("refresh_token")
		if refresh == "" {
			return nil, badRequest("refresh_token is required")
		}
		issued, err := a.Refresh(ctx, refresh, scopes)
		return issued, grantError(err)
	default:
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			desc: "grant_type must be password or refresh_token", refused: "BAD_REQUEST"}
	}
}

// grantError maps an error of Login or Refresh to its RFC 6749 5.2 answer.
func grantError(err error) *oauthError {
	if err == nil {
		return nil
	}
	code := linkapi.ErrorCode(err)
	switch code {
	case linkapi.EUNAUTHENTICATED:
		return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: linkapi.ErrorMessage(err), refused: code}
	case linkapi.EINVALID, linkapi.EFORBIDDEN:
		return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: linkapi.ErrorMessage(err), refused: code}
	case linkapi.ERATELIMITED:
		return &oauthError{status: http.StatusTooManyRequests, code: "temporarily_unavailable", desc: linkapi.ErrorMessage(err),
			refused: code, retryAfter: linkapi.RetryAfter(err)}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
			desc: "the request took longer than the server allows", refused: "TIMEOUT"}
	}
	return &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: err.Error(), refused: "INTERNAL_SERVER_ERROR"}
}

// metadata serves the authorization server metadata (RFC 8414) describing the
// token endpoint. The issuer is the origin the request was sent to.
func metadata(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	issuer := scheme + "://" + r.Host
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                issuer,
		"token_endpoint":                        issuer + TokenPath,
		"grant_types_supported":                 []string{"password", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"response_types_supported":              []string{},
		"scopes_supported":                      auth.AllScopes,
	})
}

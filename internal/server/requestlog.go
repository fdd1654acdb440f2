package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// record gathers, over one request, what its log line reports; the GraphQL
// observer and the authentication middleware fill in their parts.
type record struct {
	mu        sync.Mutex
	requestID string
	accountID int64
	operation string
	outcome   string
	// refused is the code of the error the server answered itself, before any
	// GraphQL ran (401, 413, 429, ...).
	refused string
}

func (r *record) set(f func(*record)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

type recordKey struct{}

func recordFrom(ctx context.Context) *record {
	rec, _ := ctx.Value(recordKey{}).(*record)
	return rec
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if rec := recordFrom(ctx); rec != nil {
		return rec.requestID
	}
	return ""
}

// A client's X-Request-Id is kept when it looks like one; otherwise the server
// makes its own.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

func newRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); requestIDPattern.MatchString(id) {
		return id
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type statusRecorder struct {
	http.ResponseWriter
	status  int
	written bool
}

// WriteHeader passes on the first status only, as net/http would keep it anyway.
func (s *statusRecorder) WriteHeader(code int) {
	if s.written {
		return
	}
	s.status, s.written = code, true
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

// Flush lets streaming responses through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logRequests gives each request an id (echoed in X-Request-Id) and writes one log
// line when it ends: id, method, route, status, operation name, account id,
// duration and outcome. It never logs a header, a token, a query or its variables.
func logRequests(logger *slog.Logger, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &record{requestID: newRequestID(r)}
		w.Header().Set("X-Request-Id", rec.requestID)
		sw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))

		route := routeOf(r.URL.Path)
		rec.mu.Lock()
		if m != nil {
			m.httpReqs.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
			if rec.refused != "" && rec.operation == "" {
				m.errors.WithLabelValues(rec.refused).Inc()
			}
		}
		var buf [8]slog.Attr
		attrs := append(buf[:0],
			slog.String("request_id", rec.requestID),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		)
		if rec.operation != "" {
			attrs = append(attrs, slog.String("operation", rec.operation), slog.String("outcome", rec.outcome))
		} else if rec.refused != "" {
			attrs = append(attrs, slog.String("outcome", rec.refused))
		}
		if rec.accountID != 0 {
			attrs = append(attrs, slog.Int64("account_id", rec.accountID))
		}
		rec.mu.Unlock()
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// routeOf names the route of a path for logs and metrics, so that neither grows
// with the paths clients make up.
func routeOf(path string) string {
	switch path {
	case "/graphql", "/healthz", "/readyz", "/metrics", "/", TokenPath, MetadataPath:
		return path
	}
	if len(path) > len("/graphiql/") && path[:len("/graphiql/")] == "/graphiql/" {
		return "/graphiql/"
	}
	return "other"
}

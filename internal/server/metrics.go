package server

import (
	"context"
	"database/sql"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"net/http"

	"linkapi/internal/auth"
)

// Operation-name labels are bounded: the first MaxOperationNames distinct names
// that authenticated callers send get their own label, later ones share "other",
// and unnamed operations and every operation of an anonymous caller share
// "anonymous". Names come from clients, so an unbounded label would let anyone
// grow the server's memory and the metrics store without end, and counting
// anonymous names would let anyone fill the slots with junk.
const (
	MaxOperationNames = 100
	maxNameLength     = 64
)

var operationName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Metrics holds the server's Prometheus collectors in a registry of its own, and
// implements graph.Observer.
type Metrics struct {
	Registry *prometheus.Registry

	operations *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	logins     *prometheus.CounterVec
	httpReqs   *prometheus.CounterVec

	mu    sync.Mutex
	names map[string]bool
}

// NewMetrics registers the collectors, with the pool statistics of db.
func NewMetrics(db *sql.DB) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkapi_graphql_operations_total",
			Help: "GraphQL operations by operation name and outcome (ok or the first error code).",
		}, []string{"operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "linkapi_graphql_operation_duration_seconds",
			Help:    "Time to run a GraphQL operation, by operation name.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkapi_graphql_errors_total",
			Help: "GraphQL errors by code (FORBIDDEN, RATE_LIMITED, INTERNAL_SERVER_ERROR, ...).",
		}, []string{"code"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkapi_login_attempts_total",
			Help: "Login attempts by outcome: ok, UNAUTHENTICATED, RATE_LIMITED, ...",
		}, []string{"outcome"}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "linkapi_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "status"}),
		names: map[string]bool{},
	}
	m.Registry.MustRegister(m.operations, m.latency, m.errors, m.logins, m.httpReqs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.Registry.MustRegister(collectors.NewDBStatsCollector(db, "linkapi"))
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// label returns the bounded label for an operation name sent by the caller of ctx.
func (m *Metrics) label(ctx context.Context, name string) string {
	if name == "" || auth.FromContext(ctx) == nil {
		return "anonymous"
	}
	if len(name) > maxNameLength || !operationName.MatchString(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[name] {
		return name
	}
	if len(m.names) >= MaxOperationNames {
		return "other"
	}
	m.names[name] = true
	return name
}

// Operation implements graph.Observer: it counts the operation and its errors and
// notes its name and outcome for the request's log line.
func (m *Metrics) Operation(ctx context.Context, name, outcome string, codes []string, elapsed time.Duration) {
	label := m.label(ctx, name)
	m.operations.WithLabelValues(label, outcome).Inc()
	m.latency.WithLabelValues(label).Observe(elapsed.Seconds())
	for _, c := range codes {
		m.errors.WithLabelValues(c).Inc()
	}
	if rec := recordFrom(ctx); rec != nil {
		rec.set(func(r *record) { r.operation, r.outcome = label, outcome })
	}
}

// Login implements graph.Observer.
func (m *Metrics) Login(_ context.Context, outcome string) {
	m.logins.WithLabelValues(outcome).Inc()
}

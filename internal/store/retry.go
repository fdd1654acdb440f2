package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
)

// Retrying transactions. A transaction that MySQL rolls back for a deadlock, or
// that a Galera cluster refuses at commit because a transaction on another node
// wrote the same rows first (a certification failure), fails with error 1213; a
// lock wait that runs out fails with 1205. Neither says anything about the
// request: run again, the transaction usually succeeds. inTransaction runs the
// whole transaction again, up to txAttempts times, waiting a little longer
// (with jitter) before each attempt, so that the two writers that collided do
// not collide again.
const (
	txAttempts     = 5
	txBackoffFirst = 5 * time.Millisecond
	txBackoffMax   = 200 * time.Millisecond
)

// MySQL's error numbers that inTransaction retries.
const (
	errDeadlock        = 1213 // ER_LOCK_DEADLOCK, also Galera's certification failure
	errLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT
)

// txStats counts what inTransaction retried, for /metrics.
type txStats struct {
	deadlocks, lockWaits, exhausted atomic.Int64
	// lastUsedFailures counts the best-effort writes of last_used_at that failed.
	lastUsedFailures atomic.Int64
}

// retryable returns the MySQL error number that makes err worth a new attempt,
// or 0.
func retryable(err error) uint16 {
	var me *mysqldriver.MySQLError
	if errors.As(err, &me) && (me.Number == errDeadlock || me.Number == errLockWaitTimeout) {
		return me.Number
	}
	return 0
}

// txBackoff is how long to wait before attempt n (1 for the first retry): half
// of a doubling step, capped at txBackoffMax, plus a random part of the other
// half.
func txBackoff(n int) time.Duration {
	d := txBackoffFirst << (n - 1)
	if d > txBackoffMax || d <= 0 {
		d = txBackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// inTransaction runs fn in a transaction on db, and runs it again, in a new
// transaction, when the database refuses it for a deadlock, a certification
// failure or a lock wait timeout, at most txAttempts times in all. fn must begin
// from scratch each time: whatever it changes outside the transaction it must
// set afresh at its start.
func (s *Store) inTransaction(db *gorm.DB, fn func(tx *gorm.DB) error) error {
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	for n := 1; ; n++ {
		err := db.Transaction(fn)
		code := retryable(err)
		if code == 0 {
			return err
		}
		if n == txAttempts {
			s.tx.exhausted.Add(1)
			return err
		}
		if code == errDeadlock {
			s.tx.deadlocks.Add(1)
		} else {
			s.tx.lockWaits.Add(1)
		}
		t := time.NewTimer(txBackoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Collector returns the counters of the transactions the stores on db ran
// again: linkapi_db_transaction_retries_total by MySQL error number, and
// linkapi_db_transaction_retries_exhausted_total for those still refused after
// the last attempt; and linkapi_db_last_used_write_failures_total.
func (db *DB) Collector() prometheus.Collector {
	return txCollector{db.tx}
}

var (
	txRetriesDesc = prometheus.NewDesc("linkapi_db_transaction_retries_total",
		"Transactions run again after the database refused them: error 1213 (deadlock, or a Galera certification failure) or 1205 (lock wait timeout).",
		[]string{"error"}, nil)
	txExhaustedDesc = prometheus.NewDesc("linkapi_db_transaction_retries_exhausted_total",
		"Transactions still refused with 1213 or 1205 after the last attempt; the request failed.", nil, nil)
	lastUsedDesc = prometheus.NewDesc("linkapi_db_last_used_write_failures_total",
		"Best-effort writes of an API token's last use that failed; the requests went on.", nil, nil)
)

type txCollector struct{ s *txStats }

func (c txCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- txRetriesDesc
	ch <- txExhaustedDesc
	ch <- lastUsedDesc
}

func (c txCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(txRetriesDesc, prometheus.CounterValue, float64(c.s.deadlocks.Load()), "1213")
	ch <- prometheus.MustNewConstMetric(txRetriesDesc, prometheus.CounterValue, float64(c.s.lockWaits.Load()), "1205")
	ch <- prometheus.MustNewConstMetric(txExhaustedDesc, prometheus.CounterValue, float64(c.s.exhausted.Load()))
	ch <- prometheus.MustNewConstMetric(lastUsedDesc, prometheus.CounterValue, float64(c.s.lastUsedFailures.Load()))
}

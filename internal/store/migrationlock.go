package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// Migration locking. Instances that start at once on one empty database must not
// race on CREATE TABLE, so Migrate holds a lock while it applies migrations:
//
//   - on MySQL and MariaDB, goose's table locker: one row of the goose_lock table,
//     taken with INSERT IGNORE or a conditional UPDATE in a transaction and kept by
//     a heartbeat, with a lease so that an instance that dies holding it does not
//     hold it for ever. It needs no GET_LOCK, which a Galera cluster does not
//     replicate: two nodes that take the row at once conflict at commit, and the
//     loser retries until the winner releases it;
//   - on SQLite, an exclusive flock on a file beside the database (PATH.migrate-lock),
//     which the kernel releases when the process ends. SQLite is a single-machine
//     database, so every process that opens the file can see the lock.
const (
	// migrationLease is how long the MySQL lock outlives a holder that stopped
	// renewing it (it renews it every migrationHeartbeat).
	migrationLease     = 30 * time.Second
	migrationHeartbeat = 5 * time.Second
	// migrationLockPoll is how often a waiting instance tries the lock again, and
	// migrationLockTries how many times before it gives up (five minutes).
	migrationLockPoll  = time.Second
	migrationLockTries = 300
)

// migrationLocker returns the lock Migrate holds while it migrates db, or nil
// when there is nothing to lock (an in-memory SQLite database).
func (db *DB) migrationLocker() (lock.Locker, error) {
	switch db.Dialect() {
	case DialectMySQL:
		l, err := lock.NewMySQLTableLocker(
			lock.WithTableLeaseDuration(migrationLease),
			lock.WithTableHeartbeatInterval(migrationHeartbeat),
			lock.WithTableLockTimeout(migrationLockPoll, migrationLockTries),
		)
		if err != nil {
			return nil, oneLine("database: migration lock", err)
		}
		return l, nil
	case DialectSQLite:
		if db.sqlitePath == "" {
			return nil, nil
		}
		return &fileLocker{path: db.sqlitePath + ".migrate-lock"}, nil
	}
	return nil, nil
}

// fileLocker is a lock.Locker holding an exclusive flock on a file.
type fileLocker struct {
	path string
	f    *os.File
}

// Lock waits for the lock, polling every migrationLockPoll, until ctx ends or
// migrationLockTries polls have failed.
func (l *fileLocker) Lock(ctx context.Context, _ *sql.DB) error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	for try := 0; ; try++ {
		ok, err := tryFlock(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("migration lock %s: %w", l.path, err)
		}
		if ok {
			l.f = f
			return nil
		}
		if try == migrationLockTries {
			f.Close()
			return fmt.Errorf("migration lock %s: still held by another process after %s", l.path, migrationLockPoll*migrationLockTries)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-time.After(migrationLockPoll):
		}
	}
}

// Unlock releases the lock; closing the file drops the flock.
func (l *fileLocker) Unlock(context.Context, *sql.DB) error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
